"""Fit orchestration: strategy, run directory, callbacks, checkpoints and resume.

A run directory holds ``config.yaml`` (the resolved config), ``checkpoints/``, ``samples/``,
``metrics.jsonl`` (one line per epoch), TensorBoard ``logs/`` and, after evaluation, ``eval/``.
"""
from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np

from augintae_tf import checkpoints
from augintae_tf.callbacks import Checkpointer, MetricsLog, SampleGrids
from augintae_tf.config import Config, config_diff
from augintae_tf.data import DataError, load_arrays, load_split, make_dataset, resolve_novel
from augintae_tf.distribute import check_jit, is_chief, make_strategy
from augintae_tf.errors import RunError
from augintae_tf.generation import read_run_config
from augintae_tf.optimizers import FusedAdam
from augintae_tf.plots import plot_metrics

RUN_NAME = re.compile(r"^(\d{5})-")


@dataclass
class TrainResult:
    run_dir: Path
    epochs_done: int
    history: list[dict[str, Any]] = field(default_factory=list)


def run_name(cfg: Config) -> str:
    dataset = Path(cfg.data.dataset).name if os.path.isdir(cfg.data.dataset) else cfg.data.dataset
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', dataset)}-{cfg.model.name}"


def new_run_dir(root: str | os.PathLike, cfg: Config) -> Path:
    """``root/NNNNN-<dataset>-<model>`` with the next free number (StyleGAN-style run ids)."""
    root = Path(root)
    taken = [int(m.group(1)) for p in (root.iterdir() if root.is_dir() else [])
             if (m := RUN_NAME.match(p.name))]
    return root / f"{max(taken, default=-1) + 1:05d}-{run_name(cfg)}"


def latest_run_dir(root: str | os.PathLike) -> Path:
    root = Path(root)
    runs = sorted((p for p in (root.iterdir() if root.is_dir() else []) if RUN_NAME.match(p.name)),
                  key=lambda p: p.name)
    if not runs:
        raise RunError(f"--resume found no run in {root}; pass --run-dir RUN")
    return runs[-1]


def steps_per_epoch(cfg: Config, num_examples: int) -> int:
    if cfg.train.steps_per_epoch:
        return cfg.train.steps_per_epoch
    if num_examples < cfg.train.batch_size:
        raise DataError(f"split {cfg.data.train_split!r} of {cfg.data.dataset} has {num_examples} "
                        f"images, fewer than one batch (--batch-size {cfg.train.batch_size})")
    return num_examples // cfg.train.batch_size


def count_examples(cfg: Config) -> int:
    ds = load_split(cfg.data.dataset, cfg.data.train_split, cfg.data.image_size,
                    cfg.data.channels, cfg.data.data_dir, cfg.data.limit)
    n = int(ds.cardinality())
    return n if n >= 0 else int(ds.reduce(0, lambda count, _: count + 1))


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

    model = build_model(cfg)
    lr = model.lr_policy(cfg.train, steps)
    optimizers = {name: adam(lr) for name in model.optimizer_names}
    jit = {"auto": "auto", "on": True, "off": False}[cfg.train.jit]
    model.compile(**optimizers, jit_compile=jit)
    model.build_for_training()
    return model


def describe(cfg: Config, model: keras.Model, num_examples: int, steps: int) -> str:
    """What --dry-run prints: resolved config, dataset summary, parameter counts."""
    novel = resolve_novel(cfg.data)
    lines = ["# resolved config", cfg.to_yaml().rstrip(), "", "# data",
             f"train: {cfg.data.dataset} [{cfg.data.train_split}] {num_examples} images of "
             f"{cfg.data.image_size}x{cfg.data.image_size}x{cfg.data.channels}; {steps} steps/epoch "
             f"of {cfg.train.batch_size}",
             f"novel: {novel[0]} [{novel[1]}]", "", f"# model {cfg.model.name} ({cfg.backbone})"]
    return "\n".join(lines + model.dry_run_lines())


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


def _resume_point(cfg: Config, run_dir: Path, model: keras.Model,
                  chief: bool) -> tuple[int, float]:
    """Restore the newest checkpoint of ``run_dir``; return (epochs done, seconds spent).
    Every worker restores the weights; only the chief rewrites the metrics log."""
    ckpt = checkpoints.latest_checkpoint(run_dir / "checkpoints")
    if ckpt is None:
        return 0, 0.0
    state = checkpoints.restore(ckpt, model)
    epoch = int(state["epoch"])
    log = run_dir / "metrics.jsonl"
    elapsed = 0.0
    if log.exists():  # drop lines of epochs that finished after the checkpoint we resume from
        kept = [line for line in log.read_text().splitlines()
                if line.strip() and json.loads(line).get("epoch", 0) <= epoch]
        if chief:
            log.write_text("".join(line + "\n" for line in kept))
        elapsed = float(json.loads(kept[-1]).get("elapsed_s", 0.0)) if kept else 0.0
    return epoch, elapsed


def prepare_run_dir(cfg: Config, run_dir: str | os.PathLike | None, resume: bool,
                    runs_root: str | os.PathLike, chief: bool = True) -> Path:
    """The run directory to write (or, with ``resume``, to continue), checked; creates nothing.

    Only the chief checks that a new run directory is empty: under multi-worker training the
    other workers share the chief's directory, which the chief may already have started writing.
    """
    if resume:
        run_dir = Path(run_dir) if run_dir else latest_run_dir(runs_root)
        differences = config_diff(read_run_config(run_dir), cfg)
        if differences:
            raise RunError(f"--resume refuses: the config differs from {run_dir}/config.yaml "
                           f"({'; '.join(differences)}); drop those options or start a new run")
        return run_dir
    run_dir = Path(run_dir) if run_dir else new_run_dir(runs_root, cfg)
    if chief and run_dir.exists() and any(run_dir.iterdir()):
        raise RunError(f"run directory {run_dir} already exists and is not empty; pass --resume to "
                       "continue it, or choose another --run-dir")
    return run_dir


def plot_run(model: keras.Model, run_dir: Path) -> None:
    """``samples/losses.png`` and the model's own ``extra_plots`` (e.g. augintae-adv's k, gamma)."""
    plot_metrics(run_dir / "metrics.jsonl", run_dir / "samples" / "losses.png")
    for name, keys in model.extra_plots.items():
        plot_metrics(run_dir / "metrics.jsonl", run_dir / "samples" / name, list(keys))


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
    keras.mixed_precision.set_global_policy(cfg.train.precision)
    strategy = make_strategy(cfg.train.strategy)
    check_jit(strategy, cfg.train.jit)
    num_examples = count_examples(cfg)
    steps = steps_per_epoch(cfg, num_examples)
    with strategy.scope():
        model = build(cfg, steps)
    if dry_run:
        return describe(cfg, model, num_examples, steps)

    chief = is_chief(strategy)
    run_dir = prepare_run_dir(cfg, run_dir, resume, runs_root, chief)
    initial_epoch, elapsed = _resume_point(cfg, run_dir, model, chief) if resume else (0, 0.0)
    if initial_epoch >= cfg.train.epochs:
        echo(f"{run_dir} already finished its {cfg.train.epochs} epochs; nothing to do")
        return TrainResult(run_dir, initial_epoch)
    if chief:
        run_dir.mkdir(parents=True, exist_ok=True)
        cfg.save(run_dir / "config.yaml")
    echo(f"{'resuming' if initial_epoch else 'training'} {cfg.model.name} on {cfg.data.dataset} in "
         f"{run_dir} (epoch {initial_epoch + 1}/{cfg.train.epochs}, {steps} steps/epoch, "
         f"{strategy.num_replicas_in_sync} replica(s))")

    dataset = make_dataset(cfg.data, cfg.data.train_split, cfg.train.batch_size, shuffle=True,
                           seed=cfg.train.seed + initial_epoch, repeat=True)
    if progress is None:
        progress = sys.stdout.isatty()
    callbacks: list[keras.callbacks.Callback] = []
    if chief:
        state = lambda epoch: {"step": int(model.optimizer.iterations.numpy()),
                               "rng_step": int(model.step_counter.numpy()),
                               "config": cfg.to_dict()}
        callbacks = [  # MetricsLog first: an epoch's images/s leave out the writing below
            MetricsLog(run_dir / "metrics.jsonl", cfg.train.batch_size, steps, elapsed,
                       echo=None if progress else echo),
            Checkpointer(run_dir / "checkpoints", cfg.train.keep_checkpoints, state),
            SampleGrids(run_dir / "samples", sample_batches(cfg, echo)),
            keras.callbacks.TensorBoard(log_dir=str(run_dir / "logs"), write_graph=False),
        ]
    history = model.fit(dataset, epochs=cfg.train.epochs, initial_epoch=initial_epoch,
                        steps_per_epoch=steps, callbacks=callbacks, verbose=1 if progress else 0,
                        shuffle=False)  # the dataset is already shuffled (seeded) by tf.data
    if chief:
        plot_run(model, run_dir)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()
               if line.strip()] if chief else []
    epochs_run = max((len(v) for v in history.history.values()), default=0)
    return TrainResult(run_dir, initial_epoch + epochs_run, records)
