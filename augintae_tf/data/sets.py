"""Class-labelled sets (and pairs, sets of 2) for the supervised few-shot baselines.

DAGAN trains on pairs of same-class images and the Neural Statistician on sets of 5; both need
the class labels that the unsupervised models ignore.  The sampler is a ``tf.data`` pipeline, no
Python per step:

    source (uint8 image, label) -> keep classes with >= set_size images -> cache -> shuffle
    (seeded, new order every pass) -> group_by_window(label, set_size) -> repeat -> batch of sets

``group_by_window`` keeps one open window per class and emits it once ``set_size`` images of that
class have arrived, so within one pass every image is used at most once and the members of a set
are always distinct images; a class's last partial window is dropped at the end of the pass.
Classes with fewer images than a set needs would never fill a window: they are filtered out before
the pipeline and counted in :class:`SetSummary` (never an endless resample).  If no class is left,
it is a one-line :class:`DataError` at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..config import DataConfig
from .convert import to_float
from .folder import image_files
from .pipeline import _source
from .registry import DataError, resolve

LABELLED_SOURCES = ("glyphs, digits, image folders with one subfolder per class, and TFDS datasets "
                    "with class labels (omniglot, mnist, emnist/letters, fashion_mnist, kmnist, "
                    "cifar10, cifar100, celeb_a identities, stl10 train/test)")


@dataclass(frozen=True)
class SetSummary:
    """What the set sampler draws from: ``classes`` with at least ``set_size`` images (holding
    ``images`` images) and ``skipped`` classes with fewer."""

    set_size: int
    classes: int
    skipped: int
    images: int

    def line(self) -> str:
        return (f"sets of {self.set_size} same-class images from {self.classes} classes "
                f"({self.images} images); {self.skipped} classes with fewer than {self.set_size} "
                "images skipped")


def _has_class_subfolders(root: Path) -> bool:
    return any(d.is_dir() and not d.name.startswith(".") and image_files(d)
               for d in root.iterdir())


def class_counts(cfg: DataConfig, split: str, dataset: str | None = None) -> dict[int, int]:
    """``{label: images}`` of one split (``cfg.limit`` applies); one pass over the labels."""
    ds = _source(dataset or cfg.dataset, split, cfg.image_size, cfg.channels, cfg.data_dir,
                 cfg.limit)
    labels = [batch for batch in ds.map(lambda image, label: label).batch(8192)
              .as_numpy_iterator()]
    labels = np.concatenate(labels) if labels else np.zeros(0, np.int32)
    values, counts = np.unique(labels, return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts)}


def check_labelled(cfg: DataConfig, split: str, model_name: str,
                   counts: dict[int, int] | None = None) -> dict[int, int]:
    """The split's class counts, or a one-line DataError if the source has no class labels."""
    name = cfg.dataset
    target = resolve(name)
    why = None
    if isinstance(target, Path) and not _has_class_subfolders(target):
        why = "a folder without class subfolders"
    else:
        counts = class_counts(cfg, split) if counts is None else counts
        if counts and max(counts) < 0:
            why = f"split {split!r} is unlabelled (label -1)"
    if why:
        raise DataError(f"model {model_name!r} trains on class-labelled sets, but {name!r} has no "
                        f"class labels ({why}); sources with labels: {LABELLED_SOURCES}")
    return {k: v for k, v in counts.items() if k >= 0}


def set_summary(counts: dict[int, int], set_size: int) -> SetSummary:
    used = {k: v for k, v in counts.items() if v >= set_size}
    return SetSummary(set_size, len(used), len(counts) - len(used), sum(used.values()))


def make_set_dataset(cfg: DataConfig, split: str, set_size: int, sets_per_batch: int, *,
                     model_name: str, seed: int = 0, repeat: bool = True,
                     counts: dict[int, int] | None = None) -> tuple[tf.data.Dataset, SetSummary]:
    """Batches ``(float32 images [sets_per_batch, set_size, S, S, C] in [0, 1], int32 labels
    [sets_per_batch])`` of same-class sets of distinct images, and the :class:`SetSummary`.

    ``counts`` (from :func:`check_labelled`) saves the label pass when already known.
    """
    if set_size < 1 or sets_per_batch < 1:
        raise DataError(f"sets need set_size >= 1 and sets_per_batch >= 1, got {set_size} and "
                        f"{sets_per_batch}")
    counts = check_labelled(cfg, split, model_name, counts)
    summary = set_summary(counts, set_size)
    if summary.classes == 0:
        raise DataError(f"model {model_name!r} needs sets of {set_size} same-class images, but no "
                        f"class of {cfg.dataset!r} split {split!r} has that many "
                        f"(largest: {max(counts.values(), default=0)}); raise data.limit or use "
                        "more images per class")
    eligible = tf.constant(sorted(k for k, v in counts.items() if v >= set_size), tf.int32)
    ds = _source(cfg.dataset, split, cfg.image_size, cfg.channels, cfg.data_dir, cfg.limit)
    ds = ds.filter(lambda image, label: tf.reduce_any(tf.equal(label, eligible)))
    if cfg.cache:
        ds = ds.cache()
    ds = ds.shuffle(cfg.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.group_by_window(
        key_func=lambda image, label: tf.cast(label, tf.int64),
        reduce_func=lambda key, window: window.batch(set_size, drop_remainder=True),
        window_size=set_size)
    ds = ds.map(lambda images, labels: (images, labels[0]))
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(sets_per_batch, drop_remainder=True)
    return ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE), summary
