"""Atomic writes of files and folders: a crash at any moment leaves either the old one or the new one, never half
of one; and the one folder every cache lives under."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_UMASK = os.umask(0)
os.umask(_UMASK)


def default_permissions(path: str | Path) -> None:
    """The permissions open() would give (0644 under the usual umask): some writers (mkstemp) make 0600 files."""
    os.chmod(path, 0o666 & ~_UMASK)


def check_writable(path: str | Path, folder: bool) -> Path:
    """Fail before any work if ``path`` (a file, or a ``folder``) cannot be written; creates nothing.

    Raises OSError with the path and the reason (a file in the way, no permission), as writing it would later.
    """
    path = Path(path)
    if path.exists() and path.is_dir() != folder:
        kind = (errno.ENOTDIR, "exists and is a file, not a folder") if folder else (errno.EISDIR, "is a folder")
        raise OSError(kind[0], f"cannot write there: it {kind[1]}", str(path))
    existing = path if folder and path.exists() else path.parent  # files are renamed into place: the folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise OSError(errno.ENOTDIR, f"cannot create it: {existing} is a file, not a folder", str(path))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OSError(errno.EACCES, f"cannot write there: no write permission in {existing}", str(path))
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    default_permissions(tmp)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where facegen caches data: ``cache_dir``, else ``$FACEGEN_CACHE_DIR``, else ``~/.cache/facegen``."""
    return Path(cache_dir or os.environ.get("FACEGEN_CACHE_DIR") or Path.home() / ".cache" / "facegen").expanduser()


def temporary_sibling(path: Path, kind: str = "tmp") -> Path:
    """``.{kind}-{name}-{pid}`` beside ``path``: hidden, and the pid tells a live writer from a dead one."""
    return path.with_name(f".{kind}-{path.name}-{os.getpid()}")


@contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """``with atomic_folder(out) as tmp:`` write into ``tmp``; when the block ends cleanly ``tmp`` is renamed to
    ``out`` (replacing an older ``out``), when it raises ``tmp`` is removed. A folder named ``out`` is complete."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:  # a full disk or Ctrl-C mid-write: leave nothing half-written behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():  # a rename cannot replace a non-empty folder: move the old one aside first
        trash = temporary_sibling(path, "trash")
        os.rename(path, trash)
        os.rename(tmp, path)
        shutil.rmtree(trash)
    else:
        os.rename(tmp, path)
