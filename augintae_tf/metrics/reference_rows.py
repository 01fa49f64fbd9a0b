"""The reference rows of the few-shot quality table (:mod:`.fewshot_quality`) and the real split
they are scored against: image sets built from a few-shot plan with no model, so a table says by
itself whether the model beats taking no model at all.

A few-shot plan (:class:`~augintae_tf.metrics.fewshot.FewShotPlan`) says, per generated row, which
two seeds of a novel class it interpolates and at which ``alpha`` (weight of ``index_a``):

* ``floor``: real images of the same classes that are not seeds -- what a perfect generator
  would score (the best attainable FD, realism 0.5, ...);
* ``seed_copies``: per plan row, a copy of the seed its alpha is nearer to (``index_a`` when
  ``alpha >= 0.5``), i.e. pure memorisation of exactly the seeds the model saw;
* ``seed_augmented``: the seed copies, each under a random affine in the recipe's augmentation
  ranges (:func:`affine_fn`; no model): what augmenting the seeds alone adds in variety.  The bar
  a generator of new instances has to clear is this row and the copies, not only the cross-fade;
* ``crossfade``: per plan row, ``alpha * x_a + (1 - alpha) * x_b`` in pixels on exactly the same
  pairs and alphas (double strokes, no model).

The real sets (:func:`real_split`): for every class of the plan, its images that are not seeds
are shuffled (fixed by ``seed``) and cut in two: the first ``ceil(n/2)`` form the *comparison*
set that every row -- model and references alike -- is scored against; the rest form the *floor*
row.  The two never overlap, so the floor is an honest "held-out real vs held-out real", and the
seeds are in neither, so copying them earns no credit for matching the comparison set.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Mapping, NamedTuple

import numpy as np
import tensorflow as tf

from augintae_tf.augment import augment
from augintae_tf.metrics.fewshot import FewShotPlan

REFERENCE_ROWS = ("floor", "seed_copies", "seed_augmented", "crossfade")


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
    (a random affine per image, e.g. :func:`affine_fn`), float32."""
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


def affine_fn(augment_cfg) -> Callable:
    """``(images, seed) -> images``: one random affine per image in ``augment_cfg``'s geometric
    ranges (rotation, translation, scale, shear, fill; colour jitter left out), the augmented-copies
    reference row's augmentation (:func:`augintae_tf.augment.augment`, stream ``[seed, 31]``)."""
    geometric = dataclasses.replace(augment_cfg, brightness=0.0, contrast=0.0, saturation=0.0,
                                    hue=0.0)

    def fn(images, seed: int = 0) -> np.ndarray:
        images = np.asarray(images, np.float32)
        return augment(images, geometric, tf.constant([seed, 31], tf.int64)).numpy()

    return fn
