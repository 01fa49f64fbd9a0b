"""Few-shot quality with its own yardsticks: the model beside the floor, seed copies and cross-fade.

A few-shot plan (:class:`~augintae_tf.metrics.fewshot.FewShotPlan`) says, per generated row, which
two seeds of a novel class it interpolates and at which ``alpha`` (weight of ``index_a``).  Every
score of the model's images is printed beside reference rows built from the same plan, so a
table says by itself whether the model beats taking no model at all:

* ``floor``: real images of the same classes that are not seeds -- what a perfect generator
  would score (the best attainable FD, realism 0.5, ...);
* ``seed_copies``: per plan row, a copy of the seed its alpha is nearer to (``index_a`` when
  ``alpha >= 0.5``), i.e. pure memorisation of exactly the seeds the model saw;
* ``seed_augmented``: the seed copies, each under a random affine in the recipe's augmentation
  ranges (``augment_fn``; no model): what augmenting the seeds alone adds in variety.  The bar a
  generator of new instances has to clear is this row and the copies, not only the cross-fade;
* ``crossfade``: per plan row, ``alpha * x_a + (1 - alpha) * x_b`` in pixels on exactly the same
  pairs and alphas (double strokes, no model).

The real sets (:func:`real_split`): for every class of the plan, its images that are not seeds
are shuffled (fixed by ``seed``) and cut in two: the first ``ceil(n/2)`` form the *comparison*
set that every row -- model and references alike -- is scored against; the rest form the *floor*
row.  The two never overlap, so the floor is an honest "held-out real vs held-out real", and the
seeds are in neither, so copying them earns no credit for matching the comparison set.

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
from augintae_tf.metrics.guards import (NOT_ENOUGH, guard_fd, guard_realism,  # noqa: F401
                                        mark_double_exposure, withhold)
from augintae_tf.metrics.manifold import (nearest_seed_distance, pixel_rms_distance,
                                          precision_recall_density_coverage)
from augintae_tf.metrics.realism import realism_accuracy

REFERENCE_ROWS = ("floor", "seed_copies", "seed_augmented", "crossfade")
CLASS_METRICS = ("fd", "class_accuracy", "precision", "recall", "density", "coverage", "seed_distance",
                 "seed_distance_px")
METRICS = ("fd", "fd_class_mean", "class_accuracy", "precision", "recall", "density", "coverage",
           "seed_distance", "seed_distance_px", "realism", "double_exposure")
# the table's columns: the rows' metrics, then what augintae_tf.evaluation.utility.add_utility adds
COLUMNS = METRICS + ("utility", "utility_share")
CLASS_COLUMNS = CLASS_METRICS + ("double_exposure",)  # the per-class table's columns
REALISM_MIN_STEPS = 60  # realism CNN steps at least (glyphs' 2,000-image plans take 110-125)


def plan_seeds(plan: FewShotPlan) -> np.ndarray:
    """Sorted indices of every image the plan uses as a seed (``index_a`` and ``index_b``)."""
    return np.unique(np.concatenate([plan.index_a, plan.index_b]))


def nearer_seed(plan: FewShotPlan) -> np.ndarray:
    """Per row, the endpoint its alpha weights more: ``index_a`` where ``alpha >= 0.5``, else ``index_b``."""
    return np.where(np.asarray(plan.alpha) >= 0.5, plan.index_a, plan.index_b)


def seed_copies(images, plan: FewShotPlan) -> np.ndarray:
    """One copy of a seed per plan row (the alpha-nearer endpoint, :func:`nearer_seed`)."""
    return np.asarray(images, np.float32)[nearer_seed(plan)]


def seed_augmented(images, plan: FewShotPlan, augment_fn: Callable, seed: int = 0) -> np.ndarray:
    """The :func:`seed_copies`, each through ``augment_fn(images [N, H, W, C], seed) -> images``
    (a random affine per image, e.g. :func:`augintae_tf.evaluation.quality.affine_fn`), float32."""
    return np.asarray(augment_fn(seed_copies(images, plan), seed), np.float32)


def pixel_crossfade(images, plan: FewShotPlan) -> np.ndarray:
    """Per plan row, ``alpha * x_a + (1 - alpha) * x_b`` in pixel space, float32."""
    images = np.asarray(images, np.float32)
    alpha = np.asarray(plan.alpha, np.float32).reshape((-1,) + (1,) * (images.ndim - 1))
    return alpha * images[plan.index_a] + (1.0 - alpha) * images[plan.index_b]


class RealSplit(NamedTuple):
    """Index arrays into the image array: seeds, comparison set and floor set (disjoint)."""

    seeds: np.ndarray
    comparison: np.ndarray
    floor: np.ndarray


def real_split(labels, plan: FewShotPlan, *, seeds=None, seed: int = 0) -> RealSplit:
    """Per class of the plan: the non-seed images, shuffled, first ``ceil(n/2)`` -> comparison,
    the rest -> floor (module doc).

    ``seeds``: the seed indices, as an array or as :func:`~augintae_tf.metrics.fewshot.sample_seeds`'
    ``{class: indices}``; default :func:`plan_seeds`, which misses a sampled seed that no path
    happened to use (few images per class), so pass the sampled seeds when you have them.
    """
    labels = np.asarray(labels).reshape(-1)
    if seeds is None:
        seeds = plan_seeds(plan)
    elif isinstance(seeds, Mapping):
        seeds = np.concatenate([np.asarray(v, np.int64).reshape(-1) for v in seeds.values()])
    seeds = np.unique(np.asarray(seeds, np.int64).reshape(-1))
    is_seed = np.zeros(len(labels), bool)
    is_seed[seeds] = True
    rng = np.random.default_rng([seed, 11])
    comparison, floor = [], []
    for cls in np.unique(plan.class_label):
        members = rng.permutation(np.flatnonzero((labels == cls) & ~is_seed))
        half = -(-len(members) // 2)
        comparison.append(members[:half])
        floor.append(members[half:])
    return RealSplit(seeds, np.sort(np.concatenate(comparison)), np.sort(np.concatenate(floor)))


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


TITLES = {"floor": "floor: held-out real images", "seed_copies": "copies of the seeds (no model)",
          "seed_augmented": "augmented copies of the seeds (no model)",
          "crossfade": "pixel cross-fade of the seeds (no model)"}
HEADINGS = {"fd": "FD", "fd_class_mean": "FD per class", "class_accuracy": "class acc",
            "precision": "precision", "recall": "recall", "density": "density", "coverage": "coverage",
            "seed_distance": "seed dist", "seed_distance_px": "seed dist px", "realism": "realism",
            "double_exposure": "double exp", "utility": "utility", "utility_share": "util share"}


def _number(value) -> str:
    if value is None:
        return "-"
    size = abs(value)
    return f"{value:.0f}" if size >= 100 else f"{value:.1f}" if size >= 10 else f"{value:.3f}"


def _cell(row: dict, metric: str) -> str:
    if metric == "utility_share" and row.get(metric) is not None:
        return f"{row[metric]:.2f}" + ("*" if row.get("utility_noisy") else "")
    return _number(row.get(metric))


def _markdown(header: list[str], body: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cells) + " |" for cells in body]


def _exposure_note(counts: dict) -> str:
    if "double_exposure_ratio" not in counts:  # a result written before the column existed
        return ""
    return (f"; double exp = share of images a blend of two seeds fits with under "
            f"{counts['double_exposure_ratio']:g} x the error of one seed "
            f"(shifts up to {counts['double_exposure_shift']} px)")


def _classifier_note(counts: dict) -> str:
    if counts.get("classifier_accuracy") is None:
        return ""
    return ("; class acc and the features: a classifier trained on those held-out images only "
            f"(its own held-out accuracy {counts['classifier_accuracy']:.2f})")


def quality_table(result: dict, *, per_class: bool = False) -> str:
    """Markdown: a counts line, then one row per image set of :func:`fewshot_quality`'s result (and,
    with ``per_class``, a second table with one line per class and set)."""
    rows, counts = result["rows"], result["counts"]
    lines = [f"{counts['classes']} classes, {counts['seeds_per_class']} seeds per class, "
             f"{counts['images']} generated images; scored against {counts['comparison_images']} "
             f"held-out real images (floor: {counts['floor_images']} others); k = {counts['k']}; "
             "realism 0.5 = indistinguishable" + _exposure_note(counts) + _classifier_note(counts),
             ""]
    columns = [m for m in COLUMNS if any(m in row for row in rows.values())]
    kept = result.get("withheld", {}).get("values", {})
    marked = result.get("marked", {})
    body = [[TITLES.get(name, name), str(row["images"])]
            + ["?" if m in kept.get(name, {}) else
               _cell(row, m) + ("*" if m in marked and row.get(m) is not None else "")
               for m in columns]
            for name, row in rows.items()]
    lines += _markdown(["set", "n"] + [HEADINGS[m] for m in columns], body)
    reasons = result.get("withheld", {}).get("reasons", {})
    lines += [""] if reasons or marked else []
    for reason in dict.fromkeys(reasons.values()):
        named = ", ".join(HEADINGS.get(c, c) for c, r in reasons.items() if r == reason)
        lines.append(f"? ({named}) = {reason}")
    lines += [f"* ({HEADINGS.get(c, c)}) = {note}" for c, note in marked.items()]
    if result.get("utility"):
        from augintae_tf.metrics.utility import utility_table

        lines += ["", "utility = accuracy of a few-shot classifier trained on the seeds + the "
                  "row's kind of images (copies: the seeds alone; floor: other real images); "
                  "util share = (utility - copies') / (floor's - copies'), * = within noise",
                  "", utility_table(result["utility"]).rstrip()]
    if per_class:
        columns = [m for m in CLASS_COLUMNS if any(m in v for cls in result["per_class"].values()
                                                   for v in cls.values())]
        sets = result["per_class"]
        classes = next(iter(sets.values())) if sets else {}
        body = [[str(cls), name, str(sets[name][cls]["images"])]
                + [_number(sets[name][cls].get(m)) for m in columns] for cls in classes for name in sets]
        lines += [""] + _markdown(["class", "set", "n"] + [HEADINGS[m] for m in columns], body)
    return "\n".join(lines) + "\n"
