import dataclasses
from pathlib import Path

import pytest
import yaml

from facegen.config import (
    MODEL_SECTIONS,
    Config,
    ConfigError,
    DiTOptions,
    UNetOptions,
    config_from_dict,
    load_config,
    parse_override,
    save_config,
)

REPO = Path(__file__).resolve().parents[1]


def test_every_shipped_config_loads():
    paths = sorted((REPO / "configs").glob("*.yaml"))
    assert {p.name for p in paths} >= {
        "celeba32_tiny.yaml",
        "celeba64_dit_small.yaml",
        "celeba64_dit_base.yaml",
        "celeba64_dit_large.yaml",
    }
    for path in paths:
        assert isinstance(load_config(path), Config)


def test_overrides_are_typed_and_win(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("exp_name: a\ntrain:\n  lr: 3.0e-4\n")
    cfg = load_config(path, ["train.lr=1e-3", "model.size=tiny", "data.crop=null", "train.max_minutes=2"])
    assert cfg.train.lr == 1e-3 and cfg.model.size == "tiny" and cfg.data.crop is None
    assert cfg.train.max_minutes == 2.0 and isinstance(cfg.train.max_minutes, float)
    assert parse_override("a.b=[1, 2]") == ("a.b", [1, 2])


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.lrr=1", r"unknown key\(s\) \['train.lrr'\]; valid keys here: \[.*'lr'"),
        ("sampler.name=rk4", r"sampler.name: 'rk4' is not one of \['heun', 'euler', 'dopri5', 'ddim'"),
        ("sampler.name=ddim", r"sampler.name='ddim' does not go with objective.name='rectified_flow'"),
        ("objective.prediction=eps", r"choose one of \['velocity', 'x'\]"),
        ("model.unet.channel_mult=[1, a]", r"model.unet.channel_mult\[1\]: expected int"),
        ("model.dit.depth=0", r"model.dit.depth=0: must be >= 1 \(or null\)"),
        ("model.depth=0", r"model.dit.depth=0: must be >= 1"),  # an older flat key is checked where it moved
        # A second level names the full dotted key and what is allowed there.
        ("model.dit.bogus=1", r"unknown key\(s\) \['model.dit.bogus'\]; valid keys here: \['patch_size', .*\]$"),
        ("model.bogus=1", r"unknown key\(s\) \['model.bogus'\]; valid keys here: \['name', 'size', .*'dit', 'unet'\]$"),
        ("model.dit=5", r"model.dit: expected a mapping, got 5"),
        ("model.unet=[1]", r"model.unet: expected a mapping, got \[1\]"),
        ("model.dit.rope=maybe", r"model.dit.rope: expected bool, got 'maybe'"),
        ("model.dit.pos_embed=rotary", r"model.dit.pos_embed: 'rotary' is not one of \['sincos'"),
        ("model.dit.patch_size.x=1", r"model.dit.patch_size: expected int"),
        ("train.batch_size=big", r"train.batch_size: expected int, got 'big'"),
        ("train.batch_size=true", r"expected int"),
        ("data.image_size=33", "divisible by model.dit.patch_size"),
        ("train.ema_decay=1.0", r"train.ema_decay=1.0: must be in \[0, 1\)"),
        ("lr", "must look like section.key=value"),
        ("conditioning.semantic_dim=16", "semantic_dim > 0 needs conditioning.type=attributes"),
    ],
)
def test_bad_values_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(None, [override])
    assert "\n" not in str(caught.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_saved_config_reloads_identically(tmp_path):
    cfg = load_config(REPO / "configs" / "celeba32_tiny.yaml", ["seed=7"])
    save_config(cfg, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == cfg


def test_each_backbone_option_lives_in_one_section():
    names = [f.name for cls in MODEL_SECTIONS.values() for f in dataclasses.fields(cls)]
    assert len(names) == len(set(names))
    assert not set(names) & {f.name for f in dataclasses.fields(Config().model)}


@pytest.mark.parametrize(
    "override, key, section",
    [
        ("model.unet.patch_size=2", "model.unet.patch_size", "model.dit"),
        ("model.unet.long_skip=true", "model.unet.long_skip", "model.dit"),
        ("model.dit.channel_mult=[1, 2]", "model.dit.channel_mult", "model.unet"),
        ("model.dit.head_dim=32", "model.dit.head_dim", "model.unet"),
    ],
)
def test_an_option_in_the_wrong_section_says_where_it_belongs(override, key, section):
    with pytest.raises(ConfigError) as caught:
        load_config(None, [override])
    message = str(caught.value)
    allowed = [f.name for f in dataclasses.fields(MODEL_SECTIONS[key.split(".")[1]])]
    leaf = key.rpartition(".")[2]
    assert message == f"config: unknown key(s) [{key!r}]; valid keys here: {allowed}; {leaf} belongs in {section}"


def test_nested_model_options_load_override_and_save(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "model:\n  name: unet\n  size: tiny\n  dit:\n    patch_size: 4\n    rope: false\n"
        "  unet:\n    channel_mult: [1, 2]\n"
    )
    cfg = load_config(path, ["model.dit.depth=3", "model.unet.head_dim=16", "model.unet.channel_mult=[1, 2, 2]"])
    assert cfg.model.dit == DiTOptions(patch_size=4, rope=False, depth=3)
    assert cfg.model.unet == UNetOptions(channel_mult=[1, 2, 2], head_dim=16)
    save_config(cfg, tmp_path / "saved.yaml")
    saved = yaml.safe_load((tmp_path / "saved.yaml").read_text())["model"]
    assert list(saved) == ["name", "size", "grad_checkpointing", "dit", "unet"]  # the nested form, every key
    assert saved["dit"] == dataclasses.asdict(cfg.model.dit) and saved["unet"]["head_dim"] == 16
    assert load_config(tmp_path / "saved.yaml") == cfg


FLAT = "model:\n  name: dit\n  size: tiny\n  patch_size: 4\n  depth: 3\n  channel_mult: [1, 2]\n"
NESTED = (
    "model:\n  name: dit\n  size: tiny\n  dit:\n    patch_size: 4\n    depth: 3\n  unet:\n    channel_mult: [1,2]\n"
)


def test_flat_model_keys_move_into_their_section(tmp_path):
    (tmp_path / "flat.yaml").write_text(FLAT)
    (tmp_path / "nested.yaml").write_text(NESTED)
    nested = load_config(tmp_path / "nested.yaml")
    assert nested.model.dit.patch_size == 4 and nested.model.unet.channel_mult == [1, 2]
    assert load_config(tmp_path / "flat.yaml") == nested
    flat_overrides = ["model.size=tiny", "model.patch_size=4", "model.depth=3", "model.channel_mult=[1, 2]"]
    assert load_config(None, flat_overrides) == nested
    assert load_config(None, ["model={size: tiny, patch_size: 4, depth: 3, channel_mult: [1, 2]}"]) == nested
    # An override wins over the file, whichever form each is written in.
    assert load_config(tmp_path / "flat.yaml", ["model.dit.patch_size=2"]).model.dit.patch_size == 2
    assert load_config(tmp_path / "nested.yaml", ["model.patch_size=2"]).model.dit.patch_size == 2
    # Both forms in one file: the same value is fine, two values are refused.
    (tmp_path / "both.yaml").write_text(NESTED + "  patch_size: 4\n")
    assert load_config(tmp_path / "both.yaml") == nested
    (tmp_path / "both.yaml").write_text(NESTED + "  patch_size: 8\n")
    with pytest.raises(ConfigError, match=r"model.patch_size=8 and model.dit.patch_size=4 disagree; keep only"):
        load_config(tmp_path / "both.yaml")
    (tmp_path / "null.yaml").write_text("model:\n  patch_size: 4\n  dit: null\n")
    with pytest.raises(ConfigError, match=r"model.dit: expected a mapping, got None"):
        load_config(tmp_path / "null.yaml")


def test_shipped_faces128_config_loads_like_its_nested_form(tmp_path):
    """A bundled model's config.yaml (part of its weights, never rewritten) in the older flat model keys: release 6,
    shipped as faces128's guide, keeps them."""
    shipped = REPO / "facegen" / "assets" / "faces128_guide" / "config.yaml"
    flat = yaml.safe_load(shipped.read_text())
    assert "patch_size" in flat["model"] and "dit" not in flat["model"]
    model = flat["model"]
    sections = {s: {f.name: model[f.name] for f in dataclasses.fields(cls)} for s, cls in MODEL_SECTIONS.items()}
    shared = {k: v for k, v in model.items() if not any(k in options for options in sections.values())}
    nested = {**flat, "model": {**shared, **sections}}
    cfg = load_config(shipped)
    assert cfg.model.name == "unet" and config_from_dict(nested) == cfg
    save_config(cfg, tmp_path / "config.yaml")
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["model"] == nested["model"]
    assert load_config(tmp_path / "config.yaml") == cfg
