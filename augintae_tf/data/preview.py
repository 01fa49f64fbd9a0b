"""A few images that show what a dataset holds (``augintae-tf augment-preview``): spread over its
classes and over each class, not the first files of its first class."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import DataConfig
from . import folder
from .pipeline import label_names, load_arrays
from .registry import resolve

# At most this many images of a registered dataset are read to choose from (a folder is chosen
# from by its file list, so only the chosen files are decoded).
POOL = 4096


def spread_indices(labels: np.ndarray, num: int, seed: int = 0) -> np.ndarray:
    """``num`` indices (fewer when there are fewer labels) spread over the classes: ``min(num,
    classes)`` classes evenly spaced over the sorted class list, then one image of each in
    turn, each class's images in a random order fixed by ``seed``; sorted by class, then index.
    With one class (a folder without subfolders) it is a random draw over the whole set."""
    labels = np.asarray(labels).reshape(-1)
    classes = np.unique(labels)
    if not len(classes) or num < 1:
        return np.zeros(0, np.int64)
    rng = np.random.default_rng([seed, 11])
    picked = classes[np.round(np.linspace(0, len(classes) - 1, min(num, len(classes)))).astype(int)]
    members = [rng.permutation(np.flatnonzero(labels == c)) for c in picked]
    chosen = []
    for turn in range(max(map(len, members))):
        chosen += [m[turn] for m in members if turn < len(m)][:num - len(chosen)]
    return np.asarray(sorted(chosen, key=lambda i: (labels[i], i)), np.int64)


def preview_images(cfg: DataConfig, split: str, num: int, seed: int = 0
                   ) -> tuple[np.ndarray, list[str], int]:
    """(float32 images ``[n, S, S, C]``, a name per image, number of classes shown) of ``num``
    images of ``split`` chosen by :func:`spread_indices`.  A folder names each image by its
    path inside the folder; a registered dataset by its class name (or number)."""
    target = resolve(cfg.dataset)
    if isinstance(target, Path) and cfg.classes is None:
        files, labels, _ = folder.scan(target)
        chosen = spread_indices(np.asarray(labels), num, seed)
        images, used = folder.load_image_files([files[i] for i in chosen], cfg.image_size,
                                               cfg.channels)
        label_of = {files[i]: labels[i] for i in chosen}
        shown = len({label_of[path] for path in used})
        return images, [str(path.relative_to(target)) for path in used], shown
    images, labels = load_arrays(cfg, split, limit=min(cfg.limit or POOL, POOL))
    chosen = spread_indices(labels, num, seed)
    names = label_names(cfg.dataset, split, cfg.data_dir) or []
    if cfg.classes is not None:  # load_arrays relabelled the chosen classes 0..k-1
        names = list(cfg.classes)
    return (images[chosen], [names[l] if l < len(names) else f"class {l}" for l in labels[chosen]],
            len(set(labels[chosen].tolist())))
