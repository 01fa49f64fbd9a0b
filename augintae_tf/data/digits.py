"""``digits``: real handwriting with real within-class variety, offline, from scikit-learn.

scikit-learn ships the UCI "Optical Recognition of Handwritten Digits" test set inside its wheel
(``sklearn.datasets.load_digits``: 1,797 digits written by 13 people, 32x32 bitmaps reduced to
8x8 blocks of ink counts 0-16), so it installs from a package registry and loads with no network.
It is the development set where a few-shot generator has to make *new* instances: glyphs are
rendered fonts whose classes hold little variety, digits hold as much as handwriting does.

Served like MNIST (white strokes on black, 28x28): each 8x8 image / 16 is resized to a 20x20 box
with bicubic filtering (PIL; values clipped to [0, 1]) and centred in 28x28 with 4 px of margin.
The few-shot class split follows the project's character datasets:

- ``train``: background digits 0-4, 85 % of each class (fixed shuffle), the model's training data;
- ``validation``: the other 15 % of the background digits (instances never trained on);
- ``test``: the novel digits 5-9, every image (seeds, comparison and floor sets are drawn from it).

Labels are the digits themselves (0-9), so class names are ``"0"`` ... ``"9"``.
"""
from __future__ import annotations

import functools
import importlib.util

import numpy as np
from PIL import Image

from augintae_tf.errors import DataError

SIZE = 28
BOX = 20  # the digit's box inside 28x28, as MNIST centres a 20x20 box
BACKGROUND = (0, 1, 2, 3, 4)
NOVEL = (5, 6, 7, 8, 9)
VALIDATION_SHARE = 0.15
SPLITS = ("train", "validation", "test")
_SPLIT_SEED = 0  # fixes which background images are held out for validation
INSTALL_HINT = ("dataset 'digits' reads scikit-learn's bundled UCI digits: install it with "
                "`pip install 'augintae-tf[digits]'` (or scikit-learn>=1.4)")


def available() -> bool:
    """Whether scikit-learn (which carries the data file) is installed; imports nothing."""
    return importlib.util.find_spec("sklearn") is not None


def class_names() -> list[str]:
    return [str(d) for d in range(10)]


def to_28(blocks: np.ndarray) -> np.ndarray:
    """Ink counts ``[N, 8, 8]`` in 0-16 -> uint8 ``[N, 28, 28]``: bicubic to 20x20, 4 px margin."""
    out = np.zeros((len(blocks), SIZE, SIZE), np.uint8)
    margin = (SIZE - BOX) // 2
    for i, block in enumerate(np.asarray(blocks, np.float32) / 16.0):
        big = np.asarray(Image.fromarray(block, "F").resize((BOX, BOX), Image.BICUBIC))
        out[i, margin:margin + BOX, margin:margin + BOX] = np.round(np.clip(big, 0, 1) * 255)
    return out


@functools.lru_cache(maxsize=1)
def _all() -> tuple[np.ndarray, np.ndarray]:
    if not available():
        raise DataError(INSTALL_HINT)
    from sklearn.datasets import load_digits

    raw = load_digits()
    images = to_28(raw.images)
    images.flags.writeable = False
    labels = raw.target.astype(np.int32)
    labels.flags.writeable = False
    return images, labels


def split_indices(labels: np.ndarray, split: str) -> np.ndarray:
    """Sorted indices of ``split`` into the full array (module doc): per background class a fixed
    permutation whose first 15 % (rounded up) are validation."""
    if split == "test":
        return np.flatnonzero(np.isin(labels, NOVEL))
    rng = np.random.default_rng(_SPLIT_SEED)
    chosen = []
    for digit in BACKGROUND:
        members = rng.permutation(np.flatnonzero(labels == digit))
        cut = int(np.ceil(VALIDATION_SHARE * len(members)))
        chosen.append(members[:cut] if split == "validation" else members[cut:])
    return np.sort(np.concatenate(chosen))


def split_arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [N, 28, 28, 1], int32 [N]) of one split, in index order."""
    if split not in SPLITS:
        raise DataError(f"dataset 'digits' has no split {split!r}; splits: {', '.join(SPLITS)}")
    images, labels = _all()
    chosen = split_indices(labels, split)
    return images[chosen][..., None], labels[chosen]
