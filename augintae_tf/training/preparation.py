"""What a training run is made of, before it fits: its steps and epochs, its batches (images or
labelled sets, as the model asks), the model with every optimizer built, the fixed images of its
progress grids, and what ``--dry-run`` prints.  :mod:`augintae_tf.training.fit` runs it.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

from augintae_tf import cpu
from augintae_tf.config.schema import Config
from augintae_tf.data import (DataError, SetSummary, check_labelled, load_arrays, load_split,
                              make_dataset, make_set_dataset, resolve_novel, set_summary,
                              training_image_fallbacks)
from augintae_tf.models import build_model, model_class, precision
from augintae_tf.training.optimizers import FusedAdam


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
    (:class:`~augintae_tf.training.callbacks.StepBudget`): the run does exactly ``train.steps`` steps.
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
    return model_class(cfg.model.name).lr_policy(cfg.train, steps)


def build(cfg: Config, steps: int, adam: type[keras.optimizers.Adam] = FusedAdam) -> keras.Model:
    """Model plus every optimizer, all variables created, so a restore loses nothing.

    ``adam``: the Adam class of every optimizer; ``keras.optimizers.Adam`` gives Keras' unfused
    update (the benchmark's baseline), with the same variables and the same arithmetic.
    """
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
    lines += [f"warning: {line}" for line in training_image_fallbacks(cfg.data)]
    lines += ["", f"# model {cfg.model.name} ({cfg.backbone})"]
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


def warn_slow_settings(cfg: Config, echo: Callable[[str], Any]) -> None:
    """Say which asked-for settings are slow on this CPU (:func:`cpu.slow_setting_warnings`)."""
    gpu = bool(tf.config.list_physical_devices("GPU"))
    for line in cpu.slow_setting_warnings(cfg.train.precision, cfg.train.jit, gpu,
                                          native_bf16=cpu.has_native_bf16(),
                                          onednn=cpu.onednn_enabled(),
                                          onednn_env=os.environ.get(cpu.ONEDNN_ENV)):
        echo(f"warning: {line}")
