"""Fit orchestration: strategy, callbacks, checkpoints and resume.

The run directory (layout, lock, config, metrics log, checkpoint choice) belongs to
:mod:`augintae_tf.runs`; training holds the run's lock from start to end.
"""
from __future__ import annotations

import dataclasses

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

from augintae_tf import cpu, runs
from augintae_tf.atomic import check_tree, is_no_space, no_space_error, safe_dir
from augintae_tf.callbacks import Checkpointer, MetricsLog, SampleGrids, StepBudget
from augintae_tf.config.schema import Config
from augintae_tf.data import (DataError, SetSummary, check_labelled, load_arrays, load_split,
                              make_dataset, make_set_dataset, resolve_novel, set_summary)
from augintae_tf.distribute import check_jit, is_chief, make_strategy
from augintae_tf.errors import RunError, Terminated
from augintae_tf.layout import RunLayout
from augintae_tf.models import precision
from augintae_tf.optimizers import FusedAdam
from augintae_tf.plots import plot_metrics
# Re-exported: the run-directory helpers used to live here.
from augintae_tf.runs import prepare_run_dir



@dataclass
class TrainResult:
    run_dir: Path
    epochs_done: int
    history: list[dict[str, Any]] = field(default_factory=list)


def steps_per_epoch(cfg: Config, num_examples: int) -> int:
    if cfg.train.steps_per_epoch:
        return cfg.train.steps_per_epoch
    if num_examples < cfg.train.batch_size:
        raise DataError(f"split {cfg.data.train_split!r} of {cfg.data.dataset} has {num_examples} "
                        f"images, fewer than one batch (--batch-size {cfg.train.batch_size})")
    return num_examples // cfg.train.batch_size


def apply_step_budget(cfg: Config, steps: int) -> tuple[Config, int]:
    """(config, steps per epoch) with ``train.steps`` turned into epochs; unchanged without it.

    ``epochs = ceil(train.steps / steps_per_epoch)``.  With an explicit ``train.steps_per_epoch``
    that is kept; otherwise the epoch is shortened to ``ceil(train.steps / epochs)`` steps, so
    the epochs are as even as whole epochs allow.  Either way the last epoch ends at the budget
    (:class:`~augintae_tf.callbacks.StepBudget`): the run does exactly ``train.steps`` steps.
    Applying it again gives the same result (a resumed run agrees).  The lr policy counts
    ``train.steps`` as the run's length, so its drops scale to the budget.
    """
    budget = cfg.train.steps
    if budget is None:
        return cfg, steps
    epochs = -(-budget // steps)
    if not cfg.train.steps_per_epoch:
        steps = -(-budget // epochs)
    train = dataclasses.replace(cfg.train, epochs=epochs)
    return dataclasses.replace(cfg, train=train), steps


def count_examples(cfg: Config) -> int:
    ds = load_split(cfg.data.dataset, cfg.data.train_split, cfg.data.image_size,
                    cfg.data.channels, cfg.data.data_dir, cfg.data.limit, cfg.data.classes)
    n = int(ds.cardinality())
    return n if n >= 0 else int(ds.reduce(0, lambda count, _: count + 1))


def batch_kind(cfg: Config) -> str:
    """What the model trains on (its contract's ``batches``): "images" or "sets"."""
    from augintae_tf.models import model_class

    return model_class(cfg.model.name).batches


def labelled_summary(cfg: Config) -> tuple[SetSummary, dict[int, int]] | None:
    """For models that train on labelled sets: what the sampler draws from (and the class counts
    it needs), checked before anything slow; None for models that train on images.  A source
    without labels is a one-line DataError here."""
    if batch_kind(cfg) != "sets":
        return None
    counts = check_labelled(cfg.data, cfg.data.train_split, cfg.model.name)
    summary = set_summary(counts, cfg.model.set_size)
    if summary.images < cfg.train.batch_size:  # e.g. data.limit left every class too small
        sizes = sorted(counts.values())
        raise DataError(
            f"split {cfg.data.train_split!r} of {cfg.data.dataset} has {summary.classes} classes "
            f"with at least model.set_size={cfg.model.set_size} images ({summary.images} images), "
            f"fewer than one batch (--batch-size {cfg.train.batch_size}): its {len(counts)} "
            f"classes hold {sizes[0] if sizes else 0}-{sizes[-1] if sizes else 0} images each"
            + (f" under data.limit={cfg.data.limit}" if cfg.data.limit else "")
            + "; raise data.limit or lower model.set_size")
    if cfg.train.batch_size < cfg.model.set_size:
        raise DataError(f"--batch-size {cfg.train.batch_size} is smaller than one set of "
                        f"model.set_size={cfg.model.set_size} images")
    return summary, counts


def training_dataset(cfg: Config, seed: int, sets: tuple[SetSummary, dict[int, int]] | None):
    """The endless, shuffled training batches the model's contract asks for: images, or
    ``train.batch_size // set_size`` same-class sets per batch."""
    if sets is None:
        return make_dataset(cfg.data, cfg.data.train_split, cfg.train.batch_size, shuffle=True,
                            seed=seed, repeat=True)
    size = cfg.model.set_size
    dataset, _ = make_set_dataset(cfg.data, cfg.data.train_split, size,
                                  cfg.train.batch_size // size, model_name=cfg.model.name,
                                  seed=seed, counts=sets[1])
    return dataset


def learning_rate(cfg: Config, steps: int) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """Adam's lr for ``cfg.model.name``: the model class's ``lr_policy`` (``steps`` per epoch)."""
    from augintae_tf.models import model_class

    return model_class(cfg.model.name).lr_policy(cfg.train, steps)


def build(cfg: Config, steps: int, adam: type[keras.optimizers.Adam] = FusedAdam) -> keras.Model:
    """Model plus every optimizer, all variables created, so a restore loses nothing.

    ``adam``: the Adam class of every optimizer; ``keras.optimizers.Adam`` gives Keras' unfused
    update (the benchmark's baseline), with the same variables and the same arithmetic.
    """
    from augintae_tf.models import build_model

    model = build_model(cfg, dtype=precision.training_dtype(cfg))
    lr = model.lr_policy(cfg.train, steps)
    options = model.optimizer_options()  # e.g. FastGAN's Adam betas
    optimizers = {name: adam(lr, **options) for name in model.optimizer_names}
    jit = {"auto": "auto", "on": True, "off": False}[cfg.train.jit]
    model.compile(**optimizers, jit_compile=jit)
    model.build_for_training()
    return model


def describe(cfg: Config, model: keras.Model, num_examples: int, steps: int,
             sets: SetSummary | None = None) -> str:
    """What --dry-run prints: resolved config, dataset summary, parameter counts."""
    novel = resolve_novel(cfg.data)
    lines = ["# resolved config", cfg.to_yaml().rstrip(), "", "# data",
             f"train: {cfg.data.dataset} [{cfg.data.train_split}] {num_examples} images of "
             f"{cfg.data.image_size}x{cfg.data.image_size}x{cfg.data.channels}; {steps} steps/epoch "
             f"of {cfg.train.batch_size}"]
    lines += [f"train sets: {sets.line()}"] if sets is not None else []
    lines += [f"novel: {novel[0]} [{novel[1]}]"]
    lines += [f"warning: {line}" for line in training_image_fallbacks(cfg)]
    lines += ["", f"# model {cfg.model.name} ({cfg.backbone})"]
    return "\n".join(lines + model.dry_run_lines())


def training_image_fallbacks(cfg: Config) -> list[str]:
    """What ``evaluate`` will say about this run's novel and held-out images when they are its
    training images (a folder trained without ``--novel`` / ``--held-out``)."""
    from augintae_tf.data import resolve_held_out, same_images
    from augintae_tf.eval_data import FALLBACK_WARNINGS

    train = (cfg.data.dataset, cfg.data.train_split)
    sources = {"novel": resolve_novel(cfg.data), "held_out": resolve_held_out(cfg.data)}
    return [FALLBACK_WARNINGS[which].format(dataset=cfg.data.dataset)
            for which, source in sources.items() if same_images(source, train)]


def sample_batches(cfg: Config, echo: Callable[[str], Any]) -> dict[str, np.ndarray]:
    """Fixed images for the per-epoch grids: 8 training images, and 8 novel images in same-class
    pairs (interpolating within a class is what few-shot generation does)."""
    batches = {"train": load_arrays(cfg.data, cfg.data.train_split, limit=8)[0]}
    dataset, split = resolve_novel(cfg.data)
    try:
        images, labels = load_arrays(cfg.data, split, dataset=dataset, limit=512)
    except DataError as exc:
        echo(f"no novel-class samples in the grids: {exc}")
        return batches
    picked = []
    for label in dict.fromkeys(labels.tolist()):
        picked += list(np.flatnonzero(labels == label)[:2]) if np.sum(labels == label) >= 2 else []
        if len(picked) >= 8:
            break
    if len(picked) >= 4:
        batches["novel"] = images[picked[:8]]
    return batches


def _resume_point(cfg: Config, run_dir: Path, model: keras.Model, chief: bool,
                  echo: Callable[[str], Any]) -> tuple[int, float]:
    """Restore the newest intact checkpoint of ``run_dir``; return (epochs done, seconds spent).
    Every worker restores the weights; only the chief rewrites the metrics log."""
    warn = lambda message: echo(f"warning: {message}")
    ckpt = runs.choose_checkpoint(run_dir, warn=warn)
    if ckpt is None:  # e.g. the first checkpoint never got written: start over, log included
        if chief:
            runs.truncate_metrics(run_dir, 0, warn)
        return 0, 0.0
    state = runs.restore_checkpoint(run_dir, cfg, ckpt, model, with_optimizers=True)
    epoch = int(state["epoch"])
    if chief:  # drop lines of epochs that finished after the checkpoint we resume from
        kept = runs.truncate_metrics(run_dir, epoch, warn)
    else:
        kept = [r for r in runs.read_metrics(run_dir, None) if r.get("epoch", 0) <= epoch]
    elapsed = [r["elapsed_s"] for r in kept if "elapsed_s" in r]
    return epoch, float(elapsed[-1]) if elapsed else 0.0


def plot_run(model: keras.Model, run_dir: Path) -> None:
    """``samples/losses.png`` and the model's own ``extra_plots`` (e.g. augintae-adv's k, gamma)."""
    layout = RunLayout(run_dir)
    safe_dir(layout.samples, run_dir)
    plot_metrics(layout.metrics, layout.plot())
    for name, keys in model.extra_plots.items():
        plot_metrics(layout.metrics, layout.plot(name), list(keys))


def warn_slow_settings(cfg: Config, echo: Callable[[str], Any]) -> None:
    """Say which asked-for settings are slow on this CPU (:func:`cpu.slow_setting_warnings`)."""
    gpu = bool(tf.config.list_physical_devices("GPU"))
    for line in cpu.slow_setting_warnings(cfg.train.precision, cfg.train.jit, gpu,
                                          native_bf16=cpu.has_native_bf16(),
                                          onednn=cpu.onednn_enabled(),
                                          onednn_env=os.environ.get(cpu.ONEDNN_ENV)):
        echo(f"warning: {line}")


def train(cfg: Config, run_dir: str | os.PathLike | None = None, *, resume: bool = False,
          runs_root: str | os.PathLike = "runs", dry_run: bool = False, progress: bool | None = None,
          echo: Callable[[str], Any] = print) -> TrainResult | str:
    """Train ``cfg.model.name`` on ``cfg.data``; with ``dry_run`` return the description instead.

    ``resume`` continues ``run_dir`` (default: the newest run in ``runs_root``) from its last
    checkpoint: weights, optimizer moments, step, the model's RNG counter and epoch are restored;
    the data order continues with a fresh deterministic shuffle (seed + epochs done).
    """
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
        lock = runs.RunLock(run_dir).acquire() if chief else None
    try:
        if resume and chief:  # nothing written or removed below may land outside the run
            check_tree(run_dir)
        num_examples = sets[0].images if sets else count_examples(cfg)
        cfg, steps = apply_step_budget(cfg, steps_per_epoch(cfg, num_examples))
        with strategy.scope():
            model = build(cfg, steps)
        if dry_run:
            return describe(cfg, model, num_examples, steps, sets[0] if sets else None)
        return _train_in(cfg, run_dir, model, strategy, steps, resume, chief, progress, echo, sets)
    except BaseException as exc:
        if isinstance(exc, Terminated):
            exc.run_dir = run_dir
        if lock is not None and not resume:
            undo_failed_start(run_dir, created, lock)
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


def undo_failed_start(run_dir: Path, created: list[Path], lock: runs.RunLock) -> None:
    """A new run that failed before its first checkpoint (a batch larger than the data, a bad
    data option, an interrupt in epoch 1): remove what the start wrote (its config, metrics,
    samples, logs, lock) and the folders it created, so the same command can be retried. The
    folder was empty when it started and this process held the lock since, so nothing removed
    is anyone else's; a run with a checkpoint is kept: --resume continues it."""
    from augintae_tf.checkpoints import list_checkpoints

    layout = RunLayout(run_dir)
    if list_checkpoints(layout.checkpoints):
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
              chief: bool, progress: bool | None, echo: Callable[[str], Any],
              sets: tuple[SetSummary, dict[int, int]] | None = None) -> TrainResult:
    """The part of :func:`train` that runs holding the run's lock."""
    if chief and resume:
        runs.remove_stale_temporaries(run_dir, echo)
    initial_epoch, elapsed = _resume_point(cfg, run_dir, model, chief, echo) if resume else (0, 0.0)
    epochs = model.train_epochs(cfg.train)  # e.g. wgan-gp trains epoch_factor times longer
    if initial_epoch >= epochs:
        echo(f"{run_dir} already finished its {epochs} epochs; nothing to do")
        return TrainResult(run_dir, initial_epoch)
    if chief:
        runs.save_config(run_dir, cfg)
    echo(f"{'resuming' if initial_epoch else 'training'} {cfg.model.name} on {cfg.data.dataset} in "
         f"{run_dir} (epoch {initial_epoch + 1}/{epochs}, {steps} steps/epoch, "
         f"{strategy.num_replicas_in_sync} replica(s))")
    if sets is not None:
        echo(f"training on {sets[0].line()}")
    if chief and not initial_epoch:
        for line in training_image_fallbacks(cfg):
            echo(f"warning: {line}")
    dataset = training_dataset(cfg, cfg.train.seed + initial_epoch, sets)
    if progress is None:
        progress = sys.stdout.isatty()
    callbacks: list[keras.callbacks.Callback] = []
    layout = RunLayout(run_dir)
    if chief:
        safe_dir(layout.logs / "train", run_dir)  # where Keras' TensorBoard writes: not a link
        state = lambda epoch: {"step": int(model.optimizer.iterations.numpy()),
                               "rng_step": int(model.step_counter.numpy()),
                               "config": cfg.to_dict()}
        callbacks = [  # MetricsLog first: an epoch's images/s leave out the writing below
            MetricsLog(layout.metrics, cfg.train.batch_size, steps, elapsed,
                       echo=None if progress else echo),
            Checkpointer(layout.checkpoints, cfg.train.keep_checkpoints, state,
                         snap=cfg.train.snap, epochs=epochs),
            SampleGrids(layout.samples, sample_batches(cfg, echo), root=run_dir),
            keras.callbacks.TensorBoard(log_dir=str(layout.logs), write_graph=False),
        ]
    if cfg.train.steps:  # every worker stops at the same step
        callbacks.append(StepBudget(cfg.train.steps * epochs // cfg.train.epochs, steps))
    try:
        history = model.fit(dataset, epochs=epochs, initial_epoch=initial_epoch,
                            steps_per_epoch=steps, callbacks=callbacks, verbose=1 if progress else 0,
                            shuffle=False)  # the dataset is already shuffled (seeded) by tf.data
    except Exception as exc:  # the TensorBoard writer's full disk is a ResourceExhaustedError
        if isinstance(exc, RunError) or not is_no_space(exc):
            raise
        raise no_space_error("TensorBoard logs", layout.logs) from None
    if chief:
        plot_run(model, run_dir)
        for stage in model.stages:  # e.g. wgan-gp's inversion network, its own checkpoint
            model.run_stage(stage, run_dir, cfg, echo)
    records = runs.read_metrics(run_dir) if chief else []
    epochs_run = max((len(v) for v in history.history.values()), default=0)
    return TrainResult(run_dir, initial_epoch + epochs_run, records)


def run_stage(run_dir: str | os.PathLike, stage: str, echo: Callable[[str], Any] = print) -> Path:
    """Rerun post-training ``stage`` of a trained run (``augintae-tf train --stage``), holding the
    run's lock; the stage replaces its earlier checkpoint."""
    from augintae_tf.models import model_class

    run_dir = Path(run_dir)
    cfg = runs.read_config(run_dir)
    stages = model_class(cfg.model.name).stages
    if stage not in stages:
        raise RunError(f"--stage {stage}: model {cfg.model.name} has "
                       f"{'the stages ' + ', '.join(stages) if stages else 'no stages'}")
    with runs.RunLock(run_dir):
        check_tree(run_dir)  # the stage writes into the run: never through a link
        run = runs.load_run(run_dir, warn=None, stages=False)  # a stage starts over
        run.model.run_stage(stage, run_dir, cfg, echo)
    return run_dir
