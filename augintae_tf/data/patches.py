"""``patches``: a far novel domain of real photographs, offline, from scikit-image.

No package on PyPI that installs here ships real handwriting of another script or labelled real
photos of objects or faces with several per class inside its wheel (the candidates checked,
with what each holds: docs/datasets.md, "patches").  scikit-image ships real photographs in its
wheel (``skimage.data``; CC0 or public domain, their sources in ``skimage/data/_fetchers.py``)
and 100 real faces of different people (``lfw_subset``, Labeled Faces in the Wild).  This module
makes 10 classes of them, each with real within-class variety (a different part of the same
surface, a different person's face):

- ``brick``, ``grass``, ``gravel``, ``coins``, ``hubble`` (deep field), ``ihc``
  (immunohistochemistry stain), ``text`` (a photographed sign), ``page`` (a scanned page),
  ``fur`` (the cat photo ``chelsea``): every non-overlapping 24x24 tile of the grayscale photo
  (ITU-R 601 luma of RGB ones), in row-major order, at most :data:`MAX_PER_CLASS` of them (a
  fixed random subset), resized bicubically to 28x28 (values clipped to [0, 1]);
- ``face``: the 100 faces of ``lfw_subset`` (25x25), resized the same way.

Tiles never overlap, so a seed and a held-out image of one class share no pixel.  Every class is
novel to every model here: there is one split, ``test``, the far domain on which models trained
on ``digits`` or ``glyphs`` are scored (``--novel-dataset patches``, ``data.novel_dataset``).
Gray photographs, not strokes on black: far from both training domains on purpose.
"""
from __future__ import annotations

import functools
import importlib.util

import numpy as np
from PIL import Image

from augintae_tf.errors import DataError

SIZE = 28
TILE = 24  # tile side in source pixels, before the resize to SIZE
MAX_PER_CLASS = 300
SPLITS = ("test",)
# class name -> skimage.data function; the face class comes from lfw_subset
PHOTOS = (("brick", "brick"), ("grass", "grass"), ("gravel", "gravel"), ("coins", "coins"),
          ("hubble", "hubble_deep_field"), ("ihc", "immunohistochemistry"), ("text", "text"),
          ("page", "page"), ("fur", "chelsea"))
CLASSES = tuple(name for name, _ in PHOTOS) + ("face",)
_SUBSET_SEED = 0
INSTALL_HINT = ("dataset 'patches' reads the photographs scikit-image ships: install it with "
                "`pip install 'augintae-tf[patches]'` (or scikit-image>=0.24)")


def available() -> bool:
    """Whether scikit-image (which carries the photographs) is installed; imports nothing."""
    return importlib.util.find_spec("skimage") is not None


def class_names() -> list[str]:
    return list(CLASSES)


def gray(image: np.ndarray) -> np.ndarray:
    """float64 [H, W] in [0, 1]: 8-bit values / 255, RGB(A) -> luma 0.299 R + 0.587 G + 0.114 B."""
    image = np.asarray(image, np.float64)
    if image.max() > 1.0:
        image = image / 255.0
    if image.ndim == 3:
        image = image[..., :3] @ np.array([0.299, 0.587, 0.114])
    return image


def tiles(image: np.ndarray, tile: int = TILE) -> np.ndarray:
    """Every non-overlapping ``tile`` x ``tile`` square of ``image`` [H, W], row-major."""
    rows, cols = image.shape[0] // tile, image.shape[1] // tile
    cut = image[:rows * tile, :cols * tile]
    return cut.reshape(rows, tile, cols, tile).swapaxes(1, 2).reshape(-1, tile, tile)


def to_28(squares: np.ndarray) -> np.ndarray:
    """float [N, s, s] in [0, 1] -> uint8 [N, 28, 28]: bicubic resize, clipped, rounded."""
    out = np.zeros((len(squares), SIZE, SIZE), np.uint8)
    for i, square in enumerate(np.asarray(squares, np.float32)):
        big = np.asarray(Image.fromarray(square, "F").resize((SIZE, SIZE), Image.BICUBIC))
        out[i] = np.round(np.clip(big, 0, 1) * 255)
    return out


def _capped(squares: np.ndarray, label: int) -> np.ndarray:
    if len(squares) <= MAX_PER_CLASS:
        return squares
    keep = np.sort(np.random.default_rng([_SUBSET_SEED, label]).choice(
        len(squares), MAX_PER_CLASS, replace=False))
    return squares[keep]


@functools.lru_cache(maxsize=1)
def _all() -> tuple[np.ndarray, np.ndarray]:
    if not available():
        raise DataError(INSTALL_HINT)
    import skimage.data

    images, labels = [], []
    for label, (_, function) in enumerate(PHOTOS):
        squares = _capped(tiles(gray(getattr(skimage.data, function)())), label)
        images.append(to_28(squares))
        labels.append(np.full(len(squares), label, np.int32))
    faces = np.asarray(skimage.data.lfw_subset()[:100], np.float64)  # the first 100 are faces
    images.append(to_28(faces))
    labels.append(np.full(len(faces), len(PHOTOS), np.int32))
    images, labels = np.concatenate(images), np.concatenate(labels)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def split_arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [N, 28, 28, 1], int32 [N]) of one split (``test``: every class), class by class."""
    if split not in SPLITS:
        raise DataError(f"dataset 'patches' has no split {split!r}; splits: {', '.join(SPLITS)}")
    images, labels = _all()
    return images[..., None], labels
