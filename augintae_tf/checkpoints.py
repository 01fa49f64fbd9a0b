"""Atomic training checkpoints: model weights, every optimizer's state, and the run's counters.

A checkpoint is a directory ``checkpoints/epoch-NNNNN/`` holding

- ``model.weights.h5``: every model variable, non-trainable ones included (BatchNorm statistics,
  the model's RNG step counter, the adversarial k);
- ``optimizers.npz``: each optimizer's variables (iteration count, Adam moments...) in build order;
- ``state.json``: epoch, global step, the optimizers' names and the config the run was made with.

It is written to a hidden temporary directory and renamed into place, so a process killed at any
moment leaves either the previous checkpoint or the new one, never half of one. The model and its
optimizers must be built before :func:`restore` (see ``build_for_training``): Keras 3 silently
skips optimizer state for variables that do not exist yet.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Mapping

import keras
import numpy as np

from augintae_tf.errors import RunError

NAME = re.compile(r"^epoch-(\d{5,})$")


def optimizers_of(model: keras.Model) -> dict[str, keras.optimizers.Optimizer]:
    """The model's optimizers by attribute name (``optimizer``, plus e.g. ``d_optimizer``): the
    model contract's ``optimizers()``; a plain Keras model has its one ``optimizer``."""
    found = getattr(model, "optimizers", None)
    return dict(found()) if callable(found) else {"optimizer": model.optimizer}


def list_checkpoints(directory: str | os.PathLike) -> list[Path]:
    """Complete checkpoints in ``directory``, oldest first (temporary directories are ignored)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if p.is_dir() and NAME.match(p.name)]
    return sorted(found, key=lambda p: int(NAME.match(p.name).group(1)))


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    found = list_checkpoints(directory)
    return found[-1] if found else None


def save(directory: str | os.PathLike, model: keras.Model, epoch: int, state: Mapping[str, Any],
         keep: int = 3) -> Path:
    """Write ``directory/epoch-NNNNN`` atomically and keep only the ``keep`` newest checkpoints."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"epoch-{epoch:05d}"
    tmp = directory / f".tmp-epoch-{epoch:05d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    model.save_weights(tmp / "model.weights.h5")
    optimizers = optimizers_of(model)
    arrays = {f"{name}/{i:05d}": np.asarray(v.numpy())
              for name, opt in optimizers.items() for i, v in enumerate(opt.variables)}
    np.savez(tmp / "optimizers.npz", **arrays)
    payload = {"epoch": epoch, "optimizers": sorted(optimizers), **state}
    (tmp / "state.json").write_text(json.dumps(payload, indent=2, default=str))
    for path in tmp.iterdir():  # data on disk before the rename makes the checkpoint visible
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    if final.exists():  # re-saving an epoch (e.g. after a resume) replaces it
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in list_checkpoints(directory)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def read_state(checkpoint: str | os.PathLike) -> dict[str, Any]:
    path = Path(checkpoint) / "state.json"
    if not path.is_file():
        raise RunError(f"checkpoint {checkpoint} has no state.json; it is not a complete checkpoint")
    return json.loads(path.read_text())


def restore(checkpoint: str | os.PathLike, model: keras.Model, with_optimizers: bool = True
            ) -> dict[str, Any]:
    """Load weights (and optimizer state) into an already built model; return the saved state."""
    checkpoint = Path(checkpoint)
    state = read_state(checkpoint)
    model.load_weights(checkpoint / "model.weights.h5")
    if with_optimizers:
        saved = np.load(checkpoint / "optimizers.npz")
        for name, opt in optimizers_of(model).items():
            keys = sorted(k for k in saved.files if k.startswith(f"{name}/"))
            if len(keys) != len(opt.variables):
                raise RunError(f"checkpoint {checkpoint}: optimizer {name!r} has {len(keys)} saved "
                               f"variables but the model's has {len(opt.variables)}; was the model "
                               "built before restoring?")
            for key, variable in zip(keys, opt.variables):
                if tuple(saved[key].shape) != tuple(variable.shape):
                    raise RunError(f"checkpoint {checkpoint}: {key} has shape {saved[key].shape}, "
                                   f"the model expects {tuple(variable.shape)}")
                variable.assign(saved[key])
    return state
