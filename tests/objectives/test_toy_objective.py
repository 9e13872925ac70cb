"""A new objective is one torch-free spec plus one class: this file defines a toy MeanFlow-like objective that uses
the second time r (so the DiT is built two-time), registers it, trains it for 2 steps and samples it through the
command line, with nothing else in facegen naming it."""

from dataclasses import dataclass

import pytest
import torch

from facegen.cli import main
from facegen.objectives import OBJECTIVES, RectifiedFlow
from facegen.objectives.base import Objective, training_loss
from facegen.specs import ObjectiveSpec, register_objective, unregister
from facegen.utils.bounds import Bound


@dataclass
class ToyMeanFlowOptions:  # flat objective.<key>s beside name and prediction
    max_gap: float = 1.0  # the longest jump r - t drawn in training


TOY = ObjectiveSpec(
    name="toy_meanflow",
    options=ToyMeanFlowOptions,
    predictions=("average_velocity",),
    samplers=("euler",),
    bounds={"max_gap": Bound(0, 1, low_open=True)},
    two_time=True,
)


def define_toy_meanflow() -> type:
    """The class (subclassing Objective registers it under its spec's name)."""

    class ToyMeanFlow(Objective, name="toy_meanflow"):
        """The net predicts the average velocity u(x_t, t, r) over [t, r] (t = 0 noise, 1 data, as rectified flow):
        on a straight path it is data - noise, and sampling jumps x_r = x_t + (r - t) u."""

        def __init__(self, prediction: str = "average_velocity", max_gap: float = 1.0) -> None:
            self.prediction, self.max_gap = prediction, max_gap

        def loss(self, net, images, cond=None, return_parts=False):
            noise = torch.randn_like(images)
            t = torch.rand(len(images), device=images.device)
            r = (t + torch.rand_like(t) * self.max_gap).clamp(max=1.0)
            u, auxiliary, parts = net(RectifiedFlow.interpolate(noise, images, t), t, cond, r=r, return_aux=True)
            return training_loss((u.float() - (images - noise).float()).pow(2).mean(), auxiliary, parts, return_parts)

        def _jumps(self, net, x, times, cond, on_step):
            states = [x]
            for t, r in zip(times[:-1], times[1:]):
                x = x + (r - t) * net(x, t.expand(len(x)), cond, r=r.expand(len(x)))
                states.append(x)
                if on_step:
                    on_step(1)
            return states

        def sample(self, net, noise, sampler=None, steps=50, cond=None, guidance=1.0, return_trajectory=False,
                   on_step=None, start=0.0):  # fmt: skip
            self._sampler(sampler)
            states = self._jumps(net, noise, torch.linspace(start, 1.0, steps + 1), cond, on_step)
            return (states[-1], states) if return_trajectory else states[-1]

        def invert(self, net, images, steps=50, cond=None, guidance=1.0, on_step=None, strength=1.0):
            return self._jumps(net, images, torch.linspace(1.0, 1.0 - strength, steps + 1), cond, on_step)[-1]

    return ToyMeanFlow


# A tiny DiT at 16px on real faces (as tests/cli/conftest.py's TINY).
TINY = ["data.image_size=16", "data.max_images=16", "model.size=tiny", "model.dit.patch_size=4", "model.dit.depth=1"]
TINY += ["model.dit.hidden_size=32", "model.dit.num_heads=2", "sampler.steps=1", "train.mixed_precision=fp32"]


@pytest.fixture
def toy_meanflow():
    register_objective(TOY)
    define_toy_meanflow()
    yield
    unregister("toy_meanflow")
    del OBJECTIVES["toy_meanflow"]


def test_a_toy_two_time_objective_trains_and_samples_through_the_cli(toy_meanflow, celeba_root, tmp_path, capsys):
    settings = [*TINY, "objective.name=toy_meanflow", "objective.max_gap=0.5", "data.num_workers=0"]
    settings += ["train.batch_size=4", "train.max_steps=2", "train.sample_every=0", "train.log_every=1"]
    paths = [f"data.root={celeba_root}", f"data.cache_dir={tmp_path / 'cache'}", f"output_dir={tmp_path}"]
    assert main(["train", *settings, *paths, "exp_name=mf"]) == 0
    run = tmp_path / "mf"
    assert "max_gap: 0.5" in (run / "config.yaml").read_text()
    weights = (run / "checkpoints" / "latest" / "model.safetensors").read_bytes()
    assert b"r_embedder" in weights  # the objective's spec asked for the two-time DiT
    out = tmp_path / "s"
    assert main(["sample", "--checkpoint", str(run), "--num-samples", "2", "--steps", "2", "--out", str(out)]) == 0
    assert len(list(out.glob("*.png"))) >= 2
    assert main(["train", *settings, *paths, "exp_name=bad", "sampler.name=heun"]) == 2
    assert "sampler.name='heun' does not go with objective.name='toy_meanflow'" in capsys.readouterr().err
