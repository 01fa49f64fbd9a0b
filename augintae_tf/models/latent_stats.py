"""The ``latent-stats`` stage: what a trained autoencoder's latent space looks like around real data.

Computed once after training (and by ``augintae-tf train --stage latent-stats --run-dir RUN`` for
an existing run) by the stage runner (:mod:`augintae_tf.training.stages`), kept in
``RUN/latent-stats/``, given back by :func:`augintae_tf.inference.loaded.load_run` and captured by
an export:

1. **Local covariance** ``C`` (the ``local`` samplers of :func:`augintae_tf.latent.sample_latents`):
   the unit latents ``z_i`` of up to :data:`MAX_TRAIN` training images, each with its ``k`` nearest
   neighbours by cosine similarity (no labels); the scatter of every neighbourhood
   ``{z_i} + N_k(z_i)`` about its own mean, ``C = mean_i cov(neighbourhood_i)`` (``k`` in the
   denominator).  ``C`` holds the directions in which training images vary *locally* (a slightly
   different stroke, slant or width), not the directions between classes; ``factor`` ``F`` with
   ``F F^T = C`` (eigendecomposition, negative eigenvalues clipped) turns ``eps ~ N(0, I)`` into
   that noise.  Averaged over neighbourhoods, so it transfers to a novel class's seeds without
   labels or retraining ("local variation transfer").
1b. **Within-class covariance** ``W`` (the ``within`` samplers), from the same latents and their
   training labels: every latent's deviation from its class mean, pooled over the training
   classes, ``W = sum_c sum_{i in c} (z_i - mu_c)(z_i - mu_c)^T / (N - C)`` (the pooled unbiased
   estimate; ``C`` classes present), with its factor the same way.  It holds how a class varies
   (its writers' slant, width, style), not how neighbouring classes differ.  Absent (the within
   samplers refuse, saying so) when no class has two latents.
2. **Seed-domain reference**: the per-image reconstruction MSE of up to :data:`MAX_HELD_OUT`
   held-out training-domain images, sorted: the run's held-out images as
   :func:`augintae_tf.data.pipeline.resolve_held_out` names them (``train --held-out PATH``:
   ``data.test_dataset``, else the training dataset at ``data.test_split``), the same images
   ``evaluate`` measures reconstruction on.  :func:`seed_domain` places a
   request's seeds in that distribution and warns in one line when their median error is more
   than :data:`DOMAIN_RATIO` times the held-out median: seeds of another domain decode to blobs.
   The ratio, not a quantile, decides: the held-out images are the training classes, which a
   model reconstructs better than any novel class, so a quantile flagged most novel classes of
   the model's own domain (benchmarks/RESULTS.md, "The seed-domain warning").

2b. **Deformation bank** (the ``flow`` sampler, :mod:`augintae_tf.models.deform`): the lattices
   of dense registration between random pairs of labelled training images of one class, how a
   training class's members deform into each other.  Absent (the sampler refuses, saying so)
   without labels.
3. **Within-class spread** of the labelled training images, the novelty line's reference
   (:func:`augintae_tf.metrics.novelty.within_class_spread`), in the manifest.

The statistics are computed here from arrays (:func:`compute`) and handed over as arrays and
fields (:func:`to_saved`, :func:`from_saved`); the stage runner
(:mod:`augintae_tf.training.stages`) reads the data and keeps them in the run, with the checkpoint
they describe (its name and the SHA-256 of its ``model.weights.h5``): statistics of another
checkpoint (the run trained on) are not used, and the message says how to recompute them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from augintae_tf.errors import RunError
from augintae_tf.metrics.novelty import within_class_spread

STAGE = "latent-stats"
K = 10  # neighbours per training latent
MAX_TRAIN = 10_000  # training latents the covariance is estimated from (fixed random subset)
# arrays of the stats file that may be absent
OPTIONAL = ("within_cov", "within_factor", "flow_lattices")
MAX_HELD_OUT = 2_000  # held-out images of the seed-domain reference
# Seeds whose median error is above this multiple of the held-out median warn: measured per class
# of 5 seeds, a model's own novel classes stayed at or below ~3 (95th percentile 2.6-2.7), seeds
# of another dataset mostly above (digits models on glyphs: 5th percentile 3.0-5.7, median 8-20).
DOMAIN_RATIO = 3.0


@dataclass(frozen=True)
class LatentStats:
    cov: np.ndarray  # [D, D]
    factor: np.ndarray  # [D, D], factor @ factor.T == cov
    heldout_mse: np.ndarray  # [M] sorted per-image reconstruction MSE of held-out images
    k: int
    checkpoint: str = ""  # the checkpoint directory name the statistics describe
    heldout_source: tuple[str, str] | None = None  # (dataset, split) of the held-out images
    # the training classes' within-class spread (augintae_tf.metrics.novelty.within_class_spread;
    # None: unlabelled training data, or statistics computed before it existed)
    within_class: dict | None = None
    within_cov: np.ndarray | None = None  # [D, D] pooled within-class covariance W
    within_factor: np.ndarray | None = None  # [D, D], within_factor @ within_factor.T == W
    # [P, G, G, 2] deformation lattices of labelled training pairs (models/deform.py)
    flow_lattices: np.ndarray | None = None

    @property
    def local_std(self) -> float:
        """Root of the mean per-dimension local variance: the typical noise length per unit
        scale, to compare with the unit norm of a latent."""
        return float(np.sqrt(np.trace(self.cov)))

    @property
    def within_std(self) -> float | None:
        """``sqrt(trace W)``, the within-class counterpart of :attr:`local_std` (None without W)."""
        return None if self.within_cov is None else float(np.sqrt(np.trace(self.within_cov)))


def local_covariance(latents: np.ndarray, k: int = K, chunk: int = 1024) -> np.ndarray:
    """``C = mean_i cov({z_i} + N_k(z_i))`` (module doc) of unit latents ``[N, D]``, float64.

    Neighbours by cosine similarity (= Euclidean order on the unit sphere), the point itself
    excluded; ``k`` is capped at ``N - 1``."""
    z = np.asarray(latents, np.float64)
    n, dim = z.shape
    k = min(int(k), n - 1)
    if k < 1:
        raise RunError(f"the local covariance needs at least 2 latents, got {n}")
    total = np.zeros((dim, dim))
    for start in range(0, n, chunk):
        block = z[start:start + chunk]
        sims = block @ z.T
        sims[np.arange(len(block)), np.arange(start, start + len(block))] = -np.inf  # not itself
        nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        hood = np.concatenate([block[:, None], z[nearest]], axis=1)  # [c, k + 1, D]
        centred = hood - hood.mean(axis=1, keepdims=True)
        total += np.einsum("cjd,cje->de", centred, centred) / k
    return total / n


def within_class_covariance(latents: np.ndarray, labels: np.ndarray) -> np.ndarray | None:
    """``W`` (module doc) of latents ``[N, D]`` with integer class labels ``[N]``, float64; None
    when no class has two latents (nothing varies within a class)."""
    z = np.asarray(latents, np.float64)
    labels = np.asarray(labels).reshape(-1)
    classes, inverse = np.unique(labels, return_inverse=True)
    if len(z) - len(classes) < 1:
        return None
    means = np.zeros((len(classes), z.shape[1]))
    np.add.at(means, inverse, z)
    means /= np.bincount(inverse)[:, None]
    centred = z - means[inverse]
    return centred.T @ centred / (len(z) - len(classes))


def covariance_factor(cov: np.ndarray) -> np.ndarray:
    """``F`` with ``F F^T = cov`` (symmetric square root: ``V sqrt(max(lambda, 0)) V^T``)."""
    values, vectors = np.linalg.eigh((cov + cov.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def _encode(model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    parts = [np.asarray(model.encode(images[i:i + batch_size]), np.float32)
             for i in range(0, len(images), batch_size)]
    return np.concatenate(parts)


def reconstruction_mse(model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Per-image mean squared pixel error of the model's reconstruction ``[N]``."""
    images = np.asarray(images, np.float32)
    parts = [np.mean(np.square(np.asarray(model(images[i:i + batch_size], training=False),
                                          np.float32) - images[i:i + batch_size]), axis=(1, 2, 3))
             for i in range(0, len(images), batch_size)]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def _subset(images: np.ndarray, limit: int, seed: int) -> np.ndarray:
    if len(images) <= limit:
        return images
    keep = np.sort(np.random.default_rng([seed, 21]).choice(len(images), limit, replace=False))
    return images[keep]


def compute(model, train_images: np.ndarray, heldout_images: np.ndarray, k: int = K, seed: int = 0,
            train_labels: np.ndarray | None = None) -> LatentStats:
    """The statistics of ``model`` (module doc) from training and held-out images; with
    ``train_labels`` also the within-class covariance and the novelty line's within-class
    spread.  ``checkpoint`` and ``heldout_source`` are left for whoever knows them."""
    latents = _encode(model, _subset(np.asarray(train_images, np.float32), MAX_TRAIN, seed))
    within = None if train_labels is None else within_class_covariance(
        latents, _subset(np.asarray(train_labels), MAX_TRAIN, seed))
    cov = local_covariance(latents, k)
    heldout = np.sort(reconstruction_mse(model, _subset(np.asarray(heldout_images, np.float32),
                                                         MAX_HELD_OUT, seed)))
    extra = {} if within is None else {"within_cov": within.astype(np.float32),
                                       "within_factor": covariance_factor(within).astype(np.float32)}
    spread = None if train_labels is None else within_class_spread(
        np.asarray(train_images, np.float32), train_labels, seed)
    if train_labels is not None:
        extra["flow_lattices"] = flow_bank(train_images, train_labels, seed)
    return LatentStats(cov.astype(np.float32), covariance_factor(cov).astype(np.float32),
                       heldout.astype(np.float32), min(int(k), len(latents) - 1),
                       within_class=spread, **extra)


def flow_bank(images: np.ndarray, labels: np.ndarray, seed: int = 0) -> np.ndarray | None:
    """The ``flow`` sampler's bank (:func:`augintae_tf.models.deform.flow_bank`): at most
    :data:`~augintae_tf.models.deform.PAIRS` same-class pairs, and at most one per two labelled
    images (registration's time grows with the pairs; a small training set gets a small bank)."""
    from augintae_tf.models import deform  # TensorFlow: imported when a stage computes

    return deform.flow_bank(images, labels, min(deform.PAIRS, len(labels) // 2), seed)


def to_saved(stats: LatentStats) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(arrays, fields)``: ``cov``, ``factor``, ``heldout_mse`` (and ``within_cov``,
    ``within_factor``, ``flow_lattices`` when computed); ``k``, the sizes, the held-out source, the checkpoint and
    the within-class spread (when computed), as JSON values."""
    arrays = {"cov": stats.cov, "factor": stats.factor, "heldout_mse": stats.heldout_mse}
    arrays.update({key: value for key in OPTIONAL if (value := getattr(stats, key)) is not None})
    fields = {"k": stats.k, "latent_dim": int(stats.cov.shape[0]),
              "heldout_images": int(len(stats.heldout_mse)),
              "heldout_source": list(stats.heldout_source) if stats.heldout_source else None,
              "checkpoint": stats.checkpoint}
    if stats.within_class is not None:
        fields["within_class"] = stats.within_class
    return arrays, fields


def from_saved(arrays: dict[str, np.ndarray], fields: dict[str, Any]) -> LatentStats:
    """:func:`to_saved` backwards; a missing array is a KeyError."""
    source = fields.get("heldout_source")
    return LatentStats(arrays["cov"], arrays["factor"], arrays["heldout_mse"],
                       int(fields.get("k", K)), str(fields.get("checkpoint")),
                       tuple(source) if isinstance(source, list) and len(source) == 2 else None,
                       fields.get("within_class"), arrays.get("within_cov"),
                       arrays.get("within_factor"), arrays.get("flow_lattices"))


def recompute_hint(run_dir) -> str:
    return f"`augintae-tf train --stage {STAGE} --run-dir {run_dir}`"


# what each statistic a sampler reads is (augintae_tf.config.choices.Sampler.statistic)
STATISTICS = {"local": "the local covariance of training latents",
              "within": "the within-class covariance of labelled training latents",
              "flow": "the deformation fields of labelled training pairs"}


def has_statistic(stats: LatentStats | None, statistic: str | None) -> bool:
    """Whether ``stats`` (None: none computed) hold what a sampler reading ``statistic`` needs
    (None: nothing, always true)."""
    if statistic is None:
        return True
    if stats is None:
        return False
    return {"local": True, "within": stats.within_factor is not None,
            "flow": stats.flow_lattices is not None}[statistic]


def lacking(statistic: str) -> str:
    """What a sampler needs when the run's statistics lack ``statistic``, and how to get it."""
    return (f"{STATISTICS[statistic]}, which the run's latent statistics lack (computed before it "
            f"existed, or without labels): recompute them with {recompute_hint('RUN')}")


# What each sampler makes of seeds the model reconstructs badly: the decoder's blur, except
# local-edit, which adds a decoded change to each seed image itself and so returns the seeds
# with small edits (measured on photo crops: median RMS to the nearest seed 0.04-0.05).
OUTSIDE_EXPECT = {
    None: "blurred or blob-like images (decoded latents of seeds the model cannot reconstruct)",
    "local-edit": "near-copies of the seeds with small edits (local-edit adds a decoded change to "
                  "each seed image; the change cannot carry the class's variety)",
    "flow": "the seeds themselves under deformations of the training classes (flow moves each "
            "seed's pixels and decodes nothing, so the images keep the seeds' own look)",
    **{name: "the seeds with decoded edits larger than local-edit's, which on another domain add "
             "strokes of the training domain (measured on real photo tiles: further from them "
             "than the seeds themselves)" for name in ("within-edit", "set-edit")},
}


# What helps, measured: a model whose training folder also held photographs reconstructs novel
# photographs (FD 58 against 1,349) and edits them as photographs, not with digit strokes
# (benchmarks/RESULTS.md, "Training on more variety"); it did not make them teach a classifier more.
OUTSIDE_REMEDY = ("a model trained on images like these seeds (add some to a training folder, "
                  "`augintae-tf train --dataset DIR`) reconstructs and edits them in their own "
                  "style")


@dataclass(frozen=True)
class SeedDomain:
    """Where a request's seeds fall in the held-out reconstruction errors (module doc)."""

    seed_mse: float  # median over the seeds
    heldout_mse: float  # median over held-out training-domain images
    quantile: float  # share of held-out images that reconstruct better than the seeds' median
    outside: bool  # the seeds' median error above DOMAIN_RATIO x the held-out median

    @property
    def ratio(self) -> float:
        return self.seed_mse / max(self.heldout_mse, 1e-12)

    def line(self, sampler: str | None = None) -> str:
        """One line; outside the domain it says what ``sampler`` (None: slerp's) makes of them."""
        verdict = (f"the seeds look outside the model's training domain: expect "
                   f"{OUTSIDE_EXPECT.get(sampler, OUTSIDE_EXPECT[None])}; {OUTSIDE_REMEDY}"
                   if self.outside else "the seeds look like the training domain")
        return (f"seed reconstruction error {self.seed_mse:.4f} = {self.ratio:.1f}x the held-out "
                f"median {self.heldout_mse:.4f} (worse than {100 * self.quantile:.0f} % of held-out "
                f"images): {verdict}")


def seed_domain(model, seed_images: np.ndarray, stats: LatentStats) -> SeedDomain:
    errors = reconstruction_mse(model, seed_images)
    median = float(np.median(errors))
    reference = np.asarray(stats.heldout_mse, np.float64)
    quantile = float(np.searchsorted(reference, median, side="right") / max(len(reference), 1))
    heldout = float(np.median(reference))
    return SeedDomain(median, heldout, quantile, median > DOMAIN_RATIO * max(heldout, 1e-12))
