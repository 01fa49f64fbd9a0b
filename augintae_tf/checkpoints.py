"""Atomic, verified training checkpoints: model weights, every optimizer's state, the counters.

A checkpoint is a directory ``checkpoints/epoch-NNNNN/`` holding

- ``model.weights.h5``: every model variable, non-trainable ones included (BatchNorm statistics,
  the model's RNG step counter, the adversarial k), and no optimizer variables;
- ``optimizers.npz``: each optimizer's variables (iteration count, Adam moments...) in build order:
  the only copy of the optimizer state (Keras' ``save_weights`` would add a second one);
- ``state.json``: epoch, global step, the optimizers' names and the config the run was made with;
- ``manifest.json``, written last: size and SHA-256 of each file above.

It is written to a hidden ``.tmp-epoch-NNNNN-PID`` directory and renamed into place, so a process
killed at any moment leaves either the previous checkpoint or the new one, never half of one; a
failed write (a full disk) removes the temporary directory. h5py only ever writes to memory: the
bytes reach the disk through plain file writes, whose ENOSPC is a clean ``OSError`` (h5py failing
inside ``save_weights`` on a full disk left an open HDF5 file that crashed the process at exit).
The model and its optimizers must be built before :func:`restore` (see ``build_for_training``):
Keras 3 silently skips optimizer state for variables that do not exist yet.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import signal
import zipfile
from pathlib import Path
from typing import Any, Mapping

import keras
import numpy as np
from keras.src.saving import saving_lib

from augintae_tf.atomic import fsync_path, is_no_space, no_space_error, refuse_link
from augintae_tf.errors import RunError

NAME = re.compile(r"^epoch-(\d{5,})$")
TEMP = re.compile(r"^\.tmp-epoch-\d+-\d+$")
FORMAT = 2  # 1: no manifest, optimizer state also inside model.weights.h5
FILES = ("model.weights.h5", "optimizers.npz", "state.json")
MANIFEST = "manifest.json"
KILL_ENV = "AUGINTAE_TEST_KILL_AT"  # tests only: "POINT" or "POINT@EPOCH" -> SIGKILL there


def _kill_point(point: str, epoch: int) -> None:
    """Test hook: die (SIGKILL, no cleanup at all) at a named point of a checkpoint write."""
    wanted = os.environ.get(KILL_ENV)
    if wanted and wanted in (point, f"{point}@{epoch}"):
        os.kill(os.getpid(), signal.SIGKILL)


def optimizers_of(model: keras.Model) -> dict[str, keras.optimizers.Optimizer]:
    """The model's optimizers by attribute name (``optimizer``, plus e.g. ``d_optimizer``): what
    the model contract's ``optimizers()`` (and the inversion stage's) returns, less those an
    uncompiled model (inference) has not got."""
    return {name: opt for name, opt in model.optimizers().items() if opt is not None}


def list_checkpoints(directory: str | os.PathLike) -> list[Path]:
    """Checkpoint directories in ``directory``, oldest first (temporary directories are ignored;
    nothing is verified here: see :func:`verify`)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if p.is_dir() and NAME.match(p.name)]
    return sorted(found, key=lambda p: int(NAME.match(p.name).group(1)))


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    found = list_checkpoints(directory)
    return found[-1] if found else None


def stale_temporaries(directory: str | os.PathLike) -> list[Path]:
    """``.tmp-epoch-*`` directories a killed process left behind."""
    directory = Path(directory)
    return sorted(p for p in directory.iterdir() if TEMP.match(p.name)) if directory.is_dir() else []


def epoch_of(checkpoint: str | os.PathLike) -> int:
    return int(NAME.match(Path(checkpoint).name).group(1))


def _weights_bytes(model: keras.Model, skip: list[Any]) -> bytes:
    """``model.weights.h5`` in memory, without the optimizers in ``skip``. ``_save_state`` is what
    ``save_weights`` runs, minus its file handling (Keras 3.15, pinned below 4)."""
    buffer = io.BytesIO()
    store = saving_lib.H5IOStore(buffer, mode="w")
    try:
        saving_lib._save_state(model, weights_store=store, assets_store=None, inner_path="",
                               visited_saveables={id(o) for o in skip})
    finally:
        store.close()
    return buffer.getvalue()


def _write_file(path: Path, data: bytes) -> dict[str, Any]:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _contents(model: keras.Model, epoch: int, state: Mapping[str, Any]) -> dict[str, bytes]:
    optimizers = optimizers_of(model)
    arrays = {f"{name}/{i:05d}": np.asarray(v.numpy())
              for name, opt in optimizers.items() for i, v in enumerate(opt.variables)}
    npz = io.BytesIO()
    np.savez(npz, **arrays)
    payload = {"epoch": epoch, "format": FORMAT, "optimizers": sorted(optimizers), **state}
    return {"model.weights.h5": _weights_bytes(model, list(optimizers.values())),
            "optimizers.npz": npz.getvalue(),
            "state.json": json.dumps(payload, indent=2, default=str).encode()}


def save(directory: str | os.PathLike, model: keras.Model, epoch: int, state: Mapping[str, Any],
         keep: int = 3) -> Path:
    """Write ``directory/epoch-NNNNN`` atomically and keep only the ``keep`` newest checkpoints.

    A full disk raises a one-line RunError naming the epoch, the path and the last complete
    checkpoint, after removing the temporary directory.
    """
    directory = Path(directory)
    final = directory / f"epoch-{epoch:05d}"
    tmp = directory / f".tmp-epoch-{epoch:05d}-{os.getpid()}"
    refuse_link(directory, "directory")  # rotation below must not delete through a link
    contents = _contents(model, epoch, state)  # everything in memory before the disk is touched
    try:
        directory.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        manifest = {}
        for name, data in contents.items():
            _kill_point(name, epoch)
            manifest[name] = _write_file(tmp / name, data)
        _kill_point("manifest", epoch)
        _write_file(tmp / MANIFEST, json.dumps({"format": FORMAT, "files": manifest}, indent=2).encode())
        fsync_path(tmp)
        _kill_point("rename", epoch)
        if final.exists():  # re-saving an epoch (e.g. after a resume) replaces it
            shutil.rmtree(final)
        os.replace(tmp, final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if not is_no_space(exc):
            raise
        last = next((p for p in reversed(list_checkpoints(directory)) if verify(p) is None), None)
        raise no_space_error(f"checkpoint epoch {epoch}", final,
                             f"; the last complete checkpoint is "
                             f"{f'epoch {epoch_of(last)} ({last})' if last else 'none'}") from None
    for old in list_checkpoints(directory)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise RunError(f"{path.name} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunError(f"{path.name} is not valid JSON ({exc})") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


def verify(checkpoint: str | os.PathLike) -> str | None:
    """None when ``checkpoint`` is complete and intact, else what is wrong with it (one phrase).

    Format-2 checkpoints are checked against their manifest (sizes and SHA-256); format-1 ones
    (written before manifests existed) only for their files and a readable ``state.json``.
    """
    checkpoint = Path(checkpoint)
    try:
        state = _read_json(checkpoint / "state.json")
        if state_problem(state):
            return state_problem(state)
        if state.get("format", 1) < FORMAT:
            missing = [n for n in FILES if not (checkpoint / n).is_file()]
            return f"{', '.join(missing)} missing" if missing else None
        files = _read_json(checkpoint / MANIFEST).get("files", {})
    except RunError as exc:
        return str(exc)
    except AttributeError:
        return f"{MANIFEST} is not a mapping"
    for name in FILES:
        path, entry = checkpoint / name, files.get(name)
        if entry is None:
            return f"{MANIFEST} does not list {name}"
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != entry.get("size"):
            return f"{name} has {path.stat().st_size} bytes, the manifest says {entry.get('size')}"
        if _sha256(path) != entry.get("sha256"):
            return f"{name} does not match its SHA-256 in the manifest"
    return None


def read_state(checkpoint: str | os.PathLike) -> dict[str, Any]:
    path = Path(checkpoint) / "state.json"
    if not path.is_file():
        raise RunError(f"checkpoint {checkpoint} has no state.json; it is not a complete checkpoint")
    try:
        state = _read_json(path)
    except RunError as exc:
        raise RunError(f"checkpoint {checkpoint}: {exc}") from None
    if state_problem(state):
        raise RunError(f"checkpoint {checkpoint}: {state_problem(state)}")
    return state


def restore(checkpoint: str | os.PathLike, model: keras.Model, with_optimizers: bool = True,
            verified: bool = False) -> dict[str, Any]:
    """Verify (unless ``verified``: the caller just did), then load weights (and optimizer state)
    into an already built model; return the saved state. A damaged checkpoint or one that does
    not fit the model is a one-line RunError."""
    checkpoint = Path(checkpoint)
    problem = None if verified else verify(checkpoint)
    if problem:
        raise RunError(f"checkpoint {checkpoint} is damaged: {problem}")
    state = read_state(checkpoint)
    try:
        saving_lib.load_weights_only(model, checkpoint / "model.weights.h5",
                                     objects_to_skip=list(optimizers_of(model).values()))
    except (ValueError, KeyError, OSError) as exc:
        raise RunError(f"checkpoint {checkpoint}: model.weights.h5 does not fit this model "
                       f"({str(exc).strip().splitlines()[0][:200]})") from None
    if with_optimizers:
        _restore_optimizers(checkpoint, model)
    return state


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz``, read without pickle (an object array is refused, never run);
    anything unreadable is one RunError naming the file."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            return {key: saved[key] for key in saved.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
        raise RunError(f"{path} cannot be read as plain arrays ({reason})") from None


def _restore_optimizers(checkpoint: Path, model: keras.Model) -> None:
    saved = _load_npz(checkpoint / "optimizers.npz")
    for name, opt in optimizers_of(model).items():
        keys = sorted(k for k in saved if k.startswith(f"{name}/"))
        if len(keys) != len(opt.variables):
            raise RunError(f"checkpoint {checkpoint}: optimizer {name!r} has {len(keys)} saved "
                           f"variables but the model's has {len(opt.variables)}; was the model "
                           "built before restoring?")
        for key, variable in zip(keys, opt.variables):
            if tuple(saved[key].shape) != tuple(variable.shape):
                raise RunError(f"checkpoint {checkpoint}: {key} has shape {saved[key].shape}, "
                               f"the model expects {tuple(variable.shape)}")
            variable.assign(saved[key])
