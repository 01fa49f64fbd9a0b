"""Atomic, verified checkpoints on disk, TensorFlow-free: their folders, manifest and state, how
one is written, pinned, verified, listed and removed.  What goes into one (a model's weights and
its optimizers' state) is :mod:`augintae_tf.run.model_state`'s.

A checkpoint is a directory ``checkpoints/epoch-NNNNN/`` holding

- ``model.weights.h5``: every model variable, non-trainable ones included (BatchNorm statistics,
  the model's RNG step counter, the adversarial k), and no optimizer variables;
- ``optimizers.npz``: each optimizer's variables (iteration count, Adam moments...) in build order:
  the only copy of the optimizer state (Keras' ``save_weights`` would add a second one). Only the
  newest checkpoint keeps it: ``--resume`` continues from the newest, and the optimizer state is
  twice the size of the weights (Adam's two moments), so once a newer checkpoint is complete an
  older one drops it (:func:`drop_newest_only`: manifest first, then the file) and holds weights
  only, which is all ``generate``, ``evaluate`` and ``export`` read;
- ``state.json``: epoch, global step, the optimizers' names and the config the run was made with;
- ``manifest.json``, written last: size and SHA-256 of each file above.

It is written to a hidden ``.tmp-epoch-NNNNN-PID`` directory and renamed into place, so a process
killed at any moment leaves either the previous checkpoint or the new one, never half of one; a
failed write (a full disk) removes the temporary directory. A checkpoint is removed (rotation, a
re-save) the same way round: renamed to ``.old-epoch-NNNNN-PID``, then deleted, and a reader opens
all its files before reading any (:class:`Pinned`), so a run that is training can be read. h5py only ever writes to memory: the
bytes reach the disk through plain file writes, whose ENOSPC is a clean ``OSError`` (h5py failing
inside ``save_weights`` on a full disk left an open HDF5 file that crashed the process at exit).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Callable, Mapping

from augintae_tf.atomic import (fsync_path, is_no_space, no_space_error, open_nofollow, refuse_link,
                                write_bytes)
from augintae_tf.errors import RunError

NAME = re.compile(r"^epoch-(\d{5,})$")
# .tmp-: a checkpoint being written; .old-: one being removed (renamed first, then deleted)
TEMP = re.compile(r"^\.(tmp|old)-epoch-\d+-\d+$")
FORMAT = 2  # 1: no manifest, optimizer state also inside model.weights.h5
FILES = ("model.weights.h5", "optimizers.npz", "state.json")
NEWEST_ONLY = ("optimizers.npz",)  # kept by the newest checkpoint only (a manifest may omit them)
MANIFEST = "manifest.json"


def list_checkpoints(directory: str | os.PathLike) -> list[Path]:
    """Checkpoint directories in ``directory``, oldest first (temporary directories are ignored;
    nothing is verified here: see :func:`verify`)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir()
             if NAME.match(p.name) and p.is_dir() and not p.is_symlink()]  # a link is not ours
    return sorted(found, key=lambda p: int(NAME.match(p.name).group(1)))


def linked_checkpoints(directory: str | os.PathLike) -> list[Path]:
    """Entries of ``directory`` named like checkpoints that are symbolic links (refused by
    whoever reads the run: a link is never followed, read or removed)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if NAME.match(p.name) and p.is_symlink())


def discard(path: Path) -> None:
    """Remove checkpoint ``path`` so that it vanishes under its name at once: renamed to a
    hidden ``.old-epoch-*`` name, then deleted. A reader sees the whole checkpoint or none of
    it, never one half-deleted (files gone, folder still there). A file in its place (not a
    checkpoint) is unlinked; a symbolic link is refused: its target is not the run's."""
    if path.is_symlink():
        refuse_link(path, "directory")
    if not path.is_dir():
        path.unlink(missing_ok=True)
        return
    trash = path.with_name(f".old-{path.name}-{os.getpid()}")
    shutil.rmtree(trash, ignore_errors=True)
    try:
        os.rename(path, trash)
    except FileNotFoundError:  # already gone
        return
    shutil.rmtree(trash, ignore_errors=True)


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    found = list_checkpoints(directory)
    return found[-1] if found else None


def stale_temporaries(directory: str | os.PathLike) -> list[Path]:
    """``.tmp-epoch-*`` directories a killed process left behind."""
    directory = Path(directory)
    return sorted(p for p in directory.iterdir() if TEMP.match(p.name)) if directory.is_dir() else []


def epoch_of(checkpoint: str | os.PathLike) -> int:
    return int(NAME.match(Path(checkpoint).name).group(1))


def _write_file(path: Path, data: bytes) -> dict[str, Any]:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _publish(tmp: Path, final: Path) -> None:
    """The finished checkpoint ``tmp`` takes its name ``final`` (one rename; re-saving an epoch,
    after a resume, replaces it, or a file in its place)."""
    if os.path.lexists(final):
        discard(final)
    os.replace(tmp, final)


def _refuse_links(directory: str | os.PathLike, epoch: int) -> None:
    """A one-line RunError if writing ``directory/epoch-NNNNN`` would go through a link: the
    folder itself (rotation must not delete through it) or that epoch (re-saving it must not
    delete its target). Checked before any weights are gathered."""
    directory = Path(directory)
    refuse_link(directory, "directory")
    final = directory / f"epoch-{epoch:05d}"
    if final.is_symlink():
        refuse_link(final, "directory")


def write(directory: str | os.PathLike, epoch: int,
          contents: Callable[[], Mapping[str, bytes]], keep: int = 3) -> Path:
    """Write ``contents()`` (:data:`FILES`' bytes) as ``directory/epoch-NNNNN`` atomically, with
    its manifest written last, and keep only the ``keep`` newest checkpoints.

    ``contents`` is called after the link checks (a refused folder costs no weight gathering) and
    before the disk is touched (everything is in memory before a file is written).

    A full disk raises a one-line RunError naming the epoch, the path and the last complete
    checkpoint, after removing the temporary directory.
    """
    directory = Path(directory)
    final = directory / f"epoch-{epoch:05d}"
    tmp = directory / f".tmp-epoch-{epoch:05d}-{os.getpid()}"
    _refuse_links(directory, epoch)
    files = contents()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        manifest = {}
        for name, data in files.items():
            manifest[name] = _write_file(tmp / name, data)
        _write_file(tmp / MANIFEST, json.dumps({"format": FORMAT, "files": manifest}, indent=2).encode())
        fsync_path(tmp)
        _publish(tmp, final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if not is_no_space(exc):
            raise
        last = next((p for p in reversed(list_checkpoints(directory)) if verify(p) is None), None)
        raise no_space_error(f"checkpoint epoch {epoch}", final,
                             f"; the last complete checkpoint is "
                             f"{f'epoch {epoch_of(last)} ({last})' if last else 'none'}") from None
    for old in list_checkpoints(directory)[:-keep]:
        discard(old)
    for older in list_checkpoints(directory)[:-1]:
        drop_newest_only(older)
    return final


def drop_newest_only(checkpoint: Path) -> None:
    """Remove :data:`NEWEST_ONLY` files (the optimizer state) from an older ``checkpoint``: its
    manifest is rewritten without them first (atomically), then they are unlinked. A reader
    pins the optimizer file before the manifest (:class:`Pinned`), so it sees either both (the
    file still there, whichever manifest) or neither; a process killed between the two steps
    leaves an unlisted file, ignored. Format-1 checkpoints (no manifest) are left as they are."""
    manifest_path = checkpoint / MANIFEST
    try:
        with pin(checkpoint) as files:
            manifest = files.json(MANIFEST) if MANIFEST in files.handles else None
    except RunError:
        return  # damaged: left for verify to report
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return
    listed = [name for name in NEWEST_ONLY if name in manifest["files"]]
    if listed:
        kept = {k: v for k, v in manifest["files"].items() if k not in NEWEST_ONLY}
        write_bytes(manifest_path, json.dumps({**manifest, "files": kept}, indent=2).encode(),
                    what="a checkpoint manifest")
    for name in NEWEST_ONLY:
        path = checkpoint / name
        if path.is_file() and not path.is_symlink():
            path.unlink()


def holds(checkpoint: str | os.PathLike, name: str, files: "Pinned | None" = None) -> bool:
    """Whether ``checkpoint`` (verified) holds file ``name``, e.g. ``optimizers.npz``: listed
    in its manifest (format 2) or present (format 1)."""
    if files is None:
        with pin(checkpoint) as files:
            return holds(checkpoint, name, files)
    if name not in files.handles:
        return False
    if MANIFEST not in files.handles:
        return True
    try:
        return name in files.json(MANIFEST).get("files", {})
    except (RunError, AttributeError):
        return False


def sizes(checkpoint: str | os.PathLike) -> dict[str, int]:
    """Bytes of each file of ``checkpoint`` (what is there; links not followed)."""
    checkpoint = Path(checkpoint)
    return {name: (checkpoint / name).lstat().st_size for name in (*FILES, MANIFEST)
            if (checkpoint / name).is_file() and not (checkpoint / name).is_symlink()}


def megabytes(nbytes: int) -> float:
    return nbytes / 1e6


def size_line(directory: str | os.PathLike) -> str:
    """One line on what the checkpoints in ``directory`` take on disk: the newest (weights and
    optimizer state) and the older ones (weights only), in MB."""
    found = list_checkpoints(directory)
    if not found:
        return f"no checkpoint in {directory}"
    newest, older = found[-1], found[:-1]
    total = [sum(sizes(p).values()) for p in found]
    line = (f"checkpoints: {megabytes(sum(total)):.1f} MB in {directory} (newest {newest.name}: "
            f"{megabytes(total[-1]):.1f} MB")
    if older:
        each = ", ".join(f"{megabytes(t):.1f}" for t in total[:-1])
        line += f"; {len(older)} older, weights only: {each} MB"
    return line + ")"


class Pinned:
    """Every file of one checkpoint, opened together before any is read (``with pin(path)``);
    ``names``: the files it holds besides its manifest (a model checkpoint's :data:`FILES`, or a
    stage's own, :mod:`augintae_tf.run.artifacts`).

    A training run that rotates the checkpoint away meanwhile (:func:`discard`: renamed, then
    deleted) cannot take an open file away, so what is verified is what gets restored, however
    long the reading takes. A missing file is left out (:func:`verify` names it); a symbolic
    link or a non-regular file (a FIFO would block) is recorded as the checkpoint's problem.
    """

    def __init__(self, checkpoint: str | os.PathLike, names: tuple[str, ...] = FILES):
        self.path, self.handles, self.problem = Path(checkpoint), {}, None
        self.names = tuple(names)
        for name in (*self.names, MANIFEST):
            try:
                fd = open_nofollow(self.path / name, os.O_RDONLY)
            except FileNotFoundError:
                continue
            except NotADirectoryError:  # a file where the checkpoint folder should be
                self.problem = "it is not a directory"
                break
            except RunError:
                self.problem = f"{name} is a symbolic link or not a regular file (not followed)"
                break
            self.handles[name] = os.fdopen(fd, "rb")

    def __enter__(self) -> "Pinned":
        return self

    def __exit__(self, *exc) -> None:
        for handle in self.handles.values():
            handle.close()

    def read(self, name: str) -> bytes:
        if name not in self.handles:
            raise RunError(f"{name} is missing")
        handle = self.handles[name]
        handle.seek(0)
        return handle.read()

    def size(self, name: str) -> int:
        return os.fstat(self.handles[name].fileno()).st_size

    def sha256(self, name: str) -> str:
        digest, handle = hashlib.sha256(), self.handles[name]
        handle.seek(0)
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
        return digest.hexdigest()

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.read(name))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RunError(f"{name} is not valid JSON ({exc})") from None


pin = Pinned  # ``with checkpoints.pin(path) as files:``


# state.json's fields: (type, smallest value); a crafted file is refused, never interpreted.
STATE_FIELDS = {"epoch": (int, 0), "step": (int, 0), "rng_step": (int, 0), "format": (int, 1),
                "optimizers": (list, None), "config": (dict, None)}


def state_problem(state: Any) -> str | None:
    """What is wrong with a loaded ``state.json`` (one phrase), or None. ``epoch`` is required;
    the others are checked when present: integers >= their minimum (not bools), ``optimizers``
    a list of names, ``config`` a mapping."""
    if not isinstance(state, dict) or "epoch" not in state:
        return "state.json has no epoch"
    for key, (kind, low) in STATE_FIELDS.items():
        if key not in state:
            continue
        value = state[key]
        if not isinstance(value, kind) or isinstance(value, bool) or (
                low is not None and value < low):
            wanted = f"an integer >= {low}" if kind is int else f"a {kind.__name__}"
            return f"state.json field {key!r} must be {wanted}, got {json.dumps(value)[:60]}"
    if not all(isinstance(name, str) for name in state.get("optimizers", [])):
        return "state.json field 'optimizers' must list optimizer names"
    return None


def verify(checkpoint: str | os.PathLike, files: Pinned | None = None) -> str | None:
    """None when ``checkpoint`` is complete and intact, else what is wrong with it (one phrase);
    ``files``: its :class:`Pinned` files (default: pinned here).

    Format-2 checkpoints are checked against their manifest (sizes and SHA-256); format-1 ones
    (written before manifests existed) only for their files and a readable ``state.json``. The
    epoch ``state.json`` claims must be the one the checkpoint is named after.
    """
    checkpoint = Path(checkpoint)
    if files is None:
        with pin(checkpoint) as files:
            return _verify(checkpoint, files)
    return _verify(checkpoint, files)


def _verify(checkpoint: Path, files: Pinned) -> str | None:
    try:
        if files.problem:
            return files.problem
        state = files.json("state.json")
        if state_problem(state):
            return state_problem(state)
        named = NAME.match(checkpoint.name)
        if named and state["epoch"] != int(named.group(1)):
            return f"state.json claims epoch {state['epoch']}, but the checkpoint is {checkpoint.name}"
        if state.get("format", 1) < FORMAT:
            missing = [n for n in files.names if n not in files.handles]
            return f"{', '.join(missing)} missing" if missing else None
        manifest = files.json(MANIFEST).get("files", {})
    except RunError as exc:
        return str(exc)
    except AttributeError:
        return f"{MANIFEST} is not a mapping"
    for name in files.names:
        entry = manifest.get(name)
        if entry is None and name in NEWEST_ONLY:
            continue  # an older checkpoint: weights only
        if not isinstance(entry, dict):
            return f"{MANIFEST} does not list {name}"
        if name not in files.handles:
            return f"{name} is missing"
        if files.size(name) != entry.get("size"):
            return f"{name} has {files.size(name)} bytes, the manifest says {entry.get('size')}"
        if files.sha256(name) != entry.get("sha256"):
            return f"{name} does not match its SHA-256 in the manifest"
    return None


def weights_sha256(checkpoint: str | os.PathLike, files: Pinned | None = None) -> str:
    """SHA-256 of ``checkpoint``'s ``model.weights.h5``: what its manifest says, else (format 1,
    or a manifest that does not list it) of the file itself; ``files``: its pinned files."""
    if files is None:
        with pin(checkpoint) as files:
            return weights_sha256(checkpoint, files)
    try:
        return files.json(MANIFEST)["files"]["model.weights.h5"]["sha256"]
    except (KeyError, TypeError, RunError):
        return hashlib.sha256(files.read("model.weights.h5")).hexdigest()


def read_state(checkpoint: str | os.PathLike, files: Pinned | None = None) -> dict[str, Any]:
    if files is None:
        with pin(checkpoint) as files:
            return _read_state(checkpoint, files)
    return _read_state(checkpoint, files)


def _read_state(checkpoint: str | os.PathLike, files: Pinned) -> dict[str, Any]:
    if "state.json" not in files.handles:
        raise RunError(f"checkpoint {checkpoint} has no state.json; it is not a complete checkpoint")
    try:
        state = files.json("state.json")
    except RunError as exc:
        raise RunError(f"checkpoint {checkpoint}: {exc}") from None
    if state_problem(state):
        raise RunError(f"checkpoint {checkpoint}: {state_problem(state)}")
    return state
