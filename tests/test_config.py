from pathlib import Path

import pytest

from facegen.config import Config, ConfigError, load_config, parse_override, save_config

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
        ("model.channel_mult=[1, a]", r"model.channel_mult\[1\]: expected int"),
        ("train.batch_size=big", r"train.batch_size: expected int, got 'big'"),
        ("train.batch_size=true", r"expected int"),
        ("data.image_size=33", "divisible by model.patch_size"),
        ("train.ema_decay=1.0", r"train.ema_decay=1.0: must be in \[0, 1\)"),
        ("lr", "must look like section.key=value"),
        ("conditioning.semantic_dim=16", "semantic_dim > 0 needs conditioning.type=attributes"),
    ],
)
def test_bad_values_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_saved_config_reloads_identically(tmp_path):
    cfg = load_config(REPO / "configs" / "celeba32_tiny.yaml", ["seed=7"])
    save_config(cfg, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == cfg
