"""What training's augmentation makes of a dataset (``augintae-tf augment-preview``): a few of
its images, spread over its classes (:func:`augintae_tf.data.preview.preview_images`), each
followed by augmented copies (:func:`augintae_tf.augment.preview_rows`), as one labelled grid."""
from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from augintae_tf.augment import preview_rows
from augintae_tf.config.schema import Config
from augintae_tf.data.preview import preview_images
from augintae_tf.images import save_labelled_grid


class Preview(NamedTuple):
    """The grid written: ``originals`` images (rows) from ``classes`` classes, ``copies`` each."""

    path: Path
    originals: int
    classes: int
    copies: int


def write_preview(cfg: Config, out: str | os.PathLike, split: str | None = None, num: int = 8,
                  copies: int = 7, seed: int = 0) -> Preview:
    """``num`` images of ``split`` (default: the training split), each beside ``copies``
    augmented copies drawn with ``cfg.augment`` and ``seed``, as a grid labelled with each
    image's class (a folder: its file) at ``out``."""
    images, names, classes = preview_images(cfg.data, split or cfg.data.train_split, num, seed)
    path = save_labelled_grid(out, preview_rows(images, cfg.augment, copies=copies, seed=seed),
                              names)
    return Preview(path, len(images), classes, copies)
