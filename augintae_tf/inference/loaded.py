"""A trained run loaded for inference: :func:`load_run` builds the run's model in float32
(:data:`augintae_tf.models.precision.INFERENCE`, whatever it trained in), restores its newest
intact checkpoint (pinned while read) and what its post-training stages saved; :class:`Run`
checks images against the run's size and generates, samples, interpolates and reconstructs."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from augintae_tf.config.schema import Config
from augintae_tf.errors import RunError
from augintae_tf.inference import generation
from augintae_tf.models import build_model, precision
from augintae_tf.models.latent_stats import weights_digest
from augintae_tf.run.directory import pinned_checkpoint, read_config
from augintae_tf.run.layout import RunLayout
from augintae_tf.run.metrics_log import Warn, warn_stderr
from augintae_tf.run.model_state import restore_run_checkpoint


@dataclass
class Run:
    """A trained run loaded for inference: its config, directory and model (weights restored).
    The methods check the images against the run's size, then call
    :mod:`augintae_tf.inference.generation`."""

    directory: Path
    config: Config
    model: Any
    checkpoint: Path

    @property
    def layout(self) -> RunLayout:
        return RunLayout(self.directory)

    def generate(self, seed_images: np.ndarray, num: int = 64, seed: int = 0,
                 sampler: str | None = None, scale: float | None = None,
                 warn: Warn | None = warn_stderr) -> np.ndarray:
        """``num`` images of the seeds' class (``generation.generate``: ``sampler``, ``scale``);
        ``warn`` gets one line when the seeds look outside the training domain
        (:meth:`seed_domain`)."""
        seed_images = _check_images(seed_images, self.config, "seed images")
        domain = self.seed_domain(seed_images)
        if warn and domain is not None and domain.outside:
            warn(domain.line())
        note = self.model.sampler_note() if sampler is None and self.model.samplers else None
        if warn and note:
            warn(note)
        return generation.generate(self.model, seed_images, num, seed, sampler=sampler, scale=scale)

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
        model.checkpoint_digest = weights_digest(ckpt, files)  # what load_stages matches
    model.checkpoint_path = ckpt  # the weights' origin (the latent-stats stage records it)
    if stages:
        # e.g. wgan-gp's inversion network, the latent statistics (each its own files)
        model.load_stages(run_dir, warn, checkpoint=ckpt)
    return Run(run_dir, cfg, model, ckpt)
