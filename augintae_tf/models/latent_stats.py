"""The ``latent-stats`` stage: what a trained autoencoder's latent space looks like around real data.

Computed once after training (and by ``augintae-tf train --stage latent-stats --run-dir RUN`` for
an existing run), stored in ``RUN/latent-stats/``, restored by :func:`augintae_tf.inference.loaded.load_run`
and captured by an export:

1. **Local covariance** ``C`` (the ``local`` samplers of :func:`augintae_tf.latent.sample_latents`):
   the unit latents ``z_i`` of up to :data:`MAX_TRAIN` training images, each with its ``k`` nearest
   neighbours by cosine similarity (no labels); the scatter of every neighbourhood
   ``{z_i} + N_k(z_i)`` about its own mean, ``C = mean_i cov(neighbourhood_i)`` (``k`` in the
   denominator).  ``C`` holds the directions in which training images vary *locally* (a slightly
   different stroke, slant or width), not the directions between classes; ``factor`` ``F`` with
   ``F F^T = C`` (eigendecomposition, negative eigenvalues clipped) turns ``eps ~ N(0, I)`` into
   that noise.  Averaged over neighbourhoods, so it transfers to a novel class's seeds without
   labels or retraining ("local variation transfer").
2. **Seed-domain reference**: the per-image reconstruction MSE of up to :data:`MAX_HELD_OUT`
   held-out training-domain images (``data.test_split``), sorted.  :func:`seed_domain` places a
   request's seeds in that distribution and warns in one line when their median error is more
   than :data:`DOMAIN_RATIO` times the held-out median: seeds of another domain decode to blobs.
   The ratio, not a quantile, decides: the held-out images are the training classes, which a
   model reconstructs better than any novel class, so a quantile flagged most novel classes of
   the model's own domain (benchmarks/RESULTS.md, "The seed-domain warning").

3. **Within-class spread** of the labelled training images, the novelty line's reference
   (:func:`augintae_tf.metrics.novelty.within_class_spread`), in the manifest.

Files: ``stats-<sha>.npz`` (``cov``, ``factor``, ``heldout_mse``) and ``manifest.json`` written
last (the file's name, size and SHA-256, ``k``, counts and the checkpoint the statistics
describe: its name and the SHA-256 of its ``model.weights.h5``), each atomically (:func:`save`);
statistics of another checkpoint (the run trained on) are not used, and the message says how to
recompute them.
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from augintae_tf import atomic
from augintae_tf.data import load_arrays
from augintae_tf.errors import RunError
from augintae_tf.metrics.novelty import within_class_spread
from augintae_tf.run import checkpoints
from augintae_tf.run.layout import RunLayout

STAGE = "latent-stats"
MANIFEST = "manifest.json"
FORMAT = 1
K = 10  # neighbours per training latent
MAX_TRAIN = 10_000  # training latents the covariance is estimated from (fixed random subset)
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
    checkpoint: str  # the checkpoint directory name the statistics describe
    # the training classes' within-class spread (augintae_tf.metrics.novelty.within_class_spread;
    # None: unlabelled training data, or statistics computed before it existed)
    within_class: dict | None = None

    @property
    def local_std(self) -> float:
        """Root of the mean per-dimension local variance: the typical noise length per unit
        scale, to compare with the unit norm of a latent."""
        return float(np.sqrt(np.trace(self.cov)))


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


def compute(model, train_images: np.ndarray, heldout_images: np.ndarray, checkpoint: str,
            k: int = K, seed: int = 0, train_labels=None) -> LatentStats:
    """The statistics of ``model`` (module doc) from training and held-out images; with
    ``train_labels`` also the within-class spread of the novelty line."""
    latents = _encode(model, _subset(np.asarray(train_images, np.float32), MAX_TRAIN, seed))
    cov = local_covariance(latents, k)
    heldout = np.sort(reconstruction_mse(model, _subset(np.asarray(heldout_images, np.float32),
                                                         MAX_HELD_OUT, seed)))
    spread = None if train_labels is None else within_class_spread(
        np.asarray(train_images, np.float32), train_labels, seed)
    return LatentStats(cov.astype(np.float32), covariance_factor(cov).astype(np.float32),
                       heldout.astype(np.float32), min(int(k), len(latents) - 1), checkpoint,
                       spread)


def weights_digest(checkpoint: Path, files=None) -> str:
    """SHA-256 of the checkpoint's ``model.weights.h5`` (from its manifest when it has one);
    ``files``: the checkpoint's pinned files (:class:`augintae_tf.run.checkpoints.Pinned`), read
    instead of the folder."""
    read = files.read if files is not None else (lambda name: (checkpoint / name).read_bytes())
    try:
        return json.loads(read("manifest.json"))["files"]["model.weights.h5"]["sha256"]
    except (OSError, ValueError, KeyError, TypeError, RunError):
        return hashlib.sha256(read("model.weights.h5")).hexdigest()


def save(run_dir, stats: LatentStats, checkpoint: Path) -> Path:
    """Write ``RUN/latent-stats/`` so that a reader always sees one complete version: the arrays
    go to ``stats-<sha>.npz`` (a new name per content, written atomically), then
    ``manifest.json`` naming it (atomically, last), then older ``stats-*.npz`` are removed; a
    process killed at any point leaves the previous manifest and its file, or the new ones."""
    folder = RunLayout(run_dir).stage(STAGE)
    atomic.refuse_link(folder, "directory")
    folder.mkdir(exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, cov=stats.cov, factor=stats.factor, heldout_mse=stats.heldout_mse)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    name = f"stats-{digest[:16]}.npz"
    atomic.write_bytes(folder / name, data, what="the latent statistics")
    manifest = {"format": FORMAT, "k": stats.k, "latent_dim": int(stats.cov.shape[0]),
                "heldout_images": int(len(stats.heldout_mse)), "checkpoint": checkpoint.name,
                "weights_sha256": weights_digest(checkpoint),
                "file": name, "size": len(data), "sha256": digest}
    if stats.within_class is not None:
        manifest["within_class"] = stats.within_class
    atomic.write_json(folder / MANIFEST, manifest, what="the latent statistics manifest", indent=2)
    for old in folder.glob("stats-*.npz"):
        if old.name != name and not old.is_symlink():
            old.unlink(missing_ok=True)
    return folder


def recompute_hint(run_dir) -> str:
    return f"`augintae-tf train --stage {STAGE} --run-dir {run_dir}`"


def load(run_dir, checkpoint: Path, digest: str | None = None
         ) -> tuple[LatentStats | None, str | None]:
    """``(stats, None)``, or ``(None, why)`` when they are missing, damaged or of another
    checkpoint than ``checkpoint`` (the weights the model was loaded from; ``digest``: their
    SHA-256 as read when they were restored, else read from the checkpoint now)."""
    folder = RunLayout(run_dir).stage(STAGE)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        return None, f"run {run_dir} has no latent statistics; compute them with {recompute_hint(run_dir)}"
    try:
        atomic.refuse_link(manifest_path)
        manifest = json.loads(manifest_path.read_text())
        name = manifest["file"]
        if not (isinstance(name, str) and name == Path(name).name and name.startswith("stats-")):
            raise ValueError(f"manifest names {name!r}, not a stats file of this folder")
        atomic.refuse_link(folder / name)
        data = (folder / name).read_bytes()
        if len(data) != manifest["size"] or hashlib.sha256(data).hexdigest() != manifest["sha256"]:
            raise ValueError(f"{name} does not match its manifest")
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in ("cov", "factor", "heldout_mse")}
    except (OSError, ValueError, KeyError, TypeError, RunError) as exc:
        return None, (f"the latent statistics in {folder} are damaged ({exc}); recompute them with "
                      f"{recompute_hint(run_dir)}")
    try:
        digest = digest or weights_digest(checkpoint)
    except OSError as exc:  # rotated away by a training run since it was restored
        return None, f"checkpoint {checkpoint} cannot be read to match its latent statistics ({exc})"
    if manifest.get("weights_sha256") != digest:
        named = manifest.get("checkpoint")
        which = (f"checkpoint {named}, not {checkpoint.name}" if named != checkpoint.name else
                 f"other weights than checkpoint {checkpoint.name} holds now (saved again since)")
        return None, (f"the latent statistics describe {which}; recompute them with "
                      f"{recompute_hint(run_dir)}")
    return LatentStats(arrays["cov"], arrays["factor"], arrays["heldout_mse"],
                       int(manifest.get("k", K)), str(manifest.get("checkpoint")),
                       manifest.get("within_class")), None


def run_stage(model, run_dir, cfg, echo: Callable[[str], Any] = print,
              checkpoint: Path | None = None) -> LatentStats:
    """Compute and save the statistics of ``model`` (the weights of ``checkpoint``; default: the
    checkpoint ``load_run`` restored, else the run's newest, which training has just written) from
    its config's training and held-out splits; attach them to the model."""
    checkpoint = (checkpoint or getattr(model, "checkpoint_path", None)
                  or checkpoints.latest_checkpoint(RunLayout(run_dir).checkpoints))
    if checkpoint is None:
        raise RunError(f"run {run_dir} has no checkpoint to compute latent statistics for")
    train_images, train_labels = load_arrays(cfg.data, cfg.data.train_split, limit=None)
    heldout, _ = load_arrays(cfg.data, cfg.data.test_split, limit=None)
    stats = compute(model, train_images, heldout, checkpoint.name,
                    k=getattr(cfg.model, "sampler_neighbours", K), seed=cfg.train.seed,
                    train_labels=train_labels)
    save(run_dir, stats, checkpoint)
    model.latent_stats = stats
    echo(f"latent-stats stage: local covariance of {min(len(train_images), MAX_TRAIN)} training "
         f"latents ({stats.k} neighbours; local std {stats.local_std:.3f} per unit latent), "
         f"reconstruction error of {len(stats.heldout_mse)} held-out images")
    return stats


# What each sampler makes of seeds the model reconstructs badly: the decoder's blur, except
# local-edit, which adds a decoded change to each seed image itself and so returns the seeds
# with small edits (measured on photo crops: median RMS to the nearest seed 0.04-0.05).
OUTSIDE_EXPECT = {
    None: "blurred or blob-like images (decoded latents of seeds the model cannot reconstruct)",
    "local-edit": "near-copies of the seeds with small edits (local-edit adds a decoded change to "
                  "each seed image; the change cannot carry the class's variety)",
}


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
                   f"{OUTSIDE_EXPECT.get(sampler, OUTSIDE_EXPECT[None])}" if self.outside
                   else "the seeds look like the training domain")
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
