"""The post-training stages a model declares (``stages``), run and kept in the run directory.

A stage reads what it needs (data, the model's networks), has the model compute, and keeps the
result in ``RUN/<stage>/`` in the run's checkpoint format (:mod:`augintae_tf.run.artifacts`);
:func:`augintae_tf.inference.stage_results.restore_stages` gives it back to a loaded model.

- ``latent-stats`` (:mod:`augintae_tf.models.latent_stats`): the run's training images (and
  labels) and its held-out images (:func:`augintae_tf.data.pipeline.resolve_held_out`: ``--held-out PATH``
  when the run was given one) go to the model's ``compute_latent_stats``; the statistics are kept
  as arrays with the checkpoint they describe (its name and the SHA-256 of its weights) and handed
  to the model (``use_latent_stats``).
- ``inversion`` (:mod:`augintae_tf.models.inversion`): wgan-gp's inversion network is trained one
  lr period at a time and saved after each (:func:`augintae_tf.run.model_state.save`: weights,
  SGD state, and the GAN checkpoint it inverted); a rerun starts over.

Training runs every stage after fit (:func:`run_stages`); ``augintae-tf train --stage NAME
--run-dir RUN`` reruns one on a trained run (:func:`run_stage`).
"""
from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any, Callable

from augintae_tf.atomic import check_tree
from augintae_tf.config.schema import Config
from augintae_tf.data import load_arrays, resolve_held_out
from augintae_tf.errors import RunError
from augintae_tf.inference.loaded import load_run
from augintae_tf.models import inversion, latent_stats, model_class
from augintae_tf.run import artifacts, checkpoints, model_state
from augintae_tf.run.directory import read_config
from augintae_tf.run.layout import RunLayout
from augintae_tf.run.lock import RunLock

Echo = Callable[[str], Any]
LEGACY_STATS = ("manifest.json", "stats-*.npz")  # the latent statistics' files before run/artifacts


def save_latent_stats(run_dir, stats: latent_stats.LatentStats, checkpoint: Path) -> Path:
    """Keep ``stats`` (of the weights of ``checkpoint``) as the new version in
    ``RUN/latent-stats/`` (:func:`augintae_tf.run.artifacts.write_arrays`, with the SHA-256 of
    the checkpoint's weights); an earlier format's files there are removed after it."""
    folder = RunLayout(run_dir).stage(latent_stats.STAGE)
    arrays, fields = latent_stats.to_saved(stats)
    saved = artifacts.write_arrays(
        folder, arrays, {**fields, "weights_sha256": checkpoints.weights_sha256(checkpoint)})
    for pattern in LEGACY_STATS:
        for old in folder.glob(pattern):
            if old.is_file() and not old.is_symlink():
                old.unlink(missing_ok=True)
    return saved


def run_latent_stats(model, run_dir, cfg: Config, checkpoint: Path,
                     echo: Echo = print) -> latent_stats.LatentStats:
    """Compute the latent statistics of ``model`` (the weights of ``checkpoint``) from the run's
    training split and held-out images, keep them in ``RUN/latent-stats/`` and hand them to the
    model; returns them."""
    train_images, train_labels = load_arrays(cfg.data, cfg.data.train_split, limit=None)
    held_dataset, held_split = resolve_held_out(cfg.data)
    heldout, _ = load_arrays(cfg.data, held_split, dataset=held_dataset, limit=None)
    stats = model.compute_latent_stats(train_images, train_labels, heldout, cfg.train.seed)
    stats = dataclasses.replace(stats, checkpoint=checkpoint.name,
                                heldout_source=(held_dataset, held_split))
    save_latent_stats(run_dir, stats, checkpoint)
    model.use_latent_stats(stats)
    echo(f"latent-stats stage: local covariance of "
         f"{min(len(train_images), latent_stats.MAX_TRAIN)} training "
         f"latents ({stats.k} neighbours; local std {stats.local_std:.3f} per unit latent"
         + ("" if stats.within_std is None else f"; within-class std {stats.within_std:.3f}")
         + "), "
         + ("" if stats.flow_lattices is None else
            f"deformation fields of {len(stats.flow_lattices)} same-class training pairs, ")
         + f"reconstruction error of {len(stats.heldout_mse)} held-out images "
         f"({held_dataset} [{held_split}])")
    return stats


def run_inversion(model, run_dir, cfg: Config, checkpoint: Path | None,
                  echo: Echo = print) -> list[float]:
    """Train wgan-gp's inversion network (:func:`augintae_tf.models.inversion.train_periods`),
    saving it in ``RUN/inversion/`` after every lr period, its state naming ``checkpoint`` (the
    GAN it inverts); returns each period's mean latent MSE.  An earlier ``RUN/inversion`` is
    replaced."""
    m = model.setup.section
    directory = RunLayout(run_dir).stage(inversion.STAGE)
    shutil.rmtree(directory, ignore_errors=True)
    stage = inversion.make_stage(model)
    echo(f"inversion stage: {m.inversion_steps} SGD iterations (lr {m.inversion_lr:g}, "
         f"/10 every {m.inversion_drop_every})")
    history = []
    for period, (done, loss) in enumerate(inversion.train_periods(model, stage), start=1):
        history.append(loss)
        state = {"stage": inversion.STAGE, "iterations": done, "latent_mse": loss,
                 "gan_checkpoint": checkpoint.name if checkpoint else None,
                 "config": cfg.to_dict()}
        model_state.save(directory, stage, period, state, keep=1)
        echo(f"inversion: {done}/{m.inversion_steps} iterations, latent MSE {loss:.5g}")
    return history


STAGES: dict[str, Callable[..., Any]] = {latent_stats.STAGE: run_latent_stats,
                                         inversion.STAGE: run_inversion}


def run_stages(model, run_dir, cfg: Config, echo: Echo = print,
               checkpoint: Path | None = None) -> None:
    """Every stage of ``model.stages``, in order, for the weights of ``checkpoint`` (default: the
    run's newest, which training has just written)."""
    checkpoint = checkpoint or checkpoints.latest_checkpoint(RunLayout(run_dir).checkpoints)
    for name in model.stages:
        if name == latent_stats.STAGE and checkpoint is None:
            raise RunError(f"run {run_dir} has no checkpoint to compute latent statistics for")
        STAGES[name](model, run_dir, cfg, checkpoint, echo)


def run_stage(run_dir: str | os.PathLike, stage: str, echo: Echo = print) -> Path:
    """Rerun post-training ``stage`` of a trained run (``augintae-tf train --stage``), holding the
    run's lock; the stage replaces what it kept before."""
    run_dir = Path(run_dir)
    cfg = read_config(run_dir)
    stages = model_class(cfg.model.name).stages
    if stage not in stages:
        raise RunError(f"--stage {stage}: model {cfg.model.name} has "
                       f"{'the stages ' + ', '.join(stages) if stages else 'no stages'}")
    with RunLock(run_dir):
        check_tree(run_dir)  # the stage writes into the run: never through a link
        run = load_run(run_dir, warn=None, stages=False)  # a stage starts over
        STAGES[stage](run.model, run_dir, cfg, run.checkpoint, echo)
    return run_dir
