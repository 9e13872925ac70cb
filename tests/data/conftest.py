"""Small CelebA layouts in tmp_path, built from a few real images, for the error and corrupt-file cases."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

GARBAGE = b"this is not a JPEG"


def _rows(path: Path) -> dict[str, str]:
    """filename -> the rest of its row, for the per-image lines of an official file."""
    rows = {}
    for line in path.read_text().splitlines():
        name, _, rest = line.partition(" ")
        if name.endswith(".jpg"):
            rows[name] = rest
    return rows


@pytest.fixture(scope="session")
def celeba_rows(celeba_root: Path) -> dict[str, dict[str, str]]:
    return {
        name: _rows(celeba_root / name)
        for name in ("list_attr_celeba.txt", "list_eval_partition.txt", "identity_CelebA.txt")
    }


@pytest.fixture
def make_celeba(tmp_path: Path, celeba_root: Path, celeba_rows) -> Callable[..., Path]:
    """make_celeba(images, garbage=(), unlisted=(), unfiled=()) -> root of a CRLF official layout.

    ``images`` are real names copied from the shared subset; ``garbage`` names get a row and a corrupt file;
    ``unlisted`` are copied without an attribute row; ``unfiled`` get a row but no file.
    """

    def make(images: list[str], garbage=(), unlisted=(), unfiled=()) -> Path:
        root = tmp_path / "celeba"
        (root / "img_align_celeba").mkdir(parents=True)
        donor = images[0]
        for name in [*images, *unlisted]:
            shutil.copy(celeba_root / "img_align_celeba" / name, root / "img_align_celeba" / name)
        for name in garbage:
            (root / "img_align_celeba" / name).write_bytes(GARBAGE)
        listed = sorted([*images, *garbage, *unfiled])
        attr = celeba_rows["list_attr_celeba.txt"]
        header = (celeba_root / "list_attr_celeba.txt").read_text().splitlines()[1]
        lines = [str(len(listed)), header] + [f"{n} {attr.get(n, attr[donor])}" for n in listed]
        (root / "list_attr_celeba.txt").write_bytes(("\r\n".join(lines) + "\r\n").encode())
        for file in ("list_eval_partition.txt", "identity_CelebA.txt"):
            table = celeba_rows[file]
            text = "".join(f"{n} {table.get(n, table[donor])}\r\n" for n in listed)
            (root / file).write_bytes(text.encode())
        return root

    return make
