"""The public entry points: one split as a ``tf.data`` pipeline or as NumPy arrays.

Every source yields uint8 images (see :mod:`augintae_tf.data.convert`); the pipeline caches those
and converts to float32 only after batching, so the in-memory cache of a split is a quarter of its
float size.  tf.data does decoding, caching, shuffling, batching and prefetching only:
augmentation runs on the accelerator inside the train step.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import tensorflow as tf

from ..config import DataConfig
from . import digits, folder, glyphs, patches, tfds_source
from .classes import (augment_table, balanced_batches, class_counts, class_ids, filter_classes,
                      with_class_augment)
from .convert import finish, to_float
from .registry import DataError, check_split, resolve

_PACKAGE = {"digits": digits, "patches": patches}  # datasets whose data an installed package ships


def _source(dataset: str, split: str, image_size: int, channels: int, data_dir: str | None,
            limit: int | None, classes: Sequence[str] | None = None) -> tf.data.Dataset:
    """Unbatched (uint8 image [S, S, C], int32 label) elements in a deterministic order; with
    ``classes``, only those (relabelled 0..k-1, :mod:`augintae_tf.data.classes`)."""
    ds = _unfiltered(dataset, split, image_size, channels, data_dir, limit)
    if classes is None:
        return ds
    ids = class_ids(classes, label_names(dataset, split, data_dir), dataset)
    return filter_classes(ds, ids)


def _unfiltered(dataset: str, split: str, image_size: int, channels: int, data_dir: str | None,
                limit: int | None) -> tf.data.Dataset:
    if limit is not None and limit < 1:
        raise DataError(f"limit must be None or >= 1, got {limit}")
    target = resolve(dataset)
    if isinstance(target, Path):  # a folder is one set of images, served under every split name
        images, labels = folder.load_folder(target, image_size, channels, limit)
        return tf.data.Dataset.from_tensor_slices((images, labels))
    check_split(target, split)
    if target.source == "tfds":
        return tfds_source.load(target, split, image_size, channels, data_dir, limit)
    source = glyphs if target.source == "embedded" else _PACKAGE[target.name]
    images, labels = source.split_arrays(split)
    ds = tf.data.Dataset.from_tensor_slices((images[:limit], labels[:limit]))
    if (image_size, channels) == (source.SIZE, 1):
        return ds
    return ds.map(lambda image, label: (finish(tf.cast(image, tf.float32) / 255.0, image_size,
                                               channels), label),
                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def load_split(dataset: str, split: str, image_size: int, channels: int,
               data_dir: str | None = None, limit: int | None = None,
               classes: Sequence[str] | None = None) -> tf.data.Dataset:
    """Unbatched (float32 image [S, S, C] in [0, 1], int32 label) of one split, in a fixed order.

    ``dataset`` is a registered name or an existing folder of images; ``limit`` keeps the first
    ``limit`` examples.  Raises DataError for unknown datasets or splits and for TFDS data that
    is not prepared in ``data_dir`` (at once, without network access).
    """
    return _source(dataset, split, image_size, channels, data_dir, limit, classes).map(
        to_float, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def make_dataset(cfg: DataConfig, split: str, batch_size: int, *, dataset: str | None = None,
                 shuffle: bool = True, seed: int = 0, repeat: bool = False,
                 drop_remainder: bool = True) -> tf.data.Dataset:
    """Batches (float32 images [B, S, S, C] in [0, 1], int32 labels [B]) for training.

    cache (``cfg.cache``) -> shuffle (``cfg.shuffle_buffer``, seeded, a new order every pass) ->
    repeat -> batch -> float conversion -> prefetch.  ``dataset`` overrides ``cfg.dataset``
    (e.g. the novel dataset); ``cfg.limit`` applies.
    """
    name = dataset or cfg.dataset
    if batch_size < 1:
        raise DataError(f"batch_size must be >= 1, got {batch_size}")
    ds = _source(name, split, cfg.image_size, cfg.channels, cfg.data_dir, cfg.limit, cfg.classes)
    if shuffle and repeat and (cfg.balanced or cfg.class_augment):
        return _recipe_batches(cfg, ds, name, split, batch_size, seed)
    size = int(ds.cardinality())
    if drop_remainder and 0 <= size < batch_size:
        raise DataError(f"dataset {name!r} split {split!r} has {size} images, fewer than one "
                        f"batch of {batch_size}; lower the batch size")
    if cfg.cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(cfg.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _recipe_batches(cfg: DataConfig, ds: tf.data.Dataset, name: str, split: str,
                    batch_size: int, seed: int) -> tf.data.Dataset:
    """Training batches with ``data.balanced`` and/or ``data.class_augment`` (endless)."""
    names = cfg.classes or label_names(name, split, cfg.data_dir) or ["0"]
    if cfg.cache:
        ds = ds.cache()
    counts = class_counts(ds, len(names))
    table = augment_table(cfg.class_augment, names, len(names))
    if cfg.balanced:
        empty = [str(n) for n, count in zip(names, counts) if count == 0]
        if empty:
            raise DataError(f"data.balanced: no images of class(es) {', '.join(empty)} in "
                            f"{name!r} split {split!r}")
        ds = balanced_batches(ds, len(names), batch_size, seed, cfg.shuffle_buffer, table)
    else:
        ds = ds.shuffle(cfg.shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat()
        ds = with_class_augment(ds, table, seed).batch(batch_size, drop_remainder=True)
    return ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def load_arrays(cfg: DataConfig, split: str, *, dataset: str | None = None,
                limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(float32 images [N, S, S, C] in [0, 1], int32 labels [N]) of a whole split, in the same
    fixed order as :func:`load_split`; ``limit`` defaults to ``cfg.limit``."""
    ds = _source(dataset or cfg.dataset, split, cfg.image_size, cfg.channels, cfg.data_dir,
                 limit if limit is not None else cfg.limit,
                 cfg.classes if dataset in (None, cfg.dataset) else None)
    images, labels = [], []
    for batch_images, batch_labels in ds.batch(1024).prefetch(2).as_numpy_iterator():
        images.append(batch_images)
        labels.append(batch_labels)
    if not images:
        shape = (0, cfg.image_size, cfg.image_size, cfg.channels)
        return np.zeros(shape, np.float32), np.zeros((0,), np.int32)
    return np.concatenate(images).astype(np.float32) / 255.0, np.concatenate(labels)


def label_names(dataset: str, split: str, data_dir: str | None = None) -> list[str] | None:
    """Class names indexed by label (all classes of the dataset, whatever the split), or None.

    glyphs: "alphabet/character"; folder: subfolder names (the folder's own name when it has no
    class subfolders); TFDS: the ClassLabel names in the builder metadata (None for CelebA).
    """
    target = resolve(dataset)
    if isinstance(target, Path):
        return folder.scan(target)[2]
    check_split(target, split)
    if target.source == "embedded":
        return glyphs.class_names()
    if target.source == "package":
        return _PACKAGE[target.name].class_names()
    return tfds_source.label_names(target, data_dir)


def is_available_offline(name: str, data_dir: str | None = None) -> bool:
    """Whether ``name`` can be loaded here without network: glyphs and existing folders always,
    digits (patches) when scikit-learn (scikit-image) is installed, TFDS datasets when prepared in ``data_dir`` (a quick
    file check).  Unknown names raise."""
    target = resolve(name)
    if isinstance(target, Path) or target.source == "embedded":
        return True
    if target.source == "package":
        return _PACKAGE[target.name].available()
    return tfds_source.is_prepared(target.name, data_dir)


def resolve_novel(cfg: DataConfig) -> tuple[str, str]:
    """(dataset, split) of the novel domain: ``cfg.novel_dataset`` (default: the training
    dataset) at ``cfg.novel_split``."""
    return cfg.novel_dataset or cfg.dataset, cfg.novel_split


def resolve_held_out(cfg: DataConfig) -> tuple[str, str]:
    """(dataset, split) of the training domain's held-out images: ``cfg.test_dataset``
    (default: the training dataset) at ``cfg.test_split``."""
    return cfg.test_dataset or cfg.dataset, cfg.test_split


def same_images(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """Whether two (dataset, split) pairs serve the same images: one folder (a folder serves
    every split name alike), or one registered dataset at one split."""
    (name_a, split_a), (name_b, split_b) = a, b
    target_a, target_b = resolve(name_a), resolve(name_b)
    if isinstance(target_a, Path) and isinstance(target_b, Path):
        return target_a.resolve() == target_b.resolve()
    return target_a == target_b and split_a == split_b



# What falls back to the training images when a folder run has no --novel / --held-out.
FALLBACK_WARNINGS = {
    "novel": "the novel images are the training images ({dataset}): few-shot scores measure "
             "classes the model trained on; pass --novel PATH (a folder of other classes)",
    "held_out": "the held-out images are the training images ({dataset}): reconstruction is "
                "measured on images the model trained on; pass --held-out PATH",
}


def training_image_fallbacks(cfg: DataConfig) -> list[str]:
    """What ``evaluate`` will say about a run's novel and held-out images when they are its
    training images (a folder trained without ``--novel`` / ``--held-out``); ``train`` says it
    first."""
    train = (cfg.dataset, cfg.train_split)
    sources = {"novel": resolve_novel(cfg), "held_out": resolve_held_out(cfg)}
    return [FALLBACK_WARNINGS[which].format(dataset=cfg.dataset)
            for which, source in sources.items() if same_images(source, train)]
