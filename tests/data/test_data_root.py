"""One variable, FACEGEN_DATA_ROOT, says where every dataset is: configs, the bundled model and the tests follow it."""

from __future__ import annotations

from pathlib import Path

import yaml

from facegen.builders import cache_from_config
from facegen.config import load_config
from facegen.data.roots import DATA_ROOT_ENV, data_path

REPO = Path(__file__).resolve().parents[2]


def test_only_a_leading_variable_is_replaced(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    assert data_path("$FACEGEN_DATA_ROOT/celeba") == tmp_path / "celeba"
    assert data_path("${FACEGEN_DATA_ROOT}/ffhq") == tmp_path / "ffhq"
    assert data_path("$FACEGEN_DATA_ROOT") == tmp_path
    assert data_path("$FACEGEN_DATA_ROOTS/x") == Path("$FACEGEN_DATA_ROOTS/x")
    assert data_path("data/celeba") == Path("data/celeba")
    monkeypatch.delenv(DATA_ROOT_ENV)
    assert data_path("$FACEGEN_DATA_ROOT/celeba") == Path("../shared/data/celeba")


def test_every_shipped_config_names_its_data_by_the_variable():
    configs = [*(REPO / "configs").glob("*.yaml"), REPO / "facegen/assets/faces128/config.yaml"]
    roots = {path.name: yaml.safe_load(path.read_text())["data"]["root"] for path in configs}
    assert all(root.startswith("$FACEGEN_DATA_ROOT/") for root in roots.values()), roots
    assert load_config(None, []).data.root == "$FACEGEN_DATA_ROOT/celeba"


def test_data_prepare_reads_celeba_under_the_variable(celeba_root, tmp_path, monkeypatch):
    elsewhere = tmp_path / "disk"
    elsewhere.mkdir()
    (elsewhere / "celeba").symlink_to(celeba_root)
    monkeypatch.setenv(DATA_ROOT_ENV, str(elsewhere))
    monkeypatch.chdir(tmp_path)  # no ../shared from here
    options = ["data.image_size=8", "data.max_images=3", "data.num_workers=0", f"data.cache_dir={tmp_path / 'c'}"]
    cache = cache_from_config(load_config(None, options))
    assert len(cache) == 3 and cache.meta["root"] == str((elsewhere / "celeba").resolve())
