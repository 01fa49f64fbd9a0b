"""TensorFlow Datasets as a source: already prepared data only, never a download.

Without internet, ``tfds.load`` retries downloads for minutes before failing.  Here the builder is
only asked whether its prepared files exist in ``data_dir`` (a file-system check, no network), and
a missing dataset fails at once with a one-line :class:`DataError` that says how to prepare it on a
machine with internet.  ``tensorflow_datasets`` is imported lazily: only TFDS datasets need it.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable

import tensorflow as tf

from .convert import finish
from .registry import DataError, DatasetInfo

# Per-dataset fixes that bring every dataset to one convention: upright, white strokes on black.
_PREPROCESS: dict[str, Callable[[tf.Tensor], tf.Tensor]] = {
    # TFDS Omniglot is black strokes on white, stored as RGB 105x105.
    "omniglot": lambda image: 1.0 - tf.image.rgb_to_grayscale(image),
    # TFDS keeps EMNIST's transposed storage order: swap height and width back.
    "emnist/letters": lambda image: tf.transpose(image, [1, 0, 2]),
}


def _label(name: str, example: dict) -> tf.Tensor:
    """The class of an example; CelebA has no class label, its identity number plays that role."""
    if name == "celeb_a":
        return example["identity"]["Identity_No"]
    return example["label"]


def default_data_dir(data_dir: str | None = None) -> str:
    """``data_dir``, else ``$TFDS_DATA_DIR``, else ``~/tensorflow_datasets`` (as TFDS does)."""
    return str(Path(data_dir or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets")
               .expanduser())


def _builder(name: str, data_dir: str):
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=data_dir)
    except Exception as exc:  # TFDS raises assorted types; the caller gets one DataError line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"TFDS cannot open dataset {name!r} in {data_dir}: {first}") from None


def is_prepared(name: str, data_dir: str | None = None) -> bool:
    """Whether TFDS finds the prepared files of ``name`` in the data directory (no network).

    TFDS logs a WARNING for every empty version folder it looks at; the answer ("no") already
    says so, so absl's logger is quietened during the check."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return bool(_builder(name, default_data_dir(data_dir)).is_prepared())
    finally:
        logger.setLevel(level)


def not_prepared_error(name: str, data_dir: str) -> DataError:
    return DataError(
        f"dataset {name!r} is not prepared in {data_dir}; on a machine with internet run "
        f"`tfds build {name} --data_dir=DIR` (or `python -m tensorflow_datasets.scripts."
        f"download_and_prepare --datasets={name} --data_dir=DIR`), copy DIR here and pass "
        f"--data-dir DIR (data.data_dir=DIR), or use the offline dataset 'glyphs'")


def load(info: DatasetInfo, split: str, image_size: int, channels: int, data_dir: str | None,
         limit: int | None) -> tf.data.Dataset:
    """(uint8 image [S, S, C], int32 label) elements of a prepared TFDS split, in file order."""
    data_dir = default_data_dir(data_dir)
    builder = _builder(info.name, data_dir)
    if not builder.is_prepared():
        raise not_prepared_error(info.name, data_dir)
    # shuffle_files=False: a deterministic order, so `limit` always selects the same examples.
    ds = builder.as_dataset(split=split, shuffle_files=False)
    if limit is not None:
        ds = ds.take(limit)
    preprocess = _PREPROCESS.get(info.name)

    def convert(example: dict) -> tuple[tf.Tensor, tf.Tensor]:
        image = tf.cast(example["image"], tf.float32) / 255.0
        if preprocess is not None:
            image = preprocess(image)
        return finish(image, image_size, channels), tf.cast(_label(info.name, example), tf.int32)

    return ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def label_names(info: DatasetInfo, data_dir: str | None = None) -> list[str] | None:
    """Class names from the builder's metadata (available without the data), else None."""
    features = _builder(info.name, default_data_dir(data_dir)).info.features
    label = features["label"] if "label" in features else None
    names = getattr(label, "names", None)
    return list(names) if names else None
