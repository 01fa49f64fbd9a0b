"""Atomic writes: the one way this package puts a file (or a directory) on disk.

Every writer goes through :func:`atomic_path` (or its shorthands): the data goes to a hidden
temporary name in the destination's own directory (a rename is only atomic within one
filesystem), is fsynced, then renamed over the destination. Any error removes the temporary, so
a failure or a kill leaves the previous file or the new one, never half of one, and never a
stray temporary that keeps a full disk full. A full disk (ENOSPC) becomes one :class:`RunError`
line naming what was being written and where.

TensorFlow-free on purpose: the CLI imports it before TensorFlow.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator, Sequence

from augintae_tf.errors import RunError

TEMP_MARK = ".tmp"
FSYNC_THREADS = 16  # atomic_paths: concurrent fsyncs share the filesystem's journal commits
_UMASK = os.umask(0o022)
os.umask(_UMASK)  # every temporary name contains it: stale ones are recognisable


def is_no_space(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it wraps) is a full disk. h5py, TensorFlow and Pillow
    wrap ENOSPC in their own types, so the message is checked as well as ``errno``."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(exc)
        if "No space left on device" in text or "errno = 28" in text or "Disk quota exceeded" in text:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def no_space_error(what: str, path: str | os.PathLike, extra: str = "") -> RunError:
    return RunError(f"no space left on device while writing {what} to {path}{extra}")


READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)  # a write the filesystem or mode refuses


def refuse_link(path: str | os.PathLike, kind: str = "file") -> None:
    """RunError when ``path`` is a symbolic link, or exists and is not a regular ``kind``
    ("file" or "directory"). The run directory, an output folder and a model base hold the
    project's own files: writing through a link would change a file outside them (a linked
    ``metrics.jsonl`` lost its target's last line), so links are refused rather than followed."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise RunError(f"{path} is a symbolic link; augintae-tf writes only its own files there "
                       "and does not follow links (remove the link)")
    wanted = stat.S_ISDIR if kind == "directory" else stat.S_ISREG
    if not wanted(mode):
        raise RunError(f"{path} is not a regular {kind}; augintae-tf writes only its own files "
                       "there (remove it)")


def _below(path: Path, root: Path) -> list[Path]:
    """The folders from just below ``root`` down to ``path`` (``[]`` when they are the same);
    a ValueError when ``path`` is not under ``root``."""
    parts = Path(os.path.normpath(path)).relative_to(os.path.normpath(root)).parts
    if ".." in parts:
        raise ValueError(f"{path} is not under {root}")
    return [Path(root).joinpath(*parts[:i + 1]) for i in range(len(parts))]


def safe_dir(path: str | os.PathLike, root: str | os.PathLike, hint: str = "") -> Path:
    """Make sure folder ``path`` exists under ``root`` (a run directory or an ``--out``), with no
    symbolic link or non-folder anywhere below ``root``: each existing step is checked with
    ``lstat`` (:func:`refuse_link`), each missing one made with ``mkdir``, never through a link.

    ``root`` itself is created with its parents and may be a link: where a run or an output
    lives is the user's choice, what augintae-tf writes inside it is its own. The one way a
    folder under a run or an ``--out`` is made; returns ``path``. A read-only disk is one
    RunError line (ending in ``hint``).
    """
    path, root = Path(path), Path(root)
    try:
        steps = _below(path, root)
    except ValueError:  # e.g. --out DIR/.. is not below its "parent": nothing to check below
        root, steps = path, []
    _make(root, lambda: root.mkdir(parents=True, exist_ok=True), hint)
    for step in steps:
        refuse_link(step, "directory")
        _make(step, lambda: step.mkdir(exist_ok=True), hint)
        refuse_link(step, "directory")  # a link swapped in after the first check
    return path


def _make(folder: Path, mkdir, hint: str) -> None:
    try:
        mkdir()
    except FileExistsError:  # a file (or a dangling link) of that name: refuse_link names it
        refuse_link(folder, "directory")
        raise
    except OSError as exc:
        if is_no_space(exc):
            raise no_space_error("a folder", folder) from None
        problem = read_only_error(exc, folder, hint)
        if problem:
            raise problem from None
        raise


def check_tree(root: str | os.PathLike) -> None:
    """RunError naming the first symbolic link or non-regular file (FIFO, socket, device) found
    anywhere under folder ``root`` (links are not followed). Commands that write into a run
    check it first, so nothing they write or remove can land outside it through a link."""
    for folder, dirs, files in os.walk(root):  # os.walk lists a linked folder but never enters it
        for name in sorted(dirs):
            refuse_link(Path(folder) / name, "directory")
        for name in sorted(files):
            refuse_link(Path(folder) / name)


def open_nofollow(path: str | os.PathLike, flags: int, mode: int = 0o644) -> int:
    """``os.open`` of a regular file that refuses links (``O_NOFOLLOW``, checked again on the
    open descriptor, so a link swapped in after the check is refused too)."""
    refuse_link(path)
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK, mode)  # a FIFO must not block
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            refuse_link(path)
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        refuse_link(path)
        raise RunError(f"{path} is not a regular file; augintae-tf writes only its own files there")
    os.set_blocking(fd, True)
    return fd


def read_only_error(exc: OSError, path: str | os.PathLike, hint: str = "") -> RunError | None:
    """The one line for a write refused by a read-only filesystem or directory, else None."""
    if getattr(exc, "errno", None) not in READ_ONLY:
        return None
    return RunError(f"cannot write {path}: {exc.strerror or exc} (a read-only run directory or "
                    f"disk){hint}")


def read_only_problem(folder: str | os.PathLike) -> OSError | None:
    """The error a write into ``folder`` gets when it is read-only (probed by creating and
    removing a temporary file: ``os.access`` says yes to root on a chmod'd folder), else None."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".probe.", suffix=TEMP_MARK)
    except OSError as exc:
        if exc.errno in READ_ONLY:
            return exc
        raise
    os.close(fd)
    os.unlink(tmp)
    return None


def fsync_path(path: str | os.PathLike) -> None:
    """Flush a file (or a directory entry list) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_name(path: Path, suffix: str = "") -> Path:
    """A fresh hidden temporary name beside ``path`` (created empty, so it is unique)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_MARK + suffix)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; the file should get the usual mode
    return Path(tmp)


def _create_temporary(path: Path, what: str | None, create) -> Path:
    """``create()`` a temporary beside ``path`` (parents made first); a full disk is one line."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return create()
    except OSError as exc:
        if is_no_space(exc):
            raise no_space_error(what or path.name, path) from None
        if read_only_error(exc, path.parent):
            raise read_only_error(exc, path.parent) from None
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, what: str | None = None, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on any error it is removed.

    ``suffix`` ends the temporary name (Keras insists on ``.weights.h5``); ``what`` names the
    content in a full-disk error (default: the file name).
    """
    path = Path(path)
    refuse_link(path)  # os.replace would swap out a link (or fail on a folder) the user made
    tmp = _create_temporary(path, what, lambda: temp_name(path, suffix))
    try:
        yield tmp
        fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, Exception) and is_no_space(exc):
            raise no_space_error(what or path.name, path) from None
        raise


@contextlib.contextmanager
def atomic_paths(paths: Sequence[str | os.PathLike], what: str | None = None) -> Iterator[list[Path]]:
    """:func:`atomic_path` for many files: yield one temporary per path; on success every
    temporary is fsynced, then each is renamed over its path; on any error all are removed.

    Each file is still atomic (the old one or the new one, never half of one); the set is not (a
    kill during the renames leaves some new files beside old ones). Why a batch: one write-fsync-
    rename per file waits for one journal commit per file (ext4), most of the time of writing a
    thousand small images; fsyncing the written files together, from :data:`FSYNC_THREADS`
    threads (``fsync`` releases the GIL), lets one commit carry many of them.
    """
    paths = [Path(p) for p in paths]
    for path in paths:
        refuse_link(path)
    temps: list[Path] = []
    renamed = 0
    try:
        for path in paths:
            temps.append(_create_temporary(path, what, lambda: temp_name(path)))
        yield list(temps)
        with ThreadPoolExecutor(max(1, min(FSYNC_THREADS, len(temps)))) as pool:
            list(pool.map(fsync_path, temps))
        for tmp, path in zip(temps, paths):
            os.replace(tmp, path)
            renamed += 1
    except BaseException as exc:
        for tmp in temps[renamed:]:
            with contextlib.suppress(OSError):
                tmp.unlink()
        if isinstance(exc, Exception) and is_no_space(exc):
            raise no_space_error(what or "files", paths[0].parent) from None
        raise


def write_bytes(path: str | os.PathLike, data: bytes, what: str | None = None) -> Path:
    with atomic_path(path, what) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, what: str | None = None) -> Path:
    return write_bytes(path, text.encode("utf-8"), what)


def write_json(path: str | os.PathLike, data: Any, what: str | None = None, **dump: Any) -> Path:
    return write_text(path, json.dumps(data, **{"indent": 2, "default": float, **dump}) + "\n", what)
