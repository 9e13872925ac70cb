"""A new backbone is one torch-free spec plus one builder: this file defines a toy conv net, registers it, trains it
for 2 steps and samples it through the command line, with nothing else in facegen naming it."""

from dataclasses import dataclass

import pytest
import torch
from torch import nn

from facegen.cli import main
from facegen.models import MODEL_REGISTRY, register_model
from facegen.models.backbone import NO_AUXILIARY, Backbone, with_auxiliary
from facegen.specs import BackboneSpec, register_backbone, unregister
from facegen.utils.bounds import POSITIVE


@dataclass
class ToyOptions:  # the model.toy section
    width: int = 8


TOY = BackboneSpec(name="toy", label="Toy", options=ToyOptions, sizes=("tiny",), bounds={"width": POSITIVE})


class ToyNet(Backbone):
    """Two convolutions with the time added in between; unconditional (no embedder), one time."""

    def __init__(self, image_size: int, in_channels: int, width: int) -> None:
        super().__init__()
        self.cond_embedder, self.in_channels, self.image_size = None, in_channels, image_size
        self.inp, self.out = nn.Conv2d(in_channels, width, 3, padding=1), nn.Conv2d(width, in_channels, 3, padding=1)
        self.time = nn.Linear(1, width)

    def forward(self, x, t, cond=None, r=None, return_aux=False):
        self.check_inputs(x, r)
        h = torch.nn.functional.silu(self.inp(x) + self.time(t[:, None].to(x.dtype))[:, :, None, None])
        return with_auxiliary(self.out(h), NO_AUXILIARY, return_aux)


def build_toy(*, image_size, in_channels, cond_embedder=None, size="tiny", width=8, grad_checkpointing=False):
    return ToyNet(image_size, in_channels, width)


@pytest.fixture
def toy():
    register_backbone(TOY)
    register_model("toy")(build_toy)
    yield
    unregister("toy")
    del MODEL_REGISTRY["toy"]


def test_a_toy_backbone_trains_and_samples_through_the_cli(toy, celeba_root, tmp_path, capsys):
    settings = ["model.name=toy", "model.size=tiny", "model.toy.width=6", "data.image_size=16", "data.max_images=16"]
    settings += ["data.num_workers=0", "train.batch_size=4", "train.max_steps=2", "train.sample_every=0"]
    settings += ["train.mixed_precision=fp32", "train.log_every=1", "sampler.steps=2", "sampler.name=euler"]
    paths = [f"data.root={celeba_root}", f"data.cache_dir={tmp_path / 'cache'}", f"output_dir={tmp_path}"]
    assert main(["train", *settings, *paths, "exp_name=toy_run"]) == 0
    run = tmp_path / "toy_run"
    assert "width: 6" in (run / "config.yaml").read_text()  # its own section, saved with the run
    assert main(["sample", "--checkpoint", str(run), "--num-samples", "2", "--out", str(tmp_path / "s")]) == 0
    assert len(list((tmp_path / "s").glob("*.png"))) >= 2
    assert main(["train", *settings, *paths, "exp_name=bad", "model.toy.width=0"]) == 2
    assert "model.toy.width=0: must be >= 1" in capsys.readouterr().err
