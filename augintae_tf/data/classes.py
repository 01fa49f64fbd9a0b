"""Class selection, class-balanced batches and per-class extra augmentation (the Pegasus recipe:
564 horse-like and 143 bird-like images, batches of 8 with 4 of each, the birds cropped and
rotated more often than the horses).

- ``data.classes``: keep only these classes of any labelled source (names as
  ``augintae-tf datasets`` / the folder's subfolders / TFDS ClassLabel names, or integer labels);
  the kept labels become 0..k-1 in the order listed.
- ``data.balanced``: every batch holds ``batch_size / k`` images of each class (each class is
  shuffled and repeated on its own, so small classes are seen as often as large ones).
- ``data.class_augment``: ``{class: [p_crop, crop_min, p_rot90]}``: with probability ``p_crop``
  a random square crop of side ``U(crop_min, 1)`` of the image, resized back; then with
  probability ``p_rot90`` each a 90-degree clockwise or anti-clockwise rotation.  Applied in the
  training pipeline only, before DiffAugment / the model's own augmentation, from stateless seeds
  (training seed, element index): deterministic and no Python per step.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf

from .registry import DataError


# Class names of TFDS datasets whose builder may report bare numbers (e.g. metadata not yet read,
# as under tfds.testing.mock_data); the order is TFDS' label order.
KNOWN_NAMES = {
    "stl10": ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                "truck"],
}


def class_ids(requested: Sequence[str], names: Sequence[str] | None, dataset: str) -> list[int]:
    """The labels of ``requested`` (names, or integers as text) given the dataset's class names."""
    if dataset in KNOWN_NAMES and (names is None or all(str(n).isdigit() for n in names)):
        names = KNOWN_NAMES[dataset]
    ids = []
    for item in requested:
        text = str(item)
        if names is not None and text in names:
            ids.append(list(names).index(text))
        elif text.lstrip("-").isdigit() and (names is None or 0 <= int(text) < len(names)):
            ids.append(int(text))
        else:
            known = ", ".join(list(names)[:20]) + (" ..." if names and len(names) > 20 else "")
            raise DataError(f"data.classes: {text!r} is not a class of {dataset}; its classes: "
                            f"{known or 'unnamed (use integer labels)'}")
    if len(set(ids)) != len(ids):
        raise DataError(f"data.classes lists a class twice: {list(requested)}")
    return ids


def filter_classes(ds: tf.data.Dataset, ids: Sequence[int]) -> tf.data.Dataset:
    """Keep (image, label) elements whose label is in ``ids``; relabel to their index there."""
    table = np.full(max(ids) + 1, -1, np.int32)
    table[list(ids)] = np.arange(len(ids), dtype=np.int32)
    table = tf.constant(table)

    def relabel(image, label):
        label = tf.cast(label, tf.int32)
        inside = tf.logical_and(label >= 0, label < tf.size(table))
        index = tf.clip_by_value(label, 0, tf.size(table) - 1)
        return image, tf.where(inside, tf.gather(table, index), -1)

    return ds.map(relabel).filter(lambda image, label: label >= 0)


def augment_table(class_augment: Mapping[str, Sequence[float]] | None, classes: Sequence[str],
                  num_classes: int) -> np.ndarray | None:
    """``[num_classes, 3]`` rows (p_crop, crop_min, p_rot90) by label; zeros for unlisted classes."""
    if not class_augment:
        return None
    table = np.zeros((num_classes, 3), np.float32)
    table[:, 1] = 1.0
    for name, values in class_augment.items():
        if str(name) not in [str(c) for c in classes]:
            raise DataError(f"data.class_augment: {name!r} is not one of data.classes "
                            f"({', '.join(map(str, classes))})")
        table[[str(c) for c in classes].index(str(name))] = values
    return table


def class_augment(image, label, seed, table: tf.Tensor) -> tf.Tensor:
    """One uint8 image ``[S, S, C]`` with its class's crop and rotation (module docstring)."""
    p_crop, crop_min, p_rot = tf.unstack(tf.gather(table, label))
    u = tf.random.stateless_uniform([5], seed, dtype=tf.float32)
    size = image.shape[0]
    side = tf.cast(tf.round(size * (crop_min + (1.0 - crop_min) * u[1])), tf.int32)
    side = tf.clip_by_value(side, 1, size)
    y = tf.cast(u[2] * tf.cast(size - side + 1, tf.float32), tf.int32)
    x = tf.cast(u[3] * tf.cast(size - side + 1, tf.float32), tf.int32)
    crop = tf.image.resize(tf.cast(image[y:y + side, x:x + side], tf.float32), [size, size],
                           method="bilinear", antialias=True)
    crop = tf.cast(tf.round(tf.clip_by_value(crop, 0.0, 255.0)), image.dtype)
    image = tf.cond(u[0] < p_crop, lambda: crop, lambda: image)
    # u[4] in [0, p) -> clockwise (k = 3), [p, 2p) -> anti-clockwise (k = 1), else none
    k = tf.where(u[4] < p_rot, 3, tf.where(u[4] < 2.0 * p_rot, 1, 0))
    return tf.image.rot90(image, k)


def with_class_augment(ds: tf.data.Dataset, table: np.ndarray, seed: int, stream: int = 0
                       ) -> tf.data.Dataset:
    """Map :func:`class_augment` over an (already repeated) stream of (image, label) elements;
    element i uses the stateless seed (seed, stream * 2^32 + i)."""
    table = tf.constant(table)
    offset = tf.constant(stream, tf.int64) * (2 ** 32)

    def apply(index, element):
        image, label = element
        element_seed = tf.stack([tf.constant(seed, tf.int64), offset + index])
        return class_augment(image, label, element_seed, table), label

    return ds.enumerate().map(apply, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def balanced_batches(ds: tf.data.Dataset, num_classes: int, batch_size: int, seed: int,
                     shuffle_buffer: int, table: np.ndarray | None) -> tf.data.Dataset:
    """Endless batches of ``batch_size`` with ``batch_size / num_classes`` images of each class."""
    if batch_size % num_classes:
        raise DataError(f"data.balanced: the batch size {batch_size} is not a multiple of the "
                        f"{num_classes} classes; choose e.g. --batch-size "
                        f"{num_classes * max(1, batch_size // num_classes)}")
    per_class = batch_size // num_classes
    parts = []
    for c in range(num_classes):
        part = ds.filter(lambda image, label, c=c: label == c)
        part = part.shuffle(shuffle_buffer, seed=seed + 7919 * c, reshuffle_each_iteration=True)
        part = part.repeat()
        if table is not None:
            part = with_class_augment(part, table, seed, stream=c)
        parts.append(part.batch(per_class, drop_remainder=True))
    joined = tf.data.Dataset.zip(tuple(parts))
    return joined.map(lambda *batches: (tf.concat([b[0] for b in batches], axis=0),
                                        tf.concat([b[1] for b in batches], axis=0)))


def class_counts(ds: tf.data.Dataset, num_classes: int) -> np.ndarray:
    """Images per label (one pass over the labels)."""
    labels = [y for y in ds.map(lambda image, label: label).batch(4096).as_numpy_iterator()]
    labels = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    return np.bincount(labels[labels >= 0], minlength=num_classes)
