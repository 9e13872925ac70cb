"""DiT behaviour on tiny shapes: output layout, AdaLN-Zero init, gradient flow, conditioning, determinism."""

import pytest
import torch
from torch import nn

from facegen.conditioning import Condition
from facegen.models import DIT_PRESETS, DiT, build_model


def tiny_dit(**options) -> DiT:
    defaults = dict(image_size=8, in_channels=3, size="tiny", depth=2, hidden_size=64, num_heads=4, mlp_dim=128)
    return build_model("dit", **(defaults | options))


def unzero(model: nn.Module, std: float = 0.05) -> None:
    """Give every all-zero parameter (AdaLN-Zero gates, final layer) random values, as if partly trained."""
    generator = torch.Generator().manual_seed(123)
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.copy_(torch.randn(p.shape, generator=generator) * std)


class AttributeEmbedder(nn.Module):
    """Stand-in for the real attribute embedder: Condition -> [B, hidden], and its null condition."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.proj = nn.Linear(40, hidden_size)

    def forward(self, cond: Condition) -> torch.Tensor:
        return self.proj(cond.attributes)

    def null_condition(self, batch_size: int, device=None) -> Condition:
        return Condition(attributes=torch.zeros(batch_size, 40, device=device))


def inputs(batch: int = 2, size: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, size, size, generator=generator), torch.rand(batch, generator=generator)


@pytest.mark.parametrize("size", list(DIT_PRESETS))
@pytest.mark.parametrize("patch_size", [2, 4, 8])
def test_output_shape_for_every_preset_and_patch_size(size, patch_size):
    depth = None if size == "tiny" else 1  # keep the wide presets cheap; their widths and heads are still real
    model = build_model("dit", image_size=16, in_channels=3, size=size, patch_size=patch_size, depth=depth)
    x, t = inputs(size=16)
    with torch.no_grad():
        assert model(x, t).shape == x.shape


@pytest.mark.parametrize(
    "options",
    [dict(pos_embed="learned"), dict(pos_embed="none"), dict(rope=False), dict(qk_norm=True), dict(long_skip=True)],
)
def test_variants_run_and_start_at_zero(options):
    model = tiny_dit(**options)
    x, t = inputs()
    assert torch.equal(model(x, t), torch.zeros_like(x))


def test_fresh_model_outputs_exact_zeros_until_the_final_layer_moves():
    model = tiny_dit()
    x, t = inputs()
    assert torch.equal(model(x, t), torch.zeros_like(x))
    with torch.no_grad():
        model.final_layer.linear.bias.normal_()
    assert model(x, t).abs().sum() > 0


@pytest.mark.parametrize("long_skip", [False, True])
def test_gradients_reach_every_parameter(long_skip):
    model = tiny_dit(pos_embed="learned", qk_norm=True, long_skip=long_skip)
    x, t = inputs()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    # AdaLN-Zero opens up over a few steps: first the output layer, then the gates, then what they gate.
    for _ in range(3):
        optimizer.zero_grad()
        (model(x, t) - x).pow(2).mean().backward()
        assert all(p.grad is not None for p in model.parameters())
        optimizer.step()
    zero_grads = [name for name, p in model.named_parameters() if not p.grad.any()]
    assert zero_grads == []


def test_condition_embedder_changes_the_output():
    model = tiny_dit(cond_embedder=AttributeEmbedder(64))
    unzero(model)
    x, t = inputs()
    smiling = Condition(attributes=torch.ones(2, 40))
    frowning = Condition(attributes=-torch.ones(2, 40))
    with torch.no_grad():
        unconditional = model(x, t)
        assert not torch.allclose(model(x, t, smiling), unconditional)
        assert not torch.allclose(model(x, t, smiling), model(x, t, frowning))
        assert torch.equal(model(x, t, None), unconditional)
        assert torch.equal(model(x, t, smiling.dropped()), unconditional)  # None is the trained unconditional


def test_condition_is_ignored_without_an_embedder():
    model = tiny_dit()
    unzero(model)
    x, t = inputs()
    with torch.no_grad():
        assert torch.equal(model(x, t, Condition(attributes=torch.ones(2, 40))), model(x, t))


def test_cond_embedder_keeps_its_own_initialisation():
    torch.manual_seed(0)
    embedder = AttributeEmbedder(64)
    before = embedder.proj.weight.clone()
    tiny_dit(cond_embedder=embedder)
    assert torch.equal(embedder.proj.weight, before)


def test_time_changes_the_output():
    model = tiny_dit()
    unzero(model)
    x, _ = inputs()
    with torch.no_grad():
        early, late = model(x, torch.full((2,), 0.1)), model(x, torch.full((2,), 0.9))
    assert not torch.allclose(early, late)


def test_each_token_lands_on_its_own_patch():
    model = tiny_dit(image_size=8, patch_size=2)  # 4 x 4 grid of 2 x 2 patches, 3 channels
    grid, patch = 4, 2
    tokens = torch.arange(grid * grid, dtype=torch.float32)[None, :, None].expand(1, -1, patch * patch * 3)
    image = model.unpatchify(tokens)
    for row in range(grid):
        for col in range(grid):
            block = image[0, :, row * patch : (row + 1) * patch, col * patch : (col + 1) * patch]
            assert torch.all(block == row * grid + col)
    # Within a token, values are ordered (pixel row, pixel column, channel).
    one_token = torch.zeros(1, grid * grid, patch * patch * 3)
    one_token[0, 0] = torch.arange(patch * patch * 3, dtype=torch.float32)
    pixels = model.unpatchify(one_token)[0, :, :patch, :patch]
    assert torch.equal(pixels.permute(1, 2, 0).flatten(), one_token[0, 0])


def test_gradient_checkpointing_matches_plain_backward():
    torch.manual_seed(0)
    plain = tiny_dit()
    unzero(plain)
    checkpointed = tiny_dit(grad_checkpointing=True)
    checkpointed.load_state_dict(plain.state_dict())
    x, t = inputs()
    for model in (plain, checkpointed):
        model(x, t).pow(2).sum().backward()
    for (name, a), b in zip(plain.named_parameters(), checkpointed.parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=name)


def test_same_seed_same_initialisation():
    def init_with_seed(seed: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(seed)
        return tiny_dit(pos_embed="learned").state_dict()

    first, again, other = init_with_seed(7), init_with_seed(7), init_with_seed(8)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_fixed_position_tables_stay_out_of_checkpoints():
    assert not any("pos_embed" in k or "rope" in k for k in tiny_dit().state_dict())
    assert "pos_embed" in tiny_dit(pos_embed="learned").state_dict()


def test_wrong_input_size_is_rejected():
    model = tiny_dit(image_size=8)
    with pytest.raises(ValueError, match=r"built for \[B, 3, 8, 8\]"):
        model(torch.zeros(1, 3, 16, 16), torch.zeros(1))


@pytest.mark.parametrize("depth", [4, 5])
def test_long_skips_start_as_the_plain_network_then_learn(depth):
    """U-ViT skips are projections initialised to pass the main path through: at initialisation the network with
    skips computes exactly what the same weights compute without them."""
    plain = build_model("dit", image_size=8, in_channels=3, size="tiny", depth=depth)
    unzero(plain)
    skip = build_model("dit", image_size=8, in_channels=3, size="tiny", depth=depth, long_skip=True)
    assert len(skip.skip_proj) == depth // 2
    missing, unexpected = skip.load_state_dict(plain.state_dict(), strict=False)
    assert unexpected == [] and all(name.startswith("skip_proj.") for name in missing)
    x, t = inputs(size=8)
    with torch.no_grad():
        assert torch.allclose(skip(x, t), plain(x, t), atol=1e-5)
        skip.skip_proj[0].weight[:, skip.skip_proj[0].out_features :].normal_(std=0.1)
        assert not torch.allclose(skip(x, t), plain(x, t), atol=1e-3)
