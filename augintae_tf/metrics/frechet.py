"""Fréchet distance between two Gaussians fitted to activations (the "F" of FID, appendix A.3).

    d^2 = ||mu1 - mu2||^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2))

This follows TF-GAN's ``frechet_classifier_distance_from_activations`` (tensorflow_gan/python/eval/
classifier_metrics.py): statistics and distance in float64, unbiased covariances (n / (n - 1) times
the biased estimate, i.e. ``ddof=1`` as pytorch-fid's ``np.cov``), and Tr((C1 C2)^(1/2)) through the
symmetric route of its ``trace_sqrt_product``:

    A = C1^(1/2)  =>  eig(C1 C2) = eig(A A C2) = eig(A C2 A),  so  Tr((C1 C2)^(1/2)) = sum sqrt(eig(A C2 A))

A C2 A is symmetric PSD, so only symmetric eigen-decompositions are needed -- no general (complex)
``scipy.linalg.sqrtm`` as in pytorch-fid, hence no scipy dependency and no imaginary residue to
discard.  TF-GAN takes its symmetric square roots by SVD; we use ``eigh`` (the same thing for a
symmetric PSD matrix) and clip the tiny negative eigenvalues that round-off produces to 0 (TF-GAN
instead leaves eigenvalues below 1e-10 un-rooted; either only matters for numerically singular
covariances, N < F, where this agrees with pytorch-fid's sqrtm to ~1e-8 relative).
"""
from __future__ import annotations

import numpy as np


def activation_statistics(acts) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[F]`` and unbiased covariance ``[F, F]`` (ddof=1, as TF-GAN and pytorch-fid) in float64."""
    acts = np.asarray(acts, dtype=np.float64)
    if acts.ndim != 2:
        raise ValueError(f"activations must be [N, F], got shape {acts.shape}")
    if acts.shape[0] < 2:
        raise ValueError(f"need at least 2 activations for a covariance, got {acts.shape[0]}")
    return acts.mean(axis=0), np.cov(acts, rowvar=False, ddof=1).reshape(acts.shape[1], acts.shape[1])


def _symmetric_sqrt(mat: np.ndarray) -> np.ndarray:
    """Square root of a symmetric PSD matrix via ``eigh``; round-off negatives are clipped to 0."""
    mat = (mat + mat.T) / 2.0  # enforce exact symmetry so eigh sees what we mean
    w, v = np.linalg.eigh(mat)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr((sigma1 sigma2)^(1/2)) for symmetric PSD matrices, by TF-GAN's symmetric route (see module doc)."""
    a = _symmetric_sqrt(sigma1)
    inner = a @ sigma2 @ a
    w = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    return float(np.sqrt(np.clip(w, 0.0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), computed in float64."""
    mu1, mu2 = np.asarray(mu1, np.float64).ravel(), np.asarray(mu2, np.float64).ravel()
    sigma1 = np.atleast_2d(np.asarray(sigma1, np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape:
        raise ValueError(f"means have different shapes: {mu1.shape} vs {mu2.shape}")
    if sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(f"covariances must both be {(mu1.size, mu1.size)}, "
                         f"got {sigma1.shape} and {sigma2.shape}")
    diff = mu1 - mu2
    return float(diff @ diff + _covariance_term(sigma1, sigma2))


def _covariance_term(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """``Tr(C1 + C2 - 2 (C1 C2)^(1/2))``, the part of the distance the means do not give."""
    return float(np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2))


def frechet_distance_from_activations(acts1, acts2) -> float:
    """Fréchet distance between Gaussians fitted to two activation sets ``[N1, F]`` and ``[N2, F]``.

    Like every FID, it is biased upward for small N: compare models only at equal sample sizes
    (the paper uses 5,000 generated images).
    """
    return frechet_distance(*activation_statistics(acts1), *activation_statistics(acts2))



def frechet_terms(acts1, acts2) -> dict[str, float]:
    """The two terms of :func:`frechet_distance_from_activations`, which sum to it:
    ``mean = ||mu1 - mu2||^2`` (where the set sits) and
    ``covariance = Tr(C1 + C2 - 2 (C1 C2)^(1/2))`` (how it spreads: too little spread, or spread
    in other directions than the reference's)."""
    mu1, sigma1 = activation_statistics(acts1)
    mu2, sigma2 = activation_statistics(acts2)
    diff = mu1 - mu2
    return {"mean": float(diff @ diff), "covariance": _covariance_term(sigma1, sigma2)}


def class_spread(acts, labels) -> dict[str, float]:
    """The spread of a labelled set split by class (law of total variance, biased estimates so
    that the two parts add up exactly): ``within = sum_c p_c Tr(C_c)`` and
    ``between = sum_c p_c ||mu_c - mu||^2``, ``within + between = Tr(C)`` of the whole set
    (``p_c``: the class's share of the set).  A sampler whose images drift toward other classes
    shows a smaller ``between``; one that varies little, a smaller ``within``."""
    acts = np.asarray(acts, np.float64)
    labels = np.asarray(labels).reshape(-1)
    if acts.ndim != 2 or len(acts) != len(labels):
        raise ValueError(f"activations must be [N, F] with N labels, got {acts.shape} and "
                         f"{len(labels)} labels")
    mean = acts.mean(0)
    within = between = 0.0
    for cls in np.unique(labels):
        mine = acts[labels == cls]
        share = len(mine) / len(acts)
        within += share * float(np.sum((mine - mine.mean(0)) ** 2) / len(mine))
        between += share * float(np.sum((mine.mean(0) - mean) ** 2))
    return {"within": within, "between": between}

# The rule for showing a Fréchet distance at all: each set holds at least this many images per
# feature dimension.  With n images the covariance has rank at most n - 1, and the estimate's
# bias grows like F / n (Chong & Forsyth, "Effectively Unbiased FID", CVPR 2020), so below
# ~F images the distance measures the sample size more than the images: on a 300-image folder
# (24-36 images a row, 64 features) the real-vs-real floor read 160, worse than every generated
# row.  2 per dimension keeps the covariance full rank with margin; the rule depends only on the
# counts, never on the values.
FD_IMAGES_PER_DIM = 2


def too_few_for_fd(count: int, dim: int, what: str = "images") -> str | None:
    """None when ``count`` images suffice for a Fréchet distance in ``dim`` features
    (:data:`FD_IMAGES_PER_DIM`), else the one-line reason it is withheld."""
    need = FD_IMAGES_PER_DIM * int(dim)
    if count >= need:
        return None
    return (f"too few images for a Fréchet distance: {count} {what} < {need} "
            f"({FD_IMAGES_PER_DIM} per feature dimension, {dim} dimensions)")
