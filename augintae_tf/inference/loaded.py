"""A trained run loaded for inference: :func:`load_run` builds the run's model in float32
(:data:`augintae_tf.models.precision.INFERENCE`, whatever it trained in), restores its newest
intact checkpoint (pinned while read) and what its post-training stages saved; :class:`Run`
checks images against the run's size and generates, samples, interpolates and reconstructs."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from augintae_tf.config.schema import Config
from augintae_tf.errors import RunError
from augintae_tf.inference import generation
from augintae_tf.metrics.novelty import Novelty, novelty, within_class_spread
from augintae_tf.models import build_model, precision
from augintae_tf.inference.stage_results import restore_stages
from augintae_tf.run.checkpoints import weights_sha256
from augintae_tf.run.directory import pinned_checkpoint, read_config
from augintae_tf.run.layout import RunLayout
from augintae_tf.run.metrics_log import Warn, warn_stderr
from augintae_tf.run.model_state import restore_run_checkpoint


class Generated(NamedTuple):
    """What :meth:`Run.generate` returns with ``with_novelty``: the images, their
    :class:`~augintae_tf.metrics.novelty.Novelty` and the seeds'
    :class:`~augintae_tf.models.latent_stats.SeedDomain` (None without latent statistics)."""

    images: np.ndarray
    novelty: Novelty
    seed_domain: Any


ON_DEMAND_IMAGES = 5000  # training images read for the within-class spread without the stage


@dataclass
class Run:
    """A trained run loaded for inference: its config, directory and model (weights restored).
    The methods check the images against the run's size, then call
    :mod:`augintae_tf.inference.generation`."""

    directory: Path
    config: Config
    model: Any
    checkpoint: Path
    _reference: Any = field(default=None, init=False, repr=False)  # (spread, source) once read

    @property
    def layout(self) -> RunLayout:
        return RunLayout(self.directory)

    def generate(self, seed_images: np.ndarray, num: int = 64, seed: int = 0,
                 sampler: str | None = None, scale: float | None = None,
                 warn: Warn | None = warn_stderr, with_novelty: bool = False):
        """``num`` images of the seeds' class (``generation.generate``: ``sampler``, ``scale``);
        ``warn`` gets one line when the seeds look outside the training domain
        (:meth:`seed_domain`, saying what the sampler makes of them) and the novelty line when
        the images are close to copies of the seeds (:meth:`novelty`).  ``with_novelty``:
        returns :class:`Generated` (images, novelty, seed domain) instead of the images, the
        novelty's reference computed from the training data when the run has none stored."""
        seed_images = _check_images(seed_images, self.config, "seed images")
        domain = self.seed_domain(seed_images)
        used = self.model.check_sampler(sampler) if self.model.samplers else None
        if warn and domain is not None and domain.outside:
            warn(domain.line(used))
        note = self.model.sampler_note() if sampler is None and self.model.samplers else None
        if warn and note:
            warn(note)
        images = generation.generate(self.model, seed_images, num, seed, sampler=sampler,
                                     scale=scale)
        found = self.novelty(seed_images, images, on_demand=with_novelty)
        if warn and found.close_to_copies:
            warn(found.line())
        return Generated(images, found, domain) if with_novelty else images

    def novelty(self, seed_images: np.ndarray, images: np.ndarray, on_demand: bool = True
                ) -> Novelty:
        """How far ``images`` lie from their nearest seed against the training classes'
        within-class spread (:mod:`augintae_tf.metrics.novelty`): the latent-stats stage's, else
        (``on_demand``) computed once from up to :data:`ON_DEMAND_IMAGES` training images."""
        reference, source = self.novelty_reference(on_demand)
        return novelty(np.asarray(images, np.float32), np.asarray(seed_images, np.float32),
                       reference, source)

    def novelty_reference(self, on_demand: bool = True) -> tuple[dict | None, str]:
        """(within-class spread or None, where it came from or why it is unknown)."""
        stats = self.model.latent_stats
        stored = None if stats is None else stats.within_class
        if stored:
            return stored, f"the latent-stats stage, {stored['classes']} training classes"
        if self._reference is None and not on_demand:
            why = ("the run's latent statistics predate it" if stats is not None
                   else "the run has no latent statistics")
            return None, why
        if self._reference is None:
            self._reference = _reference_from_training(self.config)
        return self._reference

    def seed_domain(self, seed_images: np.ndarray):
        """How well the model reconstructs the seeds against held-out training-domain images
        (:class:`~augintae_tf.models.latent_stats.SeedDomain`); None without latent statistics."""
        return generation.seed_domain(self.model, _check_images(seed_images, self.config,
                                                                "seed images"))

    def sample(self, num: int = 64, seed: int = 0, batch_size: int = 256) -> np.ndarray:
        """``num`` unconditional samples (capability ``sample``), deterministic for ``seed``:
        the same images as the exported ``sample(num, seed)``."""
        return generation.sample(self.model, num, seed, batch_size)

    def interpolate(self, a: np.ndarray, b: np.ndarray, steps: int = 8) -> np.ndarray:
        a, b = _check_images(np.stack([a, b]), self.config, "interpolation endpoints")
        return generation.interpolation_path(self.model, a, b, steps)

    def reconstruct(self, images: np.ndarray, batch_size: int = 128) -> np.ndarray:
        """Each image through the model (``generation.reconstruct``: encoded and decoded, or
        inverted and regenerated), after checking the images fit this run."""
        return generation.reconstruct(self.model, _check_images(images, self.config, "images"),
                                      batch_size)


def _check_images(images: np.ndarray, cfg: Config, what: str) -> np.ndarray:
    images = np.asarray(images, np.float32)
    expected = (cfg.data.image_size, cfg.data.image_size, cfg.data.channels)
    if images.ndim != 4 or images.shape[1:] != expected:
        raise RunError(f"{what} must have shape [N, {', '.join(map(str, expected))}] for this run, "
                       f"got {list(images.shape)}")
    return images


def load_run(run_dir: str | os.PathLike, checkpoint: str | os.PathLike | None = None,
             warn: Warn | None = warn_stderr, stages: bool = True) -> Run:
    """Load a run directory (newest intact checkpoint unless ``checkpoint`` is given) for inference;
    ``stages=False`` leaves out what post-training stages saved (a stage about to rerun)."""
    run_dir = Path(run_dir)
    cfg = read_config(run_dir)
    # Pinned: once chosen, a training run rotating checkpoints cannot take its files away.
    with pinned_checkpoint(run_dir, checkpoint, warn) as (ckpt, files):
        if ckpt is None:
            raise RunError(f"no checkpoint found at {RunLayout(run_dir).checkpoints}; train the run "
                           "first (or finish it with `augintae-tf train --resume --run-dir RUN`)")
        model = build_model(cfg, dtype=precision.INFERENCE)  # whatever it trained in
        model.build_for_inference()
        restore_run_checkpoint(run_dir, cfg, ckpt, model, with_optimizers=False, files=files)
        digest = weights_sha256(ckpt, files)  # what the stages' results must describe
    if stages:
        # e.g. wgan-gp's inversion network, the latent statistics (each its own files)
        restore_stages(model, run_dir, ckpt, digest, warn)
    return Run(run_dir, cfg, model, ckpt)


def _reference_from_training(cfg: Config) -> tuple[dict | None, str]:
    """The within-class spread of up to :data:`ON_DEMAND_IMAGES` training images, or why not."""
    from augintae_tf.data import load_arrays

    try:
        images, labels = load_arrays(cfg.data, cfg.data.train_split, limit=ON_DEMAND_IMAGES)
    except Exception as exc:  # noqa: BLE001 -- any data problem only makes the reference unknown
        return None, f"the training data could not be read ({type(exc).__name__}: {exc})"
    reference = within_class_spread(images, labels, cfg.train.seed)
    if reference is None:
        return None, "the training data has no class with two images"
    return reference, (f"computed now from {reference['images']} training images of "
                       f"{reference['classes']} classes")
