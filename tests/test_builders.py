"""Every backbone x conditioning kind built from a config trains every parameter (DDP refuses any that get no grad)."""

import dataclasses
import warnings

import pytest
import torch

from facegen.builders import model_config_options, model_from_config, objective_from_config
from facegen.conditioning import Condition
from facegen.config import MODEL_SECTIONS, load_config
from facegen.models import model_options

BACKBONES = {
    "dit": [
        "model.name=dit",
        "model.size=tiny",
        "model.dit.patch_size=4",
        "model.dit.depth=1",
        "model.dit.hidden_size=32",
        "model.dit.num_heads=2",
    ],
    "unet": ["model.name=unet", "model.size=tiny", "conditioning.dim=32"],
}
CONDITIONS = {
    "attributes": ["conditioning.type=attributes"],
    "semantic": ["conditioning.type=attributes", "conditioning.semantic_dim=8", "conditioning.semantic_dropout=0.0"],
    "text": ["conditioning.type=text", "conditioning.text_dim=12"],
}


def condition(kind: str, images: torch.Tensor) -> Condition:
    batch = len(images)
    if kind == "text":
        return Condition(
            text_tokens=torch.randn(batch, 5, 12),
            text_mask=torch.ones(batch, 5, dtype=torch.bool),
            text_pooled=torch.randn(batch, 12),
        )
    attributes = torch.randint(-1, 2, (batch, 40)).float()
    return Condition(attributes=attributes, reference=images if kind == "semantic" else None)


@pytest.mark.parametrize("kind", sorted(CONDITIONS))
@pytest.mark.parametrize("backbone", sorted(BACKBONES))
def test_every_parameter_gets_a_gradient(backbone, kind):
    cfg = load_config(None, ["data.image_size=16", *BACKBONES[backbone], *CONDITIONS[kind]])
    torch.manual_seed(0)
    net = model_from_config(cfg)
    objective = objective_from_config(cfg)
    images = torch.randn(2, 3, 16, 16)
    # The loss holds the semantic encoder's KL and attribute terms, returned by the same forward; 0 for the others.
    loss, parts = objective.loss(net, images, condition(kind, images), return_parts=True)
    assert (sorted(parts) != []) == (kind == "semantic")
    loss.backward()
    without = [name for name, p in net.named_parameters() if p.grad is None]
    assert without == []


@pytest.mark.parametrize("name", sorted(MODEL_SECTIONS))
def test_each_section_holds_options_of_its_own_builder(name):
    accepted = set(model_options(name))
    assert {f.name for f in dataclasses.fields(MODEL_SECTIONS[name])} <= accepted
    assert {"size", "grad_checkpointing"} <= accepted  # the shared keys the builder takes besides its section
    options = model_config_options(load_config(None, [f"model.name={name}", "model.size=tiny"]))
    assert {key.rpartition(".")[0] for key in options} == {"model", f"model.{name}"}


def test_only_the_named_backbones_section_is_built():
    """A config switched to the other backbone keeps its old section: unused, without a warning."""
    base = ["data.image_size=16", "model.name=unet", "model.size=tiny", "model.unet.channel_mult=[1, 2]"]
    dit_section = ["model.dit.patch_size=8", "model.dit.depth=2", "model.dit.long_skip=true", "model.dit.rope=false"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch.manual_seed(0)
        with_dit = model_from_config(load_config(None, [*base, *dit_section]))
    torch.manual_seed(0)
    plain = model_from_config(load_config(None, base))
    assert {k: v.shape for k, v in with_dit.state_dict().items()} == {k: v.shape for k, v in plain.state_dict().items()}
    assert len(plain.unet.down_blocks) == 2  # model.unet.channel_mult was passed: two levels

    cfg = load_config(None, ["data.image_size=16", "model.size=tiny", *dit_section, "model.unet.base_channels=8"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net = model_from_config(cfg)
    assert len(net.blocks) == 2 and len(net.skip_proj) == 1 and net.rope_cos is None
    assert net.patch_embed.kernel_size == (8, 8)
    assert model_config_options(cfg) == {
        "model.size": "tiny",
        "model.grad_checkpointing": False,
        **{f"model.dit.{k}": v for k, v in dataclasses.asdict(cfg.model.dit).items()},
    }


def test_the_dit_width_comes_from_its_section():
    from facegen.builders import embedder_from_config
    from facegen.models import DIT_PRESETS

    attributes = ["model.size=tiny", "conditioning.type=attributes"]
    assert embedder_from_config(load_config(None, [*attributes, "model.dit.hidden_size=48"]), 3, 32).dim == 48
    assert embedder_from_config(load_config(None, attributes), 3, 32).dim == DIT_PRESETS["tiny"].hidden_size
