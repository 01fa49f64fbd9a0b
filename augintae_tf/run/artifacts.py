"""What a post-training stage keeps in the run, in the checkpoint format (TensorFlow-free).

A stage that keeps plain arrays (the latent-stats stage) writes them with :func:`write_arrays` as
``RUN/<stage>/epoch-NNNNN/`` holding ``arrays.npz`` and ``state.json`` (its own fields plus
``epoch``, the version, and ``format``), with ``manifest.json`` written last:
:func:`augintae_tf.run.checkpoints.write` (a hidden folder renamed into place; the previous
version removed once the new one is complete).  :func:`read_arrays` pins the newest version's
files, verifies them against the manifest and reads them; a process killed at any point leaves the
previous version or the new one.  A stage that keeps a network (wgan-gp's inversion) saves it with
:func:`augintae_tf.run.model_state.save` into the same kind of folder; :func:`newest_intact` finds
the version to restore.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any, Mapping, NamedTuple

import numpy as np

from augintae_tf.atomic import refuse_link
from augintae_tf.errors import RunError
from augintae_tf.run import checkpoints

ARRAYS = "arrays.npz"
STATE = "state.json"
NAMES = (ARRAYS, STATE)  # the files of an arrays artifact besides its manifest


class Arrays(NamedTuple):
    """One version of a stage's arrays: its folder, the arrays and the fields of its state."""

    path: Path
    arrays: dict[str, np.ndarray]
    state: dict[str, Any]


def newest_intact(directory: str | os.PathLike, names: tuple[str, ...] = checkpoints.FILES
                  ) -> Path | None:
    """The newest version in ``directory`` that :func:`~augintae_tf.run.checkpoints.verify`
    passes (files ``names``: a model checkpoint's by default), or None."""
    for version in reversed(checkpoints.list_checkpoints(directory)):
        with checkpoints.pin(version, names) as files:
            if checkpoints.verify(version, files) is None:
                return version
    return None


def write_arrays(directory: str | os.PathLike, arrays: Mapping[str, np.ndarray],
                 state: Mapping[str, Any]) -> Path:
    """Write ``arrays`` and ``state`` (JSON fields) as the next version in ``directory``, atomically;
    only the new version is kept."""
    directory = Path(directory)
    found = checkpoints.list_checkpoints(directory)
    version = checkpoints.epoch_of(found[-1]) + 1 if found else 1

    def contents() -> dict[str, bytes]:
        buffer = io.BytesIO()
        np.savez(buffer, **{key: np.asarray(value) for key, value in arrays.items()})
        fields = {**state, "epoch": version, "format": checkpoints.FORMAT}
        return {ARRAYS: buffer.getvalue(), STATE: json.dumps(fields, indent=2).encode()}

    return checkpoints.write(directory, version, contents, keep=1)


def read_arrays(directory: str | os.PathLike) -> Arrays | None:
    """The newest version in ``directory`` (None when there is none), pinned, verified and read
    without pickle; a damaged one is a RunError saying what is wrong with it."""
    refuse_link(directory, "directory")
    found = checkpoints.list_checkpoints(directory)
    if not found:
        return None
    with checkpoints.pin(found[-1], NAMES) as files:
        problem = checkpoints.verify(found[-1], files)
        if problem:
            raise RunError(f"{found[-1].name}: {problem}")
        state = checkpoints.read_state(found[-1], files)
        try:
            with np.load(io.BytesIO(files.read(ARRAYS)), allow_pickle=False) as saved:
                arrays = {key: saved[key] for key in saved.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise RunError(f"{found[-1].name}: {ARRAYS} cannot be read as plain arrays "
                           f"({str(exc).strip()[:120]})") from None
    return Arrays(found[-1], arrays, state)
