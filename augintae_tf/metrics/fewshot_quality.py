"""Few-shot quality with its own yardsticks: a model's few-shot images scored beside the reference
rows (:mod:`.reference_rows`: the floor, seed copies, augmented copies and pixel cross-fade, all
on the same plan) against one real comparison set; :mod:`.quality_table` prints the result.

Metrics per row (:data:`METRICS`), in the feature space of ``features_fn`` unless "px":

* ``fd``: Fréchet distance of the whole row to the whole comparison set (pooled over classes:
  per-class FDs from a few images each are dominated by small-sample bias); ``fd_class_mean``:
  the mean of the per-class FDs, for when classes have many images;
* ``class_accuracy``: share of the row's images that ``classify_fn`` labels as their class
  (only when a classifier is given);
* ``precision``, ``recall``, ``density``, ``coverage`` (:mod:`.manifold`): per class (row images
  of class c vs comparison images of class c: a "7" that looks like a real "2" is not precise),
  then averaged over classes;
* ``seed_distance`` / ``seed_distance_px``: mean distance of each image to the nearest seed of its
  class, in features (Euclidean) and in pixels (root-mean-square per pixel, so in [0, 1]);
  memorisation: 0 for seed copies; the floor row shows how far a real new instance lies;
* ``realism`` (:mod:`.realism`): held-out accuracy of a CNN trained to tell the comparison set from
  the row, 0.5 = indistinguishable; one pooled test per row (a CNN per class would cost too much);
* ``double_exposure`` (:mod:`.double_exposure`): share of the row's images that a blend of two of
  their class's seeds explains far better than one seed (``e2 < ratio * e1``), per class and
  pooled over all the row's images (not a class mean); options ``double_exposure_ratio`` and
  ``double_exposure_shift``.

The feature network should not have been trained on the floor set or the seeds: a classifier
trained on all novel images scores the floor and the seed copies on images it learnt (on glyphs its
class accuracy on the floor read 0.94 that way, 0.60 when the floor was unseen), while a model's
images are always unseen.  Training it on the comparison set only (``real_split(...).comparison``)
keeps every scored row equally unseen.

Per-class values that cannot be computed (too few images of a class for k-NN or a covariance) are
``None``; class means skip them.  Every value is a plain float or ``None``, ready for JSON.
"""
from __future__ import annotations

import math
import warnings
from typing import Callable, Mapping, NamedTuple

import numpy as np

from augintae_tf.metrics.double_exposure import DEFAULT_RATIO, DEFAULT_SHIFT, double_exposures
from augintae_tf.metrics.fewshot import FewShotPlan
from augintae_tf.metrics.frechet import frechet_distance_from_activations
from augintae_tf.metrics.guards import guard_fd, guard_realism, mark_double_exposure
from augintae_tf.metrics.manifold import (nearest_seed_distance, pixel_rms_distance,
                                          precision_recall_density_coverage)
from augintae_tf.metrics.realism import realism_accuracy
from augintae_tf.metrics.reference_rows import (REFERENCE_ROWS, pixel_crossfade, real_split,
                                                seed_augmented, seed_copies)

CLASS_METRICS = ("fd", "class_accuracy", "precision", "recall", "density", "coverage", "seed_distance",
                 "seed_distance_px")
METRICS = ("fd", "fd_class_mean", "class_accuracy", "precision", "recall", "density", "coverage",
           "seed_distance", "seed_distance_px", "realism", "double_exposure")
REALISM_MIN_STEPS = 60  # realism CNN steps at least (glyphs' 2,000-image plans take 110-125)


def _value(x) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def _class_mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


class _Reference(NamedTuple):
    features: np.ndarray  # comparison set features
    labels: np.ndarray
    images: np.ndarray
    seed_features: np.ndarray
    seed_images: np.ndarray
    seed_labels: np.ndarray


def _class_scores(features, images, labels, predicted, ref: _Reference, cls, k: int) -> dict:
    """The :data:`CLASS_METRICS` of one row's images of class ``cls``."""
    mine, theirs = labels == cls, ref.labels == cls
    out = {"images": int(mine.sum()), "comparison_images": int(theirs.sum())}
    if mine.sum() >= 2 and theirs.sum() >= 2:
        with warnings.catch_warnings():  # a degenerate covariance is expected with few images
            warnings.simplefilter("ignore", RuntimeWarning)
            out["fd"] = _value(frechet_distance_from_activations(features[mine], ref.features[theirs]))
    else:
        out["fd"] = None
    if predicted is not None:
        out["class_accuracy"] = float(np.mean(predicted[mine] == cls)) if mine.any() else None
    if mine.sum() > k and theirs.sum() > k:
        out.update(precision_recall_density_coverage(ref.features[theirs], features[mine], k))
    else:
        out.update(dict.fromkeys(("precision", "recall", "density", "coverage")))
    own = ref.seed_labels == cls
    if mine.any() and own.any():
        out["seed_distance"] = float(np.mean(nearest_seed_distance(
            features[mine], labels[mine], ref.seed_features[own], ref.seed_labels[own])))
        pixels = nearest_seed_distance(images[mine], labels[mine], ref.seed_images[own], ref.seed_labels[own])
        out["seed_distance_px"] = float(np.mean(pixel_rms_distance(pixels, images.shape[1:])))
    else:
        out["seed_distance"] = out["seed_distance_px"] = None
    return out


def _score_row(images, labels, ref: _Reference, features_fn, *, classify_fn=None, classes=None,
              k: int = 3, seed: int = 0, realism_epochs: int = 5, realism_min_steps: int = 0,
              double_exposure: dict | None = None) -> tuple[dict, dict]:
    """(row of :data:`METRICS` + ``images``, ``{class: per-class dict}``) for one image set."""
    images = np.asarray(images, np.float32)
    labels = np.asarray(labels).reshape(-1)
    features = np.asarray(features_fn(images), np.float64)
    predicted = None if classify_fn is None else np.asarray(classify_fn(images)).reshape(-1)
    classes = np.unique(labels) if classes is None else classes
    per_class = {c.item(): _class_scores(features, images, labels, predicted, ref, c, k) for c in classes}
    row = {"images": int(len(images)),
           "fd": _value(frechet_distance_from_activations(features, ref.features)),
           "fd_class_mean": _class_mean(v["fd"] for v in per_class.values())}
    for name in CLASS_METRICS[1:]:
        if name != "class_accuracy" or predicted is not None:
            row[name] = _class_mean(v[name] for v in per_class.values())
    row["realism"] = realism_accuracy(ref.images, images, seed=seed, epochs=realism_epochs,
                                      min_steps=realism_min_steps)
    flags = double_exposures(images, labels, ref.seed_images, ref.seed_labels, **(double_exposure or {}))
    row["double_exposure"] = float(flags.mean()) if len(flags) else None
    for cls, values in per_class.items():
        mine = labels == cls
        values["double_exposure"] = float(flags[mine].mean()) if mine.any() else None
    return row, per_class


def _check(generated: Mapping, plan: FewShotPlan, images: np.ndarray, labels: np.ndarray) -> None:
    if len(labels) != len(images):
        raise ValueError(f"{len(labels)} labels for {len(images)} images")
    for name, array in generated.items():
        if name in REFERENCE_ROWS:
            raise ValueError(f"generated set name {name!r} clashes with a reference row {REFERENCE_ROWS}")
        if array.shape != (len(plan.alpha),) + images.shape[1:]:
            raise ValueError(f"generated set {name!r} must be one image per plan row, "
                             f"{(len(plan.alpha),) + images.shape[1:]}, got {array.shape}")


def fewshot_quality(generated, plan: FewShotPlan, images, labels, features_fn: Callable, *,
                    classify_fn: Callable | None = None, seeds=None, seed: int = 0,
                    realism_epochs: int = 5, realism_min_steps: int = REALISM_MIN_STEPS,
                    k: int = 3, references: bool = True, augment_fn: Callable | None = None,
                    double_exposure_ratio: float = DEFAULT_RATIO,
                    double_exposure_shift: int = DEFAULT_SHIFT) -> dict:
    """Score generated few-shot images and the reference rows against one real comparison set.

    Args:
        generated: images ``[len(plan), H, W, C]`` (row i made from plan row i), or a mapping
            ``{name: images}`` to score several models against the same references.
        plan, images, labels: the plan and the (novel) array it indexes, with its labels.
        features_fn: images -> features ``[N, F]`` (e.g. ``TrainedClassifier.embed``).
        classify_fn: optional images -> predicted labels ``[N]`` (``TrainedClassifier.predict``).
        seeds: seed indices or ``sample_seeds``' dict (see :func:`real_split`).
        seed: fixes the real split and the realism CNNs.
        realism_epochs, realism_min_steps, k: see :mod:`.realism` and :mod:`.manifold`.
        references: False scores only ``generated`` (the split and counts are the same).
        augment_fn: ``(images, seed) -> images``, a random affine per image: with it the
            reference rows include ``seed_augmented`` (:func:`seed_augmented`).
        double_exposure_ratio, double_exposure_shift: the ``ratio`` and ``shift`` (px) of
            :func:`~augintae_tf.metrics.double_exposure.double_exposures`, against each row's
            class seeds (the split's seeds).

    Returns:
        ``{"rows": {name: {metric: value, "images": n}}`` (generated names first, then
        :data:`REFERENCE_ROWS`), ``"per_class": {name: {class: {metric: value, "images": n}}}``,
        ``"counts": {"classes", "seeds_per_class", "seeds", "images", "comparison_images",
        "floor_images", "k", "realism_epochs", "realism_min_steps", "double_exposure_ratio",
        "double_exposure_shift"}}`` (``seeds_per_class``: the fewest any class has),
        ``"withheld"`` when :mod:`.guards` withheld a figure (an FD from too few images, a
        powerless realism test) and ``"marked"`` when it marked one (double exposures).
    """
    images = np.asarray(images, np.float32)
    labels = np.asarray(labels).reshape(-1)
    generated = dict(generated) if isinstance(generated, Mapping) else {"model": generated}
    generated = {name: np.asarray(array, np.float32) for name, array in generated.items()}
    _check(generated, plan, images, labels)
    split = real_split(labels, plan, seeds=seeds, seed=seed)
    classes = np.unique(plan.class_label)
    ref = _Reference(np.asarray(features_fn(images[split.comparison]), np.float64),
                     labels[split.comparison], images[split.comparison],
                     np.asarray(features_fn(images[split.seeds]), np.float64), images[split.seeds],
                     labels[split.seeds])
    sets = {name: (array, plan.class_label) for name, array in generated.items()}
    if references:
        sets.update(floor=(images[split.floor], labels[split.floor]),
                    seed_copies=(seed_copies(images, plan), plan.class_label))
        if augment_fn is not None:
            sets["seed_augmented"] = (seed_augmented(images, plan, augment_fn, seed),
                                      plan.class_label)
        sets["crossfade"] = (pixel_crossfade(images, plan), plan.class_label)
    # every row is tested against the same seeds: their variant tables are built once
    exposure = {"ratio": double_exposure_ratio, "shift": double_exposure_shift, "tables": {}}
    rows, per_class = {}, {}
    for name, (array, row_labels) in sets.items():
        rows[name], per_class[name] = _score_row(array, row_labels, ref, features_fn,
                                                 classify_fn=classify_fn, classes=classes, k=k,
                                                 seed=seed, realism_epochs=realism_epochs,
                                                 realism_min_steps=realism_min_steps,
                                                 double_exposure=exposure)
    seed_counts = [int(np.sum(ref.seed_labels == c)) for c in classes]
    counts = {"classes": int(len(classes)), "seeds_per_class": min(seed_counts),
              "seeds": int(len(split.seeds)), "images": int(len(plan.alpha)),
              "comparison_images": int(len(split.comparison)), "floor_images": int(len(split.floor)),
              "k": int(k), "realism_epochs": int(realism_epochs),
              "realism_min_steps": int(realism_min_steps),
              "double_exposure_ratio": float(double_exposure_ratio),
              "double_exposure_shift": int(double_exposure_shift)}
    result = {"rows": rows, "per_class": per_class, "counts": counts}
    guard_fd(result, ref.features.shape[1])
    guard_realism(result, len(split.comparison))
    mark_double_exposure(result)
    return result
