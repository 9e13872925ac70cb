"""The two-time contract ``net(x, t, cond=None, r=None)``: one-time models (every model trained so far) compute what
they always did and load old weights strictly; a two-time model embeds r like t and reads r=None as r = t."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from facegen.builders import model_from_config
from facegen.conditioning import Condition
from facegen.conditioning.attributes import AttributeEmbedder
from facegen.config import load_config
from facegen.models import build_model

LEGACY = Path(__file__).parents[1] / "fixtures" / "legacy"
OPTIONS = {
    "dit": dict(size="tiny", patch_size=4, depth=2, hidden_size=32, num_heads=2),
    "unet": dict(size="tiny", base_channels=32, channel_mult=(1, 2), attention_resolutions=(8,), head_dim=32),
}
CASES = [("dit", False), ("dit", True), ("unet", False), ("unet", True)]


R_LAYERS = {"dit": "r_embedder.", "unet": "unet.class_embedding.", "unet_conditional": "unet.time_embedding.cond_proj"}


def build(name: str, conditional: bool, two_time: bool, perturb: bool = True):
    torch.manual_seed(0)
    embedder = AttributeEmbedder(32 if name == "dit" else 64) if conditional else None
    net = build_model(name, image_size=16, in_channels=3, cond_embedder=embedder, two_time=two_time, **OPTIONS[name])
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # away from the DiT's all-zero start, so every input shows in the output
        for p in net.parameters() if perturb else ():
            p.add_(torch.randn(p.shape, generator=generator) * 0.05)
    return net.eval()


def r_layer(name: str, conditional: bool) -> str:
    return R_LAYERS[f"{name}_conditional" if name == "unet" and conditional else name]


def inputs(conditional: bool):
    torch.manual_seed(1)
    x, t, r = torch.randn(2, 3, 16, 16), torch.tensor([0.3, 0.7]), torch.tensor([0.9, 0.8])
    return x, t, r, Condition(attributes=torch.randint(-1, 2, (2, 40)).float()) if conditional else None


@pytest.mark.parametrize("name, conditional", CASES)
def test_a_one_time_net_is_unchanged_and_refuses_r(name, conditional):
    net = build(name, conditional, two_time=False)
    assert not any(k.startswith(r_layer(name, conditional)) for k in net.state_dict())
    x, t, r, cond = inputs(conditional)
    with torch.no_grad():
        assert torch.equal(net(x, t, cond), net(x, t, cond, r=None))
        prediction, auxiliary, parts = net(x, t, cond, return_aux=True)
        assert torch.equal(prediction, net(x, t, cond)) and (auxiliary, parts) == (0.0, {})
    with pytest.raises(ValueError, match="built without two_time"):
        net(x, t, cond, r=r)


@pytest.mark.parametrize("name, conditional", CASES)
def test_a_two_time_net_embeds_r_and_reads_none_as_t(name, conditional):
    net = build(name, conditional, two_time=True)
    x, t, r, cond = inputs(conditional)
    with torch.no_grad():
        diagonal = net(x, t, cond, r=t)
        assert torch.equal(net(x, t, cond), diagonal)
        assert not torch.allclose(net(x, t, cond, r=r), diagonal, atol=1e-4)
    one_time = build(name, conditional, two_time=False).state_dict()
    missing, unexpected = net.load_state_dict(one_time, strict=False)  # a one-time checkpoint lacks only r's layers
    assert unexpected == [] and missing and all(k.startswith(r_layer(name, conditional)) for k in missing)


def test_the_dit_builds_r_last_so_the_rest_initialises_as_before():
    one, two = build("dit", True, two_time=False), build("dit", True, two_time=True)
    fresh_one, fresh_two = (build("dit", True, two_time=b, perturb=False).state_dict() for b in (False, True))
    assert all(torch.equal(fresh_two[k], v) for k, v in fresh_one.items())  # the same initial weights
    assert all(torch.equal(two.state_dict()[k], v) for k, v in one.state_dict().items())
    x, t, _, cond = inputs(True)
    with torch.no_grad():  # r's embedding is the only difference: with it removed the output is the one-time one
        torch.nn.init.zeros_(two.r_embedder.mlp[2].weight)
        torch.nn.init.zeros_(two.r_embedder.mlp[2].bias)
        assert torch.equal(two(x, t, cond), one(x, t, cond))


@pytest.mark.parametrize("run", ["dit_attributes_flow", "unet_none_ddpm", "dit_semantic_flow"])
def test_old_checkpoints_load_strictly(run):
    folder = LEGACY / run / "run"
    cfg = load_config(folder / "config.yaml")
    net = model_from_config(cfg)
    state = load_file(folder / "checkpoints" / "step_00000002" / "model.safetensors")
    net.load_state_dict(state, strict=True)
