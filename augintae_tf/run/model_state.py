"""What a checkpoint holds of a model, and getting it back: every model variable
(``model.weights.h5``: non-trainable ones included, BatchNorm statistics, the RNG step counter, the
adversarial k; no optimizer variables) and each optimizer's variables in build order
(``optimizers.npz``, kept by the newest checkpoint only), written and read through
:mod:`augintae_tf.run.checkpoints`.

``model.weights.h5`` is Keras' own weights file, made and read in memory: h5py only ever writes to
a buffer, and the bytes reach the disk through plain file writes, whose ENOSPC is a clean
``OSError`` (h5py failing inside ``save_weights`` on a full disk left an open HDF5 file that crashed
the process at exit).  Keras has no public API for that (nor for leaving the optimizers out), so
this is the one module of the package that reaches into ``keras.src`` (``saving_lib``, Keras 3.15,
pinned below 4).  The model and its optimizers must be built before :func:`restore` (see
``build_for_training``): Keras 3 silently skips optimizer state for variables that do not exist
yet.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any, Callable, Mapping

import keras
import numpy as np
from keras.src.saving import saving_lib

from augintae_tf.config.schema import Config
from augintae_tf.errors import RunError
from augintae_tf.run import checkpoints
from augintae_tf.run.checkpoints import FORMAT, Pinned, pin
from augintae_tf.run.directory import check_checkpoint_config


def optimizers_of(model: keras.Model) -> dict[str, keras.optimizers.Optimizer]:
    """The model's optimizers by attribute name (``optimizer``, plus e.g. ``d_optimizer``): what
    the model contract's ``optimizers()`` (and the inversion stage's) returns, less those an
    uncompiled model (inference) has not got."""
    return {name: opt for name, opt in model.optimizers().items() if opt is not None}


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
    """Checkpoint ``model`` (weights and optimizers) and ``state`` as ``directory/epoch-NNNNN``
    (:func:`augintae_tf.run.checkpoints.write`: atomic, the ``keep`` newest kept)."""
    return checkpoints.write(directory, epoch, lambda: _contents(model, epoch, state), keep)


def snapshot(model: keras.Model) -> Callable[[], None]:
    """Every variable of ``model`` and of its optimizers, copied to memory now; calling the
    result assigns the copies back. A run stopped mid-epoch saves its last finished epoch this
    way (the Checkpointer takes one at an epoch it does not checkpoint)."""
    variables = {id(v): v for v in model.variables}
    for opt in optimizers_of(model).values():
        variables.update((id(v), v) for v in opt.variables)
    pairs = [(v, np.array(keras.ops.convert_to_numpy(v))) for v in variables.values()]

    def put_back() -> None:
        for variable, value in pairs:
            variable.assign(value)

    return put_back


def restore(checkpoint: str | os.PathLike, model: keras.Model, with_optimizers: bool = True,
            verified: bool = False, files: Pinned | None = None) -> dict[str, Any]:
    """Verify (unless ``verified``: the caller just did, on the same ``files``), then load
    weights (and optimizer state) into an already built model; return the saved state. Every
    byte comes from the checkpoint's :class:`Pinned` files (``files``, default pinned here). A
    damaged checkpoint or one that does not fit the model is a one-line RunError."""
    checkpoint = Path(checkpoint)
    if files is None:
        with pin(checkpoint) as files:
            return _restore(checkpoint, model, with_optimizers, verified, files)
    return _restore(checkpoint, model, with_optimizers, verified, files)


def _restore(checkpoint: Path, model: keras.Model, with_optimizers: bool, verified: bool,
             files: Pinned) -> dict[str, Any]:
    problem = None if verified else checkpoints.verify(checkpoint, files)
    if problem:
        raise RunError(f"checkpoint {checkpoint} is damaged: {problem}")
    state = checkpoints.read_state(checkpoint, files)
    try:
        _load_weights(model, files.read("model.weights.h5"), list(optimizers_of(model).values()))
    except (ValueError, KeyError, OSError) as exc:
        raise RunError(f"checkpoint {checkpoint}: model.weights.h5 does not fit this model "
                       f"({str(exc).strip().splitlines()[0][:200]})") from None
    if with_optimizers:
        if not checkpoints.holds(checkpoint, "optimizers.npz", files):
            raise RunError(f"checkpoint {checkpoint} holds weights only (the optimizer state is "
                           "kept in the newest checkpoint)")
        _restore_optimizers(checkpoint, model, files)
    return state


def restore_run_checkpoint(run_dir: str | os.PathLike, cfg: Config, checkpoint: Path,
                           model: keras.Model, with_optimizers: bool,
                           files: Pinned | None = None) -> dict[str, Any]:
    """The one way a run's model gets its weights back (resuming training, loading for
    inference): refuse a checkpoint made for another model than ``cfg``'s
    (:func:`~augintae_tf.run.directory.check_checkpoint_config`), then :func:`restore` it
    (``model`` must be built, with its optimizers when ``with_optimizers``; ``files``: the
    checkpoint's pinned files, verified by
    :func:`~augintae_tf.run.directory.pinned_checkpoint`). Returns its state."""
    if files is None:
        with pin(checkpoint) as files:
            return restore_run_checkpoint(run_dir, cfg, checkpoint, model, with_optimizers, files)
    state = checkpoints.read_state(checkpoint, files)
    check_checkpoint_config(run_dir, cfg, checkpoint, state)
    restore(checkpoint, model, with_optimizers=with_optimizers, verified=True, files=files)
    return state


def _load_weights(model: keras.Model, data: bytes, skip: list[Any]) -> None:
    """:func:`_weights_bytes` backwards: what ``load_weights_only`` runs, from bytes in memory
    (a pinned file) instead of a path, without the optimizers in ``skip``."""
    store = saving_lib.H5IOStore(io.BytesIO(data), mode="r")
    failed, errors = set(), {}
    try:
        saving_lib._load_state(model, weights_store=store, assets_store=None, inner_path="",
                               visited_saveables={id(o) for o in skip}, failed_saveables=failed,
                               error_msgs=errors)
    finally:
        store.close()
    if failed:
        saving_lib._raise_loading_failure(errors)


def _load_npz(path: Path, source: Any = None) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` (read from ``source``, default ``path``), without pickle (an
    object array is refused, never run); anything unreadable is one RunError naming the file."""
    try:
        with np.load(path if source is None else source, allow_pickle=False) as saved:
            return {key: saved[key] for key in saved.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
        raise RunError(f"{path} cannot be read as plain arrays ({reason})") from None


def _restore_optimizers(checkpoint: Path, model: keras.Model, files: Pinned) -> None:
    saved = _load_npz(checkpoint / "optimizers.npz", io.BytesIO(files.read("optimizers.npz")))
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
