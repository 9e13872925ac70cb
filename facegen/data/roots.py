"""Where the datasets live: one folder, ``$FACEGEN_DATA_ROOT``, holding ``celeba/``, ``celebamask-hq-512/`` ...

Configs name a dataset inside it as ``$FACEGEN_DATA_ROOT/celeba`` (the default ``data.root``), so one variable moves
every command and the tests to another disk. Unset, it is ``../shared/data`` (relative to the current directory:
beside the clone, where the project's own copy lives).
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ROOT_ENV = "FACEGEN_DATA_ROOT"
DEFAULT_DATA_ROOT = Path("..") / "shared" / "data"
_PREFIXES = ("${" + DATA_ROOT_ENV + "}", "$" + DATA_ROOT_ENV)


def data_root() -> Path:
    """``$FACEGEN_DATA_ROOT``, else ``../shared/data``."""
    return Path(os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT).expanduser()


def data_path(path: str | os.PathLike) -> Path:
    """``path`` with a leading ``$FACEGEN_DATA_ROOT`` (or ``${FACEGEN_DATA_ROOT}``) replaced by :func:`data_root`."""
    text = os.fspath(path)
    for prefix in _PREFIXES:
        rest = text.removeprefix(prefix)
        if rest != text and rest[:1] in ("", "/", os.sep):
            return data_root() / rest.lstrip("/" + os.sep)
    return Path(text).expanduser()


def where_to_put(dataset_folder: str) -> str:
    """The clause every missing-data error ends with: how to point facegen at the data."""
    return f"set {DATA_ROOT_ENV}=DIR (the folder holding {dataset_folder}/; now {data_root()})"
