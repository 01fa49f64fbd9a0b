"""The few-shot FID protocol (appendix A.3) and random-latent samples (student report, sec. 4).

Few-shot protocol: every novel class gets K seed images; generated images come from slerp paths
between two seeds of one class, "3 uniformly distributed points along each sampled interpolation
path", 5,000 images in all.  The plan (which seeds, which alphas) is plain index arrays, separate
from the model, so every model under comparison is scored on exactly the same paths.

``alpha`` follows :mod:`augintae_tf.latent`: it weights the first endpoint, so a point is
``slerp(z_a, z_b, alpha)`` and alpha 0.25 / 0.5 / 0.75 are the three inner quarter points.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import keras
import numpy as np
import tensorflow as tf

from augintae_tf.capabilities import Capability
from augintae_tf.latent import l2_normalize


class FewShotPlan(NamedTuple):
    """One generated image per row: decode ``slerp(z[index_a], z[index_b], alpha)``.

    ``index_a``/``index_b`` index the image array the labels came from; ``class_label`` is the
    shared label of both seeds.
    """

    index_a: np.ndarray  # int64 [num_images]
    index_b: np.ndarray  # int64 [num_images]
    alpha: np.ndarray  # float32 [num_images]
    class_label: np.ndarray  # [num_images], dtype of the labels


def sample_seeds(labels: np.ndarray, shots: int = 5, seed: int = 0) -> dict:
    """``{class: K seed indices}`` drawn without replacement (all of a class if it has <= K images).

    Classes with fewer than 2 images are skipped: they cannot form a path.  The classes are visited
    in sorted order, so the result depends only on ``labels``, ``shots`` and ``seed``.
    """
    labels = np.asarray(labels).reshape(-1)
    if shots < 2:
        raise ValueError(f"few-shot paths need at least 2 seeds per class, got shots={shots}")
    rng = np.random.default_rng(seed)
    seeds = {}
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        if len(members) >= 2:
            seeds[cls.item()] = np.sort(rng.choice(members, size=min(shots, len(members)), replace=False))
    if not seeds:
        raise ValueError("no class has at least 2 images: nothing to interpolate between")
    return seeds


def sample_fewshot_plan(labels: np.ndarray, shots: int = 5, num_images: int = 5000, seed: int = 0,
                        alphas: Sequence[float] = (0.25, 0.5, 0.75)) -> FewShotPlan:
    """The generation plan: random (class, unordered seed pair) paths, ``len(alphas)`` points each.

    Seeds are :func:`sample_seeds` ``(labels, shots, seed)``.  Each path picks a class uniformly,
    then a pair of distinct seeds uniformly among that class's K(K-1)/2 pairs (stored smaller
    index first: index order means nothing, so no direction is favoured), and emits one row per
    alpha.  Paths are drawn until ``num_images`` rows exist; the last path is truncated.
    """
    if num_images < 1:
        raise ValueError(f"num_images must be >= 1, got {num_images}")
    alphas = np.asarray(alphas, dtype=np.float32).reshape(-1)
    if alphas.size == 0 or np.any((alphas < 0) | (alphas > 1)):
        raise ValueError(f"alphas must be a non-empty list of values in [0, 1], got {alphas.tolist()}")
    seeds = sample_seeds(labels, shots, seed)
    classes = list(seeds)
    counts = np.array([len(seeds[c]) for c in classes])
    table = np.full((len(classes), counts.max()), -1, dtype=np.int64)  # row r: seeds of classes[r]
    for row, c in enumerate(classes):
        table[row, :counts[row]] = seeds[c]

    rng = np.random.default_rng([seed, 1])  # separate stream: paths never shift the seed draw
    num_paths = -(-num_images // alphas.size)
    rows = rng.integers(0, len(classes), size=num_paths)
    k = counts[rows]
    first = rng.integers(0, k)
    second = rng.integers(0, k - 1)
    second += second >= first  # uniform over the other k - 1 seeds
    a, b = table[rows, np.minimum(first, second)], table[rows, np.maximum(first, second)]

    class_of_row = np.asarray(classes, dtype=np.asarray(labels).dtype)

    def per_point(per_path: np.ndarray) -> np.ndarray:  # one entry per path -> one per image
        return np.repeat(per_path, alphas.size)[:num_images]

    return FewShotPlan(index_a=per_point(a), index_b=per_point(b),
                       alpha=np.tile(alphas, num_paths)[:num_images],
                       class_label=per_point(class_of_row[rows]))


def encode_images(model, images, batch_size: int = 256) -> np.ndarray:
    """``model.encode`` over ``images`` in batches -> float32 latents ``[N, D]``."""
    out = [keras.ops.convert_to_numpy(model.encode(tf.convert_to_tensor(images[i:i + batch_size],
                                                                         tf.float32)))
           for i in range(0, len(images), batch_size)]
    return np.concatenate(out).astype(np.float32, copy=False)


def decode_latents(model, z, batch_size: int = 256) -> np.ndarray:
    """``model.decode`` over latents ``[N, D]`` in batches -> float32 images ``[N, H, W, C]``."""
    out = [keras.ops.convert_to_numpy(model.decode(tf.convert_to_tensor(z[i:i + batch_size], tf.float32)))
           for i in range(0, len(z), batch_size)]
    return np.concatenate(out).astype(np.float32, copy=False)


def generate_from_plan(model, images, plan: FewShotPlan, batch_size: int = 256,
                       sampler: str | None = None, scale: float | None = None) -> np.ndarray:
    """Decode every row of ``plan`` -> ``[num_images, H, W, C]``.

    With the ``slerp`` sampler (``sampler`` None: the model's default, when that is slerp) a latent
    model decodes the plan's own paths: ``encode``, then ``interpolate_latents`` at the plan's
    alphas (the same decoding as its ``fewshot``).  Each distinct seed is encoded once; the rows
    are interpolated and decoded ``batch_size`` at a time.  Any other sampler, and a few-shot
    model without a latent, generates per class (:func:`_generate_per_class`).
    ``images`` is the array the plan indexes (only the seeds are read).
    """
    if sampler is None and model.samplers:
        sampler = model.default_sampler()
    if not model.has(Capability.LATENT) or sampler not in (None, "slerp"):
        return _generate_per_class(model, images, plan, batch_size, sampler, scale)
    used = np.unique(np.concatenate([plan.index_a, plan.index_b]))
    latents = encode_images(model, np.asarray(images)[used], batch_size)
    pos_a, pos_b = np.searchsorted(used, plan.index_a), np.searchsorted(used, plan.index_b)
    out = []
    for start in range(0, len(plan.alpha), batch_size):
        part = slice(start, start + batch_size)
        out.append(keras.ops.convert_to_numpy(model.interpolate_latents(
            latents[pos_a[part]], latents[pos_b[part]], plan.alpha[part])))
    return np.concatenate(out).astype(np.float32, copy=False)


def _generate_per_class(model, images, plan: FewShotPlan, batch_size: int,
                        sampler: str | None = None, scale: float | None = None) -> np.ndarray:
    """Per class, as many images as the plan has rows of it from ``model.fewshot`` (``sampler``,
    ``scale``) on that class's seeds (those the plan uses), with the class's position in sorted
    order as the generation seed: a sampler other than the plan's slerp, or a few-shot model
    without a latent (DAGAN, Neural Statistician)."""
    out = np.zeros((len(plan.alpha),) + np.asarray(images).shape[1:], np.float32)
    for position, cls in enumerate(np.unique(plan.class_label)):
        rows = np.flatnonzero(plan.class_label == cls)
        seeds = np.unique(np.concatenate([plan.index_a[rows], plan.index_b[rows]]))
        generated = model.fewshot(tf.convert_to_tensor(np.asarray(images)[seeds], tf.float32),
                                  len(rows), position, batch_size=batch_size, sampler=sampler,
                                  scale=scale)
        out[rows] = keras.ops.convert_to_numpy(generated)
    return out


def sample_gaussian_latents(latents, n: int, seed: int = 0) -> np.ndarray:
    """``n`` unit-norm latents from a Gaussian fitted to ``latents`` ``[N, D]`` (mean, full covariance).

    Sampling uses the covariance's eigen-decomposition (round-off negative eigenvalues clipped),
    which is valid for the singular covariances that N < D or normalised latents give.
    """
    latents = np.asarray(latents, dtype=np.float64)
    if latents.ndim != 2 or len(latents) < 2:
        raise ValueError(f"need latents [N >= 2, D] to fit a Gaussian, got shape {latents.shape}")
    mean = latents.mean(axis=0)
    w, v = np.linalg.eigh(np.cov(latents, rowvar=False).reshape(mean.size, mean.size))
    noise = np.random.default_rng(seed).standard_normal((n, mean.size))
    z = mean + (noise * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    # The decoder only ever saw unit-norm latents (the model L2-normalises them), so project back.
    return l2_normalize(z.astype(np.float32)).numpy()


def random_latent_samples(model, train_images, n: int, seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """``n`` images decoded from :func:`sample_gaussian_latents` of the encoded ``train_images``.

    The student report's "random image generation": fit N(mu, Sigma) to the encoder's training
    latents, sample, decode.  Not the paper's main protocol; a sanity check of the latent space.
    """
    z = sample_gaussian_latents(encode_images(model, train_images, batch_size), n, seed)
    return decode_latents(model, z, batch_size)
