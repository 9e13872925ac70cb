"""A new conditioning kind is one unit and one registration: a toy kind conditioned on Smiling alone, with its own
tiny embedder, trains and samples through the command line, chosen by ``conditioning.type`` like the built-in ones."""

import json

import torch
import torch.nn as nn

from facegen.conditioning import Condition
from facegen.conditioning.attributes import attribute_matrix
from facegen.conditioning.kinds import ConditioningKind, kind_of, register_kind
from facegen.config import load_config
from facegen.data.attributes import CELEBA_ATTRIBUTES
from facegen.describe import describe_model

SMILING = CELEBA_ATTRIBUTES.index("Smiling")


class SmileEmbedder(nn.Module):
    """[B, 1] in {-1, 0, +1} (0: unspecified) -> the backbone's vector; one token for token-taking backbones."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.proj = nn.Linear(1, dim)

    def vector(self, cond: Condition) -> torch.Tensor:
        return self.proj(cond.attributes.to(self.proj.weight.dtype))

    forward = vector

    def embed(self, cond: Condition):
        vector = self.vector(cond)
        return vector[:, None], torch.ones(len(vector), 1, dtype=torch.bool, device=vector.device), vector

    def null_condition(self, batch_size: int, device=None) -> Condition:
        return Condition(attributes=torch.zeros(batch_size, 1, device=device))


@register_kind
class SmileKind(ConditioningKind):
    name = type = "smile"
    accepts_attributes = True

    def embedder(self, dim, in_channels, image_size, with_tokens):
        return SmileEmbedder(dim)

    def describe(self, guidance):
        return f"Smiling alone + {guidance}"

    def batch_condition(self, batch, device, train=True, images=None):
        smiling = batch["attributes"][:, SMILING : SMILING + 1].float()
        if train:  # the unconditional branch, for guidance
            smiling = smiling * (torch.rand(len(smiling), 1, device=smiling.device) >= self.options.cfg_dropout)
        return Condition(attributes=smiling.to(device))

    def check_request(self, source, attributes=None, prompt=None, reference=None):
        super().check_request(source, attributes, prompt, reference)
        if attributes is not None:
            others = attribute_matrix(attributes, 1)[0].clone()
            others[SMILING] = 0
            if others.any():
                raise ValueError(f"{source} knows only Smiling: --attributes Smiling=1 or Smiling=0")

    def request_condition(self, n, attributes=None, prompt=None, subject=None, encode=None):
        return Condition(attributes=attribute_matrix(attributes, n)[:, SMILING : SMILING + 1].clone())

    def null_condition(self, n, device=None):
        return Condition(attributes=torch.zeros(n, 1, device=device))


def test_a_toy_kind_trains_and_samples_through_the_cli(celeba_root, tmp_path, capsys):
    from facegen.cli import main
    from facegen.pipeline import FacePipeline

    overrides = {
        "exp_name": "smile",
        "output_dir": tmp_path,
        "data.root": celeba_root,
        "data.cache_dir": tmp_path / "cache",
        "data.image_size": 16,
        "data.max_images": 16,
        "data.num_workers": 0,
        "model.size": "tiny",
        "model.dit.patch_size": 4,
        "model.dit.depth": 1,
        "model.dit.hidden_size": 32,
        "model.dit.num_heads": 2,
        "train.batch_size": 4,
        "train.max_steps": 2,
        "train.lr": 0.01,  # two steps that move the weights: the condition then reaches the samples
        "train.warmup_steps": 0,
        "train.sample_every": 2,
        "train.mixed_precision": "fp32",
        "conditioning.type": "smile",
    }
    assert main(["train", *(f"{key}={value}" for key, value in overrides.items())]) == 0
    run = tmp_path / "smile"
    assert "type: smile" in (run / "config.yaml").read_text()  # chosen by name, saved with the run
    assert (run / "samples" / "step_00000002.png").exists()  # the sample logger built its condition with the kind

    pipe = FacePipeline.from_checkpoint(run, device="cpu")
    assert isinstance(pipe.kind, SmileKind) and isinstance(pipe.net.cond_embedder, SmileEmbedder)
    assert pipe.net.cond_embedder.dim == 32
    assert pipe.condition("Smiling=1", 2).attributes.tolist() == [[1.0], [1.0]]

    outputs = {}
    for value in ("1", "0"):
        out = tmp_path / f"smiling{value}"
        argv = ["sample", "--checkpoint", str(run), "--attributes", f"Smiling={value}", "--num-samples", "2"]
        assert main([*argv, "--steps", "2", "--cfg-scale", "2", "--out", str(out)]) == 0
        outputs[value] = (out / "grid.png").read_bytes()
        assert sorted(p.name for p in out.iterdir()) == ["0000.png", "0001.png", "grid.png"]
    assert outputs["1"] != outputs["0"]  # the condition reaches the net
    smiling, not_smiling = (pipe.generate(2, steps=2, attributes=f"Smiling={v}", progress=False) for v in (1, 0))
    assert not torch.allclose(smiling, not_smiling)

    capsys.readouterr()
    argv = ["sample", "--checkpoint", str(run), "--attributes", "Male=1", "--out", str(tmp_path / "male")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "knows only Smiling" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "male").exists()
    assert "; Smiling alone + classifier-free guidance" in describe_model(pipe.config, 1)  # facegen models' words

    model = tmp_path / "model"  # an exported model folder says its kind and samples like the run
    assert main(["export", "--checkpoint", str(run), "--out", str(model)]) == 0
    assert json.loads((model / "meta.json").read_text())["conditioning"] == "smile"
    out = tmp_path / "from_model"
    argv = ["sample", "--model", str(model), "--attributes", "Smiling=1", "--num-samples", "2", "--steps", "2"]
    assert main([*argv, "--out", str(out)]) == 0 and (out / "grid.png").exists()


def test_the_toy_kind_is_chosen_by_its_name():
    cfg = load_config(None, ["conditioning.type=smile"])
    assert isinstance(kind_of(cfg), SmileKind) and kind_of(cfg).conditional
