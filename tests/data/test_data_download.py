"""download_celeba fails fast, offline, with instructions (no test here touches the network)."""

import sys
import time
import types
from pathlib import Path

import pytest
import torchvision.datasets.celeba

from facegen.data import download as download_module
from facegen.data import download_celeba

NEEDED = ("img_align_celeba", "list_attr_celeba.txt", "list_eval_partition.txt", "identity_CelebA.txt")


def _assert_instructions(message: str, root) -> None:
    assert all(name in message for name in NEEDED)
    assert str(root) in message and "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html" in message


def test_without_gdown(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "gdown", None)  # makes `import gdown` fail
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="'gdown' package is not installed") as error:
        download_celeba(tmp_path / "celeba")
    assert time.monotonic() - started < 2
    _assert_instructions(str(error.value), tmp_path / "celeba")


def test_without_network(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "gdown", types.ModuleType("gdown"))
    requested = []

    def offline(file_id, root, filename=None, md5=None):
        requested.append((Path(root), filename))
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(torchvision.datasets.celeba, "download_file_from_google_drive", offline)
    with pytest.raises(RuntimeError, match="ConnectionError: Name or service not known") as error:
        download_celeba(tmp_path / "celeba")
    _assert_instructions(str(error.value), tmp_path / "celeba")
    assert requested == [(tmp_path / "celeba", "img_align_celeba.zip")]  # straight into root, no celeba/ below


def test_any_download_failure_becomes_the_same_message(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "gdown", types.ModuleType("gdown"))
    monkeypatch.setattr(download_module, "_torchvision_download", lambda root: 1 / 0)
    with pytest.raises(RuntimeError, match="Cannot download CelebA") as error:
        download_celeba(tmp_path)
    _assert_instructions(str(error.value), tmp_path)


def test_data_already_in_place_is_kept(celeba_root, monkeypatch):
    monkeypatch.setattr(download_module, "_torchvision_download", lambda root: 1 / 0)
    download_celeba(celeba_root)  # no download attempted, nothing raised
