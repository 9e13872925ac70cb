"""Building models by name: errors that name what is allowed, generic registration, preset parameter counts."""

import pytest
import torch
from torch import nn

from facegen.models import DIT_PRESETS, MODEL_REGISTRY, build_model, count_parameters, model_options, register_model

# Parameter counts at image 64, patch 2, 3 channels, no condition embedder (the sin-cos table and RoPE angles are
# buffers, not parameters). Quoted in the docs; update both together.
PRESET_PARAMETERS = {"tiny": 4_163_916, "small": 32_471_436, "base": 57_647_628, "large": 257_068_812}


@pytest.mark.parametrize("size", list(DIT_PRESETS))
def test_preset_parameter_counts(size):
    with torch.device("meta"):  # shapes only: no memory, no init cost
        model = build_model("dit", image_size=64, in_channels=3, size=size, patch_size=2)
    assert count_parameters(model) == PRESET_PARAMETERS[size]


def test_presets_match_the_size_table():
    table = {name: (p.hidden_size, p.depth, p.num_heads, p.mlp_dim) for name, p in DIT_PRESETS.items()}
    assert table == {
        "tiny": (192, 6, 3, 768),
        "small": (384, 12, 6, 1536),
        "base": (512, 12, 8, 2048),
        "large": (768, 24, 12, 3072),
    }


def test_overrides_replace_preset_values():
    model = build_model("dit", image_size=16, size="small", depth=1, mlp_dim=64)
    assert len(model.blocks) == 1
    assert model.blocks[0].mlp[0].out_features == 64
    assert model.blocks[0].mlp[0].in_features == 384


def test_unknown_model_lists_registered_names():
    with pytest.raises(ValueError, match=r"unknown model 'nope'.*'dit'"):
        build_model("nope", image_size=16)


def test_unknown_size_lists_presets():
    with pytest.raises(ValueError, match=r"unknown DiT size 'huge'.*'tiny', 'small', 'base', 'large'"):
        build_model("dit", image_size=16, size="huge")


def test_unknown_option_lists_accepted_options():
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['patch'\].*'patch_size'"):
        build_model("dit", image_size=16, size="tiny", patch=2)
    assert {"size", "patch_size", "pos_embed", "rope", "qk_norm", "grad_checkpointing"} <= set(model_options("dit"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(image_size=30, patch_size=4), "image_size 30 is not divisible by patch_size 4"),
        (dict(image_size=16, hidden_size=200, num_heads=3), "hidden_size 200 is not divisible by num_heads 3"),
        (dict(image_size=16, hidden_size=192, num_heads=32), r"head_dim .* = 6\) divisible by 4"),
        (dict(image_size=16, pos_embed="rotary"), r"unknown pos_embed 'rotary'.*'sincos', 'learned', 'none'"),
    ],
)
def test_invalid_architectures_fail_with_the_sizes_named(options, message):
    with pytest.raises(ValueError, match=message):
        build_model("dit", size="tiny", **options)


def test_head_dim_not_divisible_by_4_is_fine_without_rope():
    model = build_model("dit", image_size=8, size="tiny", hidden_size=96, num_heads=16, depth=1, rope=False)
    assert model(torch.zeros(1, 3, 8, 8), torch.zeros(1)).shape == (1, 3, 8, 8)


def test_registry_is_generic_and_refuses_duplicates():
    @register_model("test_identity")
    def build_identity(*, image_size, in_channels, cond_embedder=None, scale=1.0):
        return nn.Identity()

    try:
        assert isinstance(build_model("test_identity", image_size=8, scale=2.0), nn.Identity)
        with pytest.raises(ValueError, match="already registered"):
            register_model("test_identity")(build_identity)
    finally:
        MODEL_REGISTRY.pop("test_identity")


def test_count_parameters():
    assert count_parameters(nn.Linear(3, 4)) == 16
