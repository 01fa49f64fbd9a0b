"""What a run's post-training stages kept (:mod:`augintae_tf.training.stages`), given back to a
model loaded for inference: :func:`restore_stages` for every stage of ``model.stages``.

- ``latent-stats``: the newest version in ``RUN/latent-stats/`` (:mod:`augintae_tf.run.artifacts`;
  the files an earlier version of the package wrote there, ``manifest.json`` naming a
  ``stats-<sha>.npz``, are read too), used only when it describes the weights the model was loaded
  from; otherwise the model gets None and one line saying why and how to recompute them.
- ``inversion``: wgan-gp's inversion network from the newest intact version in ``RUN/inversion/``.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from augintae_tf.atomic import refuse_link
from augintae_tf.errors import RunError
from augintae_tf.models import inversion
from augintae_tf.models.latent_stats import STAGE, LatentStats, from_saved, recompute_hint
from augintae_tf.run import artifacts, checkpoints, model_state
from augintae_tf.run.layout import RunLayout
from augintae_tf.run.metrics_log import Warn


def _legacy_stats(folder: Path) -> tuple[dict, dict] | None:
    """(arrays, fields) of the earlier format (``manifest.json`` naming ``stats-<sha>.npz``, its
    size and SHA-256), or None when ``folder`` has no such manifest."""
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        return None
    refuse_link(manifest_path)
    manifest = json.loads(manifest_path.read_text())
    name = manifest["file"]
    if not (isinstance(name, str) and name == Path(name).name and name.startswith("stats-")):
        raise ValueError(f"manifest names {name!r}, not a stats file of this folder")
    refuse_link(folder / name)
    data = (folder / name).read_bytes()
    if len(data) != manifest["size"] or hashlib.sha256(data).hexdigest() != manifest["sha256"]:
        raise ValueError(f"{name} does not match its manifest")
    with np.load(folder / name, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}, manifest


def read_latent_stats(run_dir, checkpoint: Path, digest: str | None = None
                      ) -> tuple[LatentStats | None, str | None]:
    """``(stats, None)``, or ``(None, why)`` when they are missing, damaged or of another
    checkpoint than ``checkpoint`` (the weights the model was loaded from; ``digest``: the
    SHA-256 of its weights as read when they were restored, else read from the checkpoint now)."""
    folder = RunLayout(run_dir).stage(STAGE)
    try:
        saved = artifacts.read_arrays(folder)
        saved = (saved.arrays, saved.state) if saved is not None else _legacy_stats(folder)
        if saved is None:
            return None, (f"run {run_dir} has no latent statistics; compute them with "
                          f"{recompute_hint(run_dir)}")
        stats, fields = from_saved(*saved), saved[1]
    except (OSError, ValueError, KeyError, TypeError, RunError) as exc:
        return None, (f"the latent statistics in {folder} are damaged ({exc}); recompute them with "
                      f"{recompute_hint(run_dir)}")
    try:
        digest = digest or checkpoints.weights_sha256(checkpoint)
    except (OSError, RunError) as exc:  # rotated away by a training run since it was restored
        return None, f"checkpoint {checkpoint} cannot be read to match its latent statistics ({exc})"
    if fields.get("weights_sha256") != digest:
        named = fields.get("checkpoint")
        which = (f"checkpoint {named}, not {checkpoint.name}" if named != checkpoint.name else
                 f"other weights than checkpoint {checkpoint.name} holds now (saved again since)")
        return None, (f"the latent statistics describe {which}; recompute them with "
                      f"{recompute_hint(run_dir)}")
    return stats, None


def restore_inversion(model, run_dir, checkpoint: Path | None = None,
                      warn: Warn | None = None) -> bool:
    """Load the newest intact inversion network of ``run_dir`` into ``model.encoder``; False
    when the stage has not run (few-shot then asks for it).  ``warn`` gets one line when it was
    trained on another GAN checkpoint than ``checkpoint`` (default: the run's newest)."""
    found = artifacts.newest_intact(RunLayout(run_dir).stage(inversion.STAGE))
    if found is None:
        return False
    state = model_state.restore(found, inversion.restorable_stage(model), with_optimizers=False)
    checkpoint = checkpoint or checkpoints.latest_checkpoint(RunLayout(run_dir).checkpoints)
    if warn and checkpoint and state.get("gan_checkpoint") not in (None, checkpoint.name):
        warn(f"the inversion network was trained on {state['gan_checkpoint']}, not on "
             f"{checkpoint.name}; rerun `augintae-tf train --stage inversion --run-dir {run_dir}`")
    model.inverter_ready()
    return True


def restore_stages(model, run_dir, checkpoint: Path, digest: str | None = None,
                   warn: Warn | None = None) -> None:
    """What each of ``model.stages`` kept, for the weights of ``checkpoint`` (``digest``: their
    SHA-256)."""
    for stage in model.stages:
        if stage == STAGE:
            model.use_latent_stats(*read_latent_stats(run_dir, checkpoint, digest))
        elif stage == inversion.STAGE:
            restore_inversion(model, run_dir, checkpoint, warn)
