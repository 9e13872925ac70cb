"""UNet behaviour on tiny shapes: output layout, conditioning through tokens/mask/vector, gradient flow, building."""

import pytest
import torch
from torch import nn

from facegen.conditioning import Condition
from facegen.models import build_model, count_parameters, model_options
from facegen.models.unet import UNET_PRESETS, UNet

# Parameter counts at image 64, 3 channels, no condition embedder. Quoted in the docs; update both together.
PRESET_PARAMETERS = {"tiny": 1_063_651, "small": 18_536_323, "base": 63_151_235}


class FakeEmbedder(nn.Module):
    """The embedder interface the UNet relies on: ``dim``, ``embed(cond) -> (tokens, mask, vector)`` and
    ``null_condition(batch_size, device)`` (what ``cond=None`` means).

    With ``hide_unspecified`` the mask hides the tokens of unspecified (0) attributes.
    """

    def __init__(self, dim: int = 16, hide_unspecified: bool = False) -> None:
        super().__init__()
        self.dim = dim
        self.hide_unspecified = hide_unspecified
        self.value = nn.Linear(1, dim)
        self.identity = nn.Parameter(torch.randn(40, dim))
        self.pool = nn.Linear(dim, dim)

    def tokens(self, cond: Condition) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = self.value(cond.attributes.unsqueeze(-1)) + self.identity
        mask = cond.attributes != 0 if self.hide_unspecified else torch.ones(tokens.shape[:2], dtype=torch.bool)
        return tokens, mask

    def embed(self, cond: Condition) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        tokens, mask = self.tokens(cond)
        return tokens, mask, self.pool(tokens.mean(dim=1))

    def null_condition(self, batch_size: int, device=None) -> Condition:
        return Condition(attributes=torch.zeros(batch_size, 40, device=device))


def tiny_unet(cond_embedder: nn.Module | None = None, **options) -> UNet:
    torch.manual_seed(0)
    return build_model("unet", image_size=32, in_channels=3, size="tiny", cond_embedder=cond_embedder, **options)


def inputs(batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, 32, 32, generator=generator), torch.rand(batch, generator=generator)


def attributes(batch: int = 2, seed: int = 1) -> Condition:
    generator = torch.Generator().manual_seed(seed)
    return Condition(attributes=torch.randint(-1, 2, (batch, 40), generator=generator).float())


@pytest.mark.parametrize("conditional", [False, True], ids=["unconditional", "conditional"])
def test_output_has_the_input_shape(conditional):
    model = tiny_unet(FakeEmbedder() if conditional else None)
    x, t = inputs()
    with torch.no_grad():
        assert model(x, t, attributes() if conditional else None).shape == x.shape


def test_conditioning_changes_the_output():
    model = tiny_unet(FakeEmbedder())
    x, t = inputs()
    with torch.no_grad():
        assert not torch.allclose(model(x, t, attributes(seed=1)), model(x, t, attributes(seed=2)))


def test_missing_condition_means_every_attribute_unspecified():
    model = tiny_unet(FakeEmbedder())
    x, t = inputs()
    with torch.no_grad():
        dropped = model(x, t, attributes().dropped())
        assert torch.equal(model(x, t), dropped)
        assert not torch.allclose(model(x, t, attributes()), dropped)


def test_token_mask_changes_the_output():
    embedder = FakeEmbedder()
    model = tiny_unet(embedder)
    x, t = inputs()
    cond = attributes()  # about a third of the attributes are 0, so the mask hides some tokens but not all
    with torch.no_grad():
        visible = model(x, t, cond)
        embedder.hide_unspecified = True
        assert not torch.allclose(model(x, t, cond), visible)


@pytest.mark.parametrize("conditional", [False, True], ids=["unconditional", "conditional"])
def test_one_adamw_step_reaches_every_parameter(conditional):
    model = tiny_unet(FakeEmbedder() if conditional else None)
    x, t = inputs()
    cond = attributes() if conditional else None
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    (model(x, t, cond) - x).pow(2).mean().backward()
    assert [name for name, p in model.named_parameters() if p.grad is None or not p.grad.any()] == []
    optimizer.step()
    assert [name for name, p in model.named_parameters() if torch.equal(p, before[name])] == []
    if conditional:
        assert any(name.startswith("cond_embedder.") for name in before)


def test_gradient_checkpointing_gives_the_same_gradients():
    x, t = inputs()
    grads = []
    for grad_checkpointing in (False, True):
        model = tiny_unet(FakeEmbedder(), grad_checkpointing=grad_checkpointing)
        assert model.unet.is_gradient_checkpointing == grad_checkpointing
        model(x, t, attributes()).pow(2).mean().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert torch.allclose(*grads, atol=1e-6)


def test_registry_builds_unet_by_name_with_its_options():
    model = build_model("unet", image_size=32, in_channels=3, size="tiny")
    assert isinstance(model, UNet)
    assert model_options("unet") == [
        "size",
        "base_channels",
        "channel_mult",
        "layers_per_block",
        "attention_resolutions",
        "head_dim",
        "dropout",
        "norm_groups",
        "grad_checkpointing",
        "two_time",
    ]


def test_overrides_replace_preset_values():
    model = tiny_unet(base_channels=64, channel_mult=[1, 2], attention_resolutions=[32, 16])
    assert model.unet.config.block_out_channels == (64, 128)
    assert model.unet.config.down_block_types == ("AttnDownBlock2D", "AttnDownBlock2D")
    assert model.unet.config.up_block_types == ("AttnUpBlock2D", "AttnUpBlock2D")


def test_attention_sits_at_the_requested_resolutions():
    model = tiny_unet(FakeEmbedder())  # levels at 32, 16, 8; attention at 8
    assert model.unet.config.down_block_types == ("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D")
    assert model.unet.config.up_block_types == ("CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D")


@pytest.mark.parametrize("size", list(UNET_PRESETS))
def test_preset_parameter_counts(size):
    with torch.device("meta"):  # shapes only: no memory, no init cost
        model = build_model("unet", image_size=64, in_channels=3, size=size)
    assert count_parameters(model) == PRESET_PARAMETERS[size]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(patch_size=2), r"unknown option\(s\) \['patch_size'\].*'base_channels'"),
        (dict(size="huge"), r"unknown UNet size 'huge'.*'tiny', 'small', 'base'"),
        (dict(image_size=30), r"image_size 30 is not divisible by 2\*\*2 = 4"),
        (dict(norm_groups=24), r"norm_groups 24 does not divide every level's channels \[32, 64, 64\]"),
        (dict(head_dim=48), r"head_dim 48 does not divide the attending levels' channels \[64\]"),
        (dict(channel_mult=[]), "channel_mult must have at least one level"),
    ],
)
def test_invalid_options_fail_with_a_clear_message(options, message):
    with pytest.raises(ValueError, match=message):
        build_model("unet", **(dict(image_size=32, size="tiny") | options))


def test_wrong_input_size_is_named():
    with pytest.raises(ValueError, match=r"built for \[B, 3, 32, 32\] inputs, got \[1, 3, 16, 16\]"):
        tiny_unet()(torch.zeros(1, 3, 16, 16), torch.zeros(1))
