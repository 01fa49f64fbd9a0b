"""Fidelity and diversity apart: k-NN precision/recall, density/coverage, distance to the seeds.

All four estimate the real and generated manifolds as unions of balls around each sample, the
ball's radius being the distance to the sample's k-th nearest neighbour in its own set
(``NND_k``, the sample itself excluded).  With real features ``X`` (M of them), generated ``Y``
(N), and closed balls ``B(x, r) = {y : ||y - x|| <= r}``:

* precision (Kynkäänniemi et al. 2019) = ``1/N sum_j [Y_j in some B(X_i, NND_k(X_i))]``:
  the share of generated samples that look real (fidelity);
* recall (same paper) = ``1/M sum_i [X_i in some B(Y_j, NND_k(Y_j))]``: the share of real
  samples the generated set reaches (diversity);
* density (Naeem et al. 2020) = ``1/(kN) sum_j sum_i [Y_j in B(X_i, NND_k(X_i))]``: like
  precision but counts how many real balls hold each sample, so it is not fooled by real
  outliers with huge balls; its expectation is 1 for two samples of one distribution, and it
  exceeds 1 when generated samples crowd into dense real regions (e.g. copies of a few images);
* coverage (same paper) = ``1/M sum_i [min_j ||X_i - Y_j|| <= NND_k(X_i)]``: the share of real
  balls holding at least one generated sample (diversity, judged from the real side only).

Balls are closed (``<=``), as Kynkäänniemi et al. define them, so an exact copy of a real sample
always falls inside that sample's ball even if duplicates give it radius 0 (the ``prdc`` package
uses strict ``<``; the two differ only on exact ties).  A model that copies its seeds scores high
precision and density but low recall and coverage; one that blurs scores low precision.

Distances are exact Euclidean norms of differences (computed in row chunks to bound memory), not
the ``|a|^2 + |b|^2 - 2ab`` expansion, so a copy is at distance exactly 0.
"""
from __future__ import annotations

import numpy as np

_CHUNK_ELEMENTS = 1 << 22  # float64 elements of one [rows, M, F] difference block (32 MB)


def pairwise_distances(a, b) -> np.ndarray:
    """Euclidean distances ``[len(a), len(b)]`` between rows of ``a`` ``[N, F]`` and ``b`` ``[M, F]``."""
    a = _as_rows(a, "a")
    b = _as_rows(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} vs {b.shape[1]}")
    out = np.empty((len(a), len(b)))
    rows = max(1, _CHUNK_ELEMENTS // max(1, b.size))
    for start in range(0, len(a), rows):
        diff = a[start:start + rows, None, :] - b[None, :, :]
        out[start:start + rows] = np.sqrt(np.einsum("nmf,nmf->nm", diff, diff))
    return out


def _as_rows(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be features [N, F], got shape {x.shape}")
    return x


def knn_radii(x, k: int = 3) -> np.ndarray:
    """``NND_k``: each row's distance to its k-th nearest *other* row of ``x`` ``[N, F]`` -> ``[N]``."""
    x = _as_rows(x, "features")
    if not 1 <= k < len(x):
        raise ValueError(f"k-NN radii need 1 <= k < number of samples, got k={k} for {len(x)} samples")
    d = pairwise_distances(x, x)
    # Column 0 of the sorted row is the sample itself (distance 0); column k is its k-th neighbour.
    return np.partition(d, k, axis=1)[:, k]


def precision_recall_density_coverage(real, fake, k: int = 3) -> dict[str, float]:
    """``{"precision", "recall", "density", "coverage"}`` of ``fake`` against ``real`` (module doc).

    ``real`` ``[M, F]`` and ``fake`` ``[N, F]`` are features; both need more than ``k`` samples.
    """
    real, fake = _as_rows(real, "real"), _as_rows(fake, "fake")
    real_radii, fake_radii = knn_radii(real, k), knn_radii(fake, k)
    d = pairwise_distances(real, fake)  # [M, N]
    inside_real = d <= real_radii[:, None]  # fake j inside real ball i
    return {
        "precision": float(inside_real.any(axis=0).mean()),
        "recall": float((d <= fake_radii[None, :]).any(axis=1).mean()),
        "density": float(inside_real.sum(axis=0).mean() / k),
        "coverage": float((d.min(axis=1) <= real_radii).mean()),
    }


def nearest_seed_distance(generated, generated_labels, seeds, seed_labels) -> np.ndarray:
    """Per generated row, the Euclidean distance to the nearest seed *of its own class* -> ``[N]``.

    ``generated`` ``[N, ...]`` and ``seeds`` ``[S, ...]`` are features or images (flattened per
    row).  Memorisation: copies of the seeds give exactly 0.  Raises if a generated row's class
    has no seed.
    """
    generated = np.asarray(generated, np.float64).reshape(len(generated), -1)
    seeds = np.asarray(seeds, np.float64).reshape(len(seeds), -1)
    generated_labels = np.asarray(generated_labels).reshape(-1)
    seed_labels = np.asarray(seed_labels).reshape(-1)
    if len(generated_labels) != len(generated) or len(seed_labels) != len(seeds):
        raise ValueError(f"labels must match rows: {len(generated_labels)} labels for {len(generated)} "
                         f"generated, {len(seed_labels)} for {len(seeds)} seeds")
    out = np.empty(len(generated))
    for cls in np.unique(generated_labels):
        rows = generated_labels == cls
        own = seeds[seed_labels == cls]
        if not len(own):
            raise ValueError(f"class {cls.item()!r} has generated rows but no seed")
        out[rows] = pairwise_distances(generated[rows], own).min(axis=1)
    return out


def pixel_rms_distance(distances, image_shape) -> np.ndarray:
    """Euclidean pixel distances -> root-mean-square per-pixel differences (``/ sqrt(H W C)``)."""
    return np.asarray(distances, np.float64) / np.sqrt(float(np.prod(image_shape)))
