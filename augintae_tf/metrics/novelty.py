"""How new are generated images?  Their distance to the nearest seed against the real spread of a class.

Units: pixel RMS, ``sqrt(mean((x - y)^2))`` over every pixel and channel of two images in [0, 1]
at the run's size: no feature network, so the same figure in ``generate``, the Python API and a
served model's metadata, and a copy of a seed reads exactly 0.

* **Generated**: ``d_gen`` = the median over the generated images of the distance to the nearest
  of the K seeds.
* **Reference** (:func:`within_class_spread`, computed once by the latent-stats stage from the
  labelled training images): for a real training image, the distance to the nearest of ``k``
  *other* images of its class drawn at random; ``spread[k]`` is the median over images, for
  k = 1 .. :data:`MAX_K`.  Matching k to the request's K makes the comparison fair: a real new
  instance of a class, compared with K real seeds of it, lies at ``spread[K]`` in the median (the
  nearest of more images is nearer, so the reference must use the same count).
* **Ratio** ``d_gen / spread[K]``: 0 for copies of the seeds, about 1 for images as far from the
  seeds as new real instances of a class are (for novel classes about as varied as the training
  classes).  Bands (:func:`verdict`), fixed before any model was measured and symmetric in
  log-ratio around 1: below :data:`CLOSE` (0.5) "close to copies of the seeds" -- the typical image
  is nearer a seed than half the distance of a typical new instance; below :data:`NEAR` (0.8)
  "nearer the seeds than new real instances"; up to :data:`FAR` (1.25) "as far from the seeds
  as new real instances"; above it "farther from the seeds than real instances" (new, or off
  the class: a distance cannot tell which).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_K = 20  # reference spreads for k = 1 .. MAX_K other images
MAX_PER_CLASS = 100  # training images per class the reference reads
MAX_IMAGES = 2000  # training images in all (classes drawn at random beyond that)
CLOSE, NEAR, FAR = 0.5, 0.8, 1.25
UNITS = "pixel RMS"


def rms_distances(a, b) -> np.ndarray:
    """``[len(a), len(b)]`` pixel-RMS distances between two image sets (float64)."""
    a = np.asarray(a, np.float64).reshape(len(a), -1)
    b = np.asarray(b, np.float64).reshape(len(b), -1)
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2.0 * a @ b.T
    return np.sqrt(np.clip(squared, 0.0, None) / a.shape[1])


def nearest_seed_distances(images, seeds, chunk: int = 256) -> np.ndarray:
    """Per image, the pixel-RMS distance to its nearest seed ``[N]``."""
    images = np.asarray(images)
    parts = [rms_distances(images[i:i + chunk], seeds).min(axis=1)
             for i in range(0, len(images), chunk)]
    return np.concatenate(parts) if parts else np.zeros(0)


def within_class_spread(images, labels, seed: int = 0, max_k: int = MAX_K,
                        per_class: int = MAX_PER_CLASS, limit: int = MAX_IMAGES) -> dict | None:
    """The reference (module doc): ``{"units", "spread": [spread[1], ..., spread[k_max]],
    "images", "classes"}``; None when no class has two images (no labels: one class).

    Per class, at most ``per_class`` images (random); classes at random until ``limit`` images.
    For each image the other images of its class are put in a random order; the running minimum
    of its distances along that order is its distance to the nearest of the first k, for every
    k at once.  ``spread[k]`` is the median over the images whose class has k others."""
    labels = np.asarray(labels).reshape(-1)
    rng = np.random.default_rng([seed, 47])
    classes, counts = np.unique(labels, return_counts=True)
    classes = rng.permutation(classes[counts >= 2])
    nearest = [[] for _ in range(max_k)]
    used, n_classes = 0, 0
    for cls in classes:
        if used >= limit:
            break
        members = np.flatnonzero(labels == cls)
        members = rng.choice(members, min(len(members), per_class), replace=False)
        d = rms_distances(images[members], images[members])
        for i in range(len(members)):
            others = rng.permutation(np.delete(np.arange(len(members)), i))
            running = np.minimum.accumulate(d[i, others])
            for k in range(min(max_k, len(running))):
                nearest[k].append(running[k])
        used, n_classes = used + len(members), n_classes + 1
    if not nearest[0]:
        return None
    spread = [float(np.median(values)) for values in nearest if values]
    return {"units": UNITS, "spread": spread, "images": int(used), "classes": int(n_classes)}


def verdict(ratio: float) -> str:
    """The band of ``ratio`` (module doc), as the end of the novelty line."""
    if ratio < CLOSE:
        return "these are close to copies of the seeds"
    if ratio < NEAR:
        return "nearer the seeds than new real instances of a class usually are"
    if ratio <= FAR:
        return "about as far from the seeds as new real instances of a class"
    return ("farther from the seeds than new real instances of a class: new, or off the class "
            "(a distance cannot tell which)")


@dataclass(frozen=True)
class Novelty:
    """``distance``: median nearest-seed distance of the generated images; ``spread`` the
    reference for ``seeds`` seeds (None: unknown), ``source`` where it came from."""

    distance: float
    seeds: int
    images: int
    spread: float | None
    source: str = "the latent-stats stage"

    @property
    def ratio(self) -> float | None:
        return None if self.spread is None else self.distance / max(self.spread, 1e-12)

    @property
    def close_to_copies(self) -> bool:
        return self.ratio is not None and self.ratio < CLOSE

    def line(self) -> str:
        head = (f"novelty: median distance to the nearest seed {self.distance:.3f} ({UNITS}, "
                f"{self.images} images, {self.seeds} seeds)")
        if self.spread is None:
            return (head + f" against the training classes' within-class spread: unknown "
                    f"({self.source})")
        return (head + f" = {self.ratio:.2f}x the training classes' within-class spread "
                f"{self.spread:.3f} (a real image's distance to the nearest of {self.seeds} others "
                f"of its class; {self.source}): {verdict(self.ratio)}")

    def as_dict(self) -> dict:
        return {"median_nearest_seed_distance": self.distance, "units": UNITS,
                "seeds": self.seeds, "images": self.images, "within_class_spread": self.spread,
                "ratio": self.ratio, "close_to_copies": self.close_to_copies,
                "verdict": None if self.ratio is None else verdict(self.ratio),
                "source": self.source, "line": self.line()}


def serving_metadata(reference: dict | None, source: str) -> dict:
    """What an export writes to ``assets.extra/novelty.json``: the reference, its source, the
    bands and how a client computes the ratio for a response."""
    return {"units": UNITS, "within_class_spread": None if reference is None else reference["spread"],
            "spread_k": "within_class_spread[k - 1]: a real training image's median distance to "
                        "the nearest of k other images of its class (k = the request's seeds, "
                        f"capped at {MAX_K})",
            "source": source, "reference_images": None if reference is None else reference["images"],
            "reference_classes": None if reference is None else reference["classes"],
            "ratio": "median over the returned images of the pixel-RMS distance to the nearest "
                     "seed, divided by within_class_spread[k - 1]",
            "bands": {"close_to_copies": f"ratio < {CLOSE}",
                      "nearer_than_real_instances": f"{CLOSE} <= ratio < {NEAR}",
                      "like_real_instances": f"{NEAR} <= ratio <= {FAR}",
                      "farther_than_real_instances": f"ratio > {FAR}"}}


def spread_for(reference: dict | None, k: int) -> float | None:
    """``reference["spread"][k - 1]``, k capped at the largest stored; None without one."""
    if not reference or not reference.get("spread"):
        return None
    values = reference["spread"]
    return float(values[min(max(int(k), 1), len(values)) - 1])


def novelty(images, seeds, reference: dict | None, source: str = "the latent-stats stage"
            ) -> Novelty:
    """The :class:`Novelty` of ``images`` generated from ``seeds`` against ``reference``
    (:func:`within_class_spread`; None: unknown, and ``source`` says why)."""
    return novelty_from_distances(nearest_seed_distances(images, seeds), len(seeds), reference,
                                  source)


def novelty_from_distances(distances, seeds: int, reference: dict | None,
                           source: str = "the latent-stats stage") -> Novelty:
    """:func:`novelty` from the images' nearest-seed distances (gathered chunk by chunk)."""
    distances = np.asarray(distances, np.float64)
    distance = float(np.median(distances)) if len(distances) else 0.0
    return Novelty(distance, int(seeds), int(len(distances)), spread_for(reference, seeds), source)
