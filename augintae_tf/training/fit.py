"""Fit orchestration: strategy, callbacks, checkpoints, resume and the post-training stages.

A run is prepared by :mod:`augintae_tf.training.preparation`; the run directory (layout, lock,
config, metrics log, checkpoint choice) belongs to :mod:`augintae_tf.run`; training holds the
run's lock from start to end.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import keras

from augintae_tf.atomic import check_tree, is_no_space, no_space_error, safe_dir
from augintae_tf.config.schema import Config
from augintae_tf.data import SetSummary, training_image_fallbacks
from augintae_tf.distribute import check_jit, is_chief, make_strategy
from augintae_tf.errors import RunError, Terminated
from augintae_tf.models import precision
from augintae_tf.run import checkpoints, interrupt
from augintae_tf.run.directory import (pinned_checkpoint, prepare_run_dir, remove_samples_after,
                                       remove_stale_temporaries, save_config)
from augintae_tf.run.layout import RunLayout
from augintae_tf.run.lock import RunLock
from augintae_tf.run.metrics_log import read_metrics, truncate_metrics
from augintae_tf.run.model_state import restore_run_checkpoint
from augintae_tf.training.callbacks import (Checkpointer, MetricsLog, SampleGrids, StepBudget,
                                            StopOnSignal)
from augintae_tf.training.plots import plot_metrics
from augintae_tf.training.preparation import (apply_step_budget, build, count_examples, describe,
                                              labelled_summary, sample_batches, steps_per_epoch,
                                              training_dataset, warn_slow_settings)
from augintae_tf.training.stages import run_stages


@dataclass
class TrainResult:
    run_dir: Path
    epochs_done: int
    history: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: str = ""  # what the run's checkpoints take on disk (checkpoints.size_line)


def train(cfg: Config, run_dir: str | os.PathLike | None = None, *, resume: bool = False,
          runs_root: str | os.PathLike = "runs", dry_run: bool = False,
          echo: Callable[[str], Any] = print) -> TrainResult | str:
    """Train ``cfg.model.name`` on ``cfg.data``; with ``dry_run`` return the description instead.

    ``resume`` continues ``run_dir`` (default: the newest run in ``runs_root``) from its last
    checkpoint: weights, optimizer moments, step, the model's RNG counter and epoch are restored;
    the data order continues with a fresh deterministic shuffle (seed + epochs done).

    Ctrl-C (SIGINT) or SIGTERM (from the main thread) stops training with the last finished
    epoch checkpointed (:mod:`augintae_tf.run.interrupt`) and raises
    :class:`~augintae_tf.errors.Terminated` carrying the run directory and its planned epochs.
    """
    with interrupt.stop_on_signals():
        return _train(cfg, run_dir, resume, runs_root, dry_run, echo)


def _train(cfg: Config, run_dir, resume: bool, runs_root, dry_run: bool,
           echo: Callable[[str], Any]) -> TrainResult | str:
    if cfg.train.strategy == "multi-worker" and run_dir is None and not dry_run:
        raise RunError("--strategy multi-worker needs --run-dir: every worker must write to and "
                       "resume from the same run directory, on a filesystem they all see")
    cfg, why = precision.resolve(cfg)  # before the run dir: config.yaml records the choice
    strategy = make_strategy(cfg.train.strategy)
    check_jit(strategy, cfg.train.jit)
    chief, lock = is_chief(strategy), None
    if chief:
        if why:
            echo(why)
        warn_slow_settings(cfg, echo)
    # A source without labels for a model that needs them fails here, before a run directory
    # exists (for image models this returns at once; set models pay one pass over the labels).
    sets = labelled_summary(cfg)
    created: list[Path] = []
    if not dry_run:  # lock before the slow part: a second process must fail at once
        run_dir = prepare_run_dir(cfg, run_dir, resume, runs_root, chief)
        created = [] if resume or not chief else missing_dirs(run_dir)
        # Only the chief writes, so only the chief locks (workers share the chief's directory).
        lock = RunLock(run_dir).acquire() if chief else None
    try:
        if resume and chief:  # nothing written or removed below may land outside the run
            check_tree(run_dir)
        num_examples = sets[0].images if sets else count_examples(cfg)
        cfg, steps = apply_step_budget(cfg, steps_per_epoch(cfg, num_examples))
        with strategy.scope():
            model = build(cfg, steps)
        if dry_run:
            return describe(cfg, model, num_examples, steps, sets[0] if sets else None)
        return _train_in(cfg, run_dir, model, strategy, steps, resume, chief, echo, sets)
    except BaseException as exc:
        with interrupt.deferred():  # a second Ctrl-C cannot cut the clean-up short
            if isinstance(exc, Terminated):
                exc.run_dir = run_dir
            if lock is not None and not resume:
                undo_failed_start(run_dir, created, lock)
            if lock is not None:
                lock.release()
                lock = None
        interrupt.drop_pending()
        raise
    finally:
        if lock is not None:
            lock.release()


def missing_dirs(path: Path) -> list[Path]:
    """``path`` and those of its parents that do not exist yet, deepest first: what creating
    ``path`` makes (and all a failed start may remove)."""
    missing = []
    for folder in [Path(path), *Path(path).parents]:
        if folder.exists():
            break
        missing.append(folder)
    return missing


def undo_failed_start(run_dir: Path, created: list[Path], lock: RunLock) -> None:
    """A new run that failed before its first checkpoint (a batch larger than the data, a bad
    data option, an interrupt in epoch 1): remove what the start wrote (its config, metrics,
    samples, logs, lock) and the folders it created, so the same command can be retried. The
    folder was empty when it started and this process held the lock since, so nothing removed
    is anyone else's; a run with a checkpoint is kept: --resume continues it."""
    layout = RunLayout(run_dir)
    if checkpoints.list_checkpoints(layout.checkpoints):
        return
    for path in (layout.config, layout.metrics, layout.samples, layout.logs, layout.checkpoints):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.lexists(path):
            path.unlink()
    lock.path.unlink(missing_ok=True)  # while holding it: no other process can own it
    for folder in created:
        try:
            folder.rmdir()
        except OSError:  # not empty (something else wrote there) or gone: keep it
            break


def _train_in(cfg: Config, run_dir: Path, model: keras.Model, strategy, steps: int, resume: bool,
              chief: bool, echo: Callable[[str], Any],
              sets: tuple[SetSummary, dict[int, int]] | None = None) -> TrainResult:
    """The part of :func:`train` that runs holding the run's lock."""
    if chief and resume:
        remove_stale_temporaries(run_dir, echo)
    initial_epoch, elapsed = _resume_point(cfg, run_dir, model, chief, echo) if resume else (0, 0.0)
    epochs = model.train_epochs(cfg.train)  # e.g. wgan-gp trains epoch_factor times longer
    if initial_epoch >= epochs:
        echo(f"{run_dir} already finished its {epochs} epochs; nothing to do")
        return TrainResult(run_dir, initial_epoch)
    if chief:
        save_config(run_dir, cfg)
    echo(f"{'resuming' if initial_epoch else 'training'} {cfg.model.name} on {cfg.data.dataset} in "
         f"{run_dir} (epoch {initial_epoch + 1}/{epochs}, {steps} steps/epoch, "
         f"{strategy.num_replicas_in_sync} replica(s))")
    if sets is not None:
        echo(f"training on {sets[0].line()}")
    if chief and not initial_epoch:
        for line in training_image_fallbacks(cfg.data):
            echo(f"warning: {line}")
    dataset = training_dataset(cfg, cfg.train.seed + initial_epoch, sets)
    callbacks: list[keras.callbacks.Callback] = []
    layout, checkpointer = RunLayout(run_dir), None
    budget = cfg.train.steps * epochs // cfg.train.epochs if cfg.train.steps else None
    if chief:
        safe_dir(layout.logs / "train", run_dir)  # where Keras' TensorBoard writes: not a link
        state = lambda epoch: {"step": int(model.optimizer.iterations.numpy()),
                               "rng_step": int(model.step_counter.numpy()),
                               "config": cfg.to_dict()}
        checkpointer = Checkpointer(layout.checkpoints, cfg.train.keep_checkpoints, state,
                                    snap=cfg.train.snap, epochs=epochs)
        callbacks = [  # MetricsLog first: an epoch's images/s leave out the writing below
            MetricsLog(layout.metrics, cfg.train.batch_size, steps, elapsed, echo=echo,
                       epochs=epochs, total_steps=budget),
            checkpointer,
            SampleGrids(layout.samples, sample_batches(cfg, echo), root=run_dir, epochs=epochs),
            keras.callbacks.TensorBoard(log_dir=str(layout.logs), write_graph=False),
        ]
    if budget:  # every worker stops at the same step
        callbacks.append(StepBudget(budget, steps))
    callbacks.append(StopOnSignal(steps, echo))  # last: after the epoch is logged and saved
    try:
        with interrupt.deferred():
            history = model.fit(dataset, epochs=epochs, initial_epoch=initial_epoch,
                                steps_per_epoch=steps, callbacks=callbacks,
                                verbose=0,  # the epoch lines are MetricsLog's, tty or not
                                shuffle=False)  # the dataset is already shuffled (seeded)
        interrupt.raise_pending()  # a signal after the last batch: the last epoch is saved
    except Terminated as exc:
        exc.epochs = epochs
        if checkpointer is not None:
            with interrupt.deferred():  # a second signal never cuts the save short
                checkpointer.save_stopped()
        raise
    except Exception as exc:  # the TensorBoard writer's full disk is a ResourceExhaustedError
        if isinstance(exc, RunError) or not is_no_space(exc):
            raise
        raise no_space_error("TensorBoard logs", layout.logs) from None
    if chief:
        plot_run(model, run_dir)
        run_stages(model, run_dir, cfg, echo)  # e.g. the latent statistics, in RUN/<stage>/
    records = read_metrics(run_dir) if chief else []
    epochs_run = max((len(v) for v in history.history.values()), default=0)
    sizes = checkpoints.size_line(layout.checkpoints) if chief else ""
    return TrainResult(run_dir, initial_epoch + epochs_run, records, sizes)


def _resume_point(cfg: Config, run_dir: Path, model: keras.Model, chief: bool,
                  echo: Callable[[str], Any]) -> tuple[int, float]:
    """Restore the newest intact checkpoint of ``run_dir``; return (epochs done, seconds spent).
    Every worker restores the weights; only the chief rewrites the metrics log."""
    warn = lambda message: echo(f"warning: {message}")
    with pinned_checkpoint(run_dir, warn=warn) as (ckpt, files):
        if ckpt is None:  # e.g. the first checkpoint never got written: start over, log included
            if chief:
                truncate_metrics(run_dir, 0, warn)
                remove_samples_after(run_dir, 0, echo)
            return 0, 0.0
        full = checkpoints.holds(ckpt, "optimizers.npz", files)
        state = restore_run_checkpoint(run_dir, cfg, ckpt, model, with_optimizers=full,
                                       files=files)
    epoch = int(state["epoch"])
    if not full:  # the newest checkpoint was damaged; an older one holds weights only
        model.optimizer.iterations.assign(int(state.get("step", 0)))
        warn(f"{ckpt} holds weights only (the optimizer state is kept in the newest "
             "checkpoint): the optimizers' moments start from zero")
    if chief:  # drop lines and grids of epochs that finished after the checkpoint we resume from
        kept = truncate_metrics(run_dir, epoch, warn)
        remove_samples_after(run_dir, epoch, echo)
    else:
        kept = [r for r in read_metrics(run_dir, None) if r.get("epoch", 0) <= epoch]
    elapsed = [r["elapsed_s"] for r in kept if "elapsed_s" in r]
    return epoch, float(elapsed[-1]) if elapsed else 0.0


def plot_run(model: keras.Model, run_dir: Path) -> None:
    """``samples/losses.png`` and the model's own ``extra_plots`` (e.g. augintae-adv's k, gamma)."""
    layout = RunLayout(run_dir)
    safe_dir(layout.samples, run_dir)
    plot_metrics(layout.metrics, layout.plot())
    for name, keys in model.extra_plots.items():
        plot_metrics(layout.metrics, layout.plot(name), list(keys))


