"""Atomic writes of files and folders: a crash at any moment leaves either the old one or the new one, never half
of one; output folders and files that never replace what a command did not write; locks on folders; and the one
folder every cache lives under."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
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


def named(err: OSError, path: str | Path, tmp: Path | None = None) -> OSError:
    """``err`` naming ``path`` when it names no file (a full disk inside write() says only ENOSPC), and naming the
    file it was writing under its final name when it names one inside the temporary folder ``tmp``."""
    if err.errno is None:
        return err
    if err.filename is None:
        return OSError(err.errno, err.strerror, str(path))
    if tmp is not None and Path(err.filename).is_relative_to(tmp):
        return OSError(err.errno, err.strerror, str(path / Path(err.filename).relative_to(tmp)))
    return err


def atomic_write_bytes(path: str | Path, data: bytes, replace: bool = True) -> None:
    """Write ``path`` whole or not at all; with ``replace=False`` an existing ``path`` is never replaced, even one
    another process wrote meanwhile (FileExistsError)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    default_permissions(tmp)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
        else:  # link() fails on an existing name: the check and the write are one step
            os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(f"{path} exists (written meanwhile): choose another name, or --overwrite") from None
    except OSError as err:
        raise named(err, path) from None
    finally:
        Path(tmp).unlink(missing_ok=True)


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
    remove_stale_temporaries(path)
    tmp = temporary_sibling(path)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException as err:  # a full disk or Ctrl-C mid-write: leave nothing half-written behind
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, OSError):
            raise named(err, path, tmp) from None
        raise
    if path.exists():  # a rename cannot replace a non-empty folder: move the old one aside first
        trash = temporary_sibling(path, "trash")
        os.rename(path, trash)
        os.rename(tmp, path)
        shutil.rmtree(trash)
    else:
        os.rename(tmp, path)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temporaries(path: Path) -> None:
    """Remove the ``temporary_sibling``s of ``path`` that processes no longer alive left (killed mid-write)."""
    pattern = re.compile(rf"^\.(?:tmp|trash)-{re.escape(path.name)}-(\d+)$")
    for sibling in path.parent.iterdir() if path.parent.is_dir() else ():
        match = pattern.match(sibling.name)
        if match and not pid_alive(int(match.group(1))):
            if sibling.is_dir() and not sibling.is_symlink():
                shutil.rmtree(sibling, ignore_errors=True)
            else:
                sibling.unlink(missing_ok=True)


def regular_file(path: str | Path, option: str) -> Path:
    """``path`` if it is an existing regular file (a FIFO or a device would block or never end), else one line."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{option} {path}: no such file")
    if not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file (a pipe, socket or device)"
        raise ValueError(f"{option} {path}: {kind}; give a file")
    return path


def check_output_file(path: str | Path, overwrite: bool, option: str = "--out") -> Path:
    """Before any work: ``path`` can be written, and it does not exist unless ``overwrite`` (FileExistsError)."""
    if not str(path).strip():
        raise ValueError(f"{option} '': give a file name")
    path = check_writable(path, folder=False)
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise FileExistsError(f"{option} {path} exists: choose another name, or pass --overwrite to replace it")
    return path


def check_output_folder(path: str | Path, overwrite: bool, option: str = "--out") -> Path:
    """Before any work: ``path`` can be written, and is a new or empty folder unless ``overwrite`` (which lets a
    command replace its own file names there; other files always stay)."""
    if not str(path).strip():
        raise ValueError(f"{option} '': give a folder name (an empty one would write into the current folder)")
    path = check_writable(path, folder=True)
    if path.is_dir() and not overwrite:
        remove_stale_temporaries(path / _INSIDE)
        held = sorted(p.name for p in path.iterdir() if not p.name.startswith(f".tmp-{_INSIDE}-"))
        if held:
            shown = ", ".join(held[:3]) + (f" and {len(held) - 3} more" if len(held) > 3 else "")
            raise FileExistsError(
                f"{option} {path} already holds files ({shown}): choose a new or empty folder, or pass "
                "--overwrite to write into it (files of the same names are replaced, others stay)"
            )
    return path


_INSIDE = "facegen-out"  # names the temporary a command writes into inside an existing output folder


@contextmanager
def output_folder(path: str | Path, overwrite: bool, option: str = "--out") -> Iterator[Path]:
    """``with output_folder(out, overwrite) as tmp:`` write a command's files into ``tmp``; when the block ends they
    appear in ``out``: a new ``out`` appears whole (renamed into place), an existing one gets them file by file.
    Refused as ``check_output_folder`` refuses, and checked again at the end (another process may have written
    there meanwhile); when the block raises, nothing of it is left."""
    path = check_output_folder(path, overwrite, option)
    fresh = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path if fresh else path / _INSIDE)
    tmp.mkdir()
    try:
        yield tmp
        check_output_folder(path, overwrite, option)
        try:
            if fresh:
                os.rename(tmp, path)  # onto an empty folder made meanwhile it works, onto a filled one it fails
            else:
                for item in sorted(tmp.iterdir()):
                    os.replace(item, path / item.name)
        except OSError as err:
            if err.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise FileExistsError(f"{option} {path}: another process wrote files there meanwhile") from None
            raise
    except OSError as err:
        raise named(err, path, tmp) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class LockedError(FileExistsError):
    """Another live process holds the lock: going on would interleave two writers."""


@contextmanager
def path_lock(path: str | Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (a folder a process writes) for the block: a file ``.NAME.lock`` beside
    it, flock()ed and holding our pid, so ``path`` itself is untouched. Another process asking meanwhile gets
    ``LockedError`` naming the holder; the kernel drops a lock with its process, so one left by a killed process
    is simply taken over. The parent folder is made if missing and removed again if the block leaves it empty."""
    path = Path(path)
    folder, created = path.parent, not path.parent.exists()
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / f".{path.name}.lock"
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise LockedError(f"{path} is in use by {what} (process {holder}): wait for it or stop it") from None
        try:
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                break  # else its holder removed the file while we waited for it: lock the one there now
        except FileNotFoundError:
            pass
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)  # while still locked, so no one holds a lock on a file that is gone
        os.close(fd)
        if created and not any(folder.iterdir()):
            folder.rmdir()


def preallocated_npy(path: Path, dtype, shape: tuple[int, ...]):
    """``np.lib.format.open_memmap(path, "w+")`` with its disk blocks reserved first: a full disk is an OSError
    naming the file now, not a SIGBUS that kills the process when a page of the map is written later."""
    import numpy as np

    array = None
    try:
        array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
        with open(path, "r+b") as handle:
            os.posix_fallocate(handle.fileno(), 0, os.fstat(handle.fileno()).st_size)
    except OSError as err:
        if err.errno in (errno.EOPNOTSUPP, errno.EINVAL) and array is not None:  # cannot reserve: write as before
            return array
        array = None  # unmapped before the file goes
        Path(path).unlink(missing_ok=True)
        raise named(err, path) from None
    return array


def save_safetensors(tensors: dict, path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """``safetensors.torch.save_file``, 0644 like every other file, with a write failure (a full disk) as the
    OSError it is, naming the file, and no partial file left."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    try:
        save_file(tensors, str(path), metadata=metadata)
    except SafetensorError as err:
        Path(path).unlink(missing_ok=True)
        code = re.search(r"os error (\d+)", str(err))
        if code is None:
            raise
        raise OSError(int(code.group(1)), os.strerror(int(code.group(1))), str(path)) from None
    default_permissions(path)


def save_torch(obj: Any, path: str | Path) -> None:
    """``torch.save`` through a Python file, so a full disk is an OSError naming the file (torch's own writer says
    only "unexpected pos"), 0644, no partial file left."""
    import torch

    try:
        with open(path, "wb") as handle:
            torch.save(obj, handle)
    except (OSError, RuntimeError) as err:
        Path(path).unlink(missing_ok=True)
        failed = err if isinstance(err, OSError) else err.__context__  # torch's writer raises anew while closing
        if not isinstance(failed, OSError):
            raise
        raise named(failed, path) from None
    default_permissions(path)
