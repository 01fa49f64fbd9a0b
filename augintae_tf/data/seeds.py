"""One class's images written as seed files (``augintae-tf export-seeds``): the seeds that
``augintae-tf generate --seeds`` reads, taken from the novel domain (classes a run never trained
on) by default."""
from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from augintae_tf.errors import DataError, RunError
from augintae_tf.images import save_pngs
from augintae_tf.output_folders import prepare_out, seed_names

from ..config import DataConfig
from .pipeline import label_names, load_arrays, resolve_novel


class ExportedSeeds(NamedTuple):
    """What :func:`export_seeds` wrote: ``paths``, all of class ``label`` (named ``name`` where
    the dataset names its classes) of ``dataset`` at ``split``."""

    paths: list[Path]
    label: int
    name: str | None
    dataset: str
    split: str


def export_seeds(cfg: DataConfig, out: str | os.PathLike, num: int = 5, split: str | None = None,
                 label: str | None = None, overwrite: bool = False) -> ExportedSeeds:
    """``num`` images of one class of the novel domain (:func:`~augintae_tf.data.pipeline.resolve_novel`;
    ``split`` default: its split) as ``out/seed-NN.png``: class ``label`` (a name as printed,
    else a number: :func:`class_number`; default the first class that has ``num`` images)."""
    dataset, default_split = resolve_novel(cfg)
    split = split or default_split
    names = label_names(dataset, split, cfg.data_dir) or []
    number = None if label is None else class_number(label, names, dataset)
    images, labels = load_arrays(cfg, split, dataset=dataset)
    number, paths = export_class_images(out, images, labels, num, number, overwrite)
    return ExportedSeeds(paths, number, names[number] if number < len(names) else None, dataset,
                         split)


def class_number(label: str, names: list[str], dataset: str) -> int:
    """``--label``: a class name as outputs print it (``names[i]``), else a class number (a
    folder whose classes are named 1, 2, ..., 10 sorts "10" second: its name wins)."""
    if label in names:
        return names.index(label)
    if label.strip().isdigit():
        return int(label)
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    raise DataError(f"--label {label}: {dataset} has no class of that name"
                    + (f" (its classes: {shown}; or give a number)" if names
                       else " (its classes have no names: give a number)"))




def export_class_images(out_dir: str | os.PathLike, images: np.ndarray, labels: np.ndarray,
                        num: int, label: int | None = None, overwrite: bool = False
                        ) -> tuple[int, list[Path]]:
    """Write ``num`` images of class ``label`` (default: the first class that has ``num``) as
    ``seed-NN.png``; a non-empty ``out_dir`` needs ``overwrite``, which replaces only what an
    earlier command recorded (:func:`~augintae_tf.output_folders.prepare_out`)."""
    counts = np.bincount(labels[labels >= 0]) if len(labels) else np.zeros(0, int)
    if label is None:
        enough = np.flatnonzero(counts >= num)
        if not len(enough):
            raise RunError(f"no class has {num} images (largest: {counts.max(initial=0)}); lower --num")
        label = int(enough[0])
    chosen = np.flatnonzero(labels == label)[:num]
    if len(chosen) < num:
        raise RunError(f"class {label} has {len(chosen)} images, fewer than --num {num}")
    names = seed_names(num)
    out_dir = prepare_out(out_dir, overwrite, names)
    return label, save_pngs([out_dir / name for name in names], images[chosen])
