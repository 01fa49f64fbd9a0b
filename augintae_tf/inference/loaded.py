"""A trained run loaded for inference: :func:`load_run` builds the run's model in float32
(:data:`augintae_tf.models.precision.INFERENCE`, whatever it trained in), restores its newest
intact checkpoint (pinned while read) and what its post-training stages saved; :class:`Run`
checks images against the run's size and generates, samples, interpolates and reconstructs,
into arrays or (the ``*_into`` verbs, which the CLI calls) into the user's files, with what it
has to say returned as :class:`Line` data."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from augintae_tf.config.choices import seed_count_problem
from augintae_tf.config.schema import Config
from augintae_tf.data import load_arrays
from augintae_tf.errors import RunError
from augintae_tf.images import GIF_FRAMES, save_gif, save_labelled_grid
from augintae_tf.inference import generation
from augintae_tf.metrics.novelty import (Novelty, nearest_seed_distances, novelty,
                                         novelty_from_distances, within_class_spread)
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


class Line(NamedTuple):
    """One line for the user: a ``warning`` goes to stderr as ``warning: TEXT``, else to stdout."""

    text: str
    warning: bool = False


@dataclass(frozen=True)
class Written:
    """What a writing verb wrote: ``count`` images as ``out/00000.png``... and ``grid``, with
    ``checkpoint``'s weights; ``lines`` what it has to say before them (the sampler's fallback,
    the seeds' domain), ``novelty`` after them (few-shot generation only)."""

    out: Path
    grid: Path
    count: int
    checkpoint: Path
    seeds: int = 0  # seed images generated from (0: unconditional samples, reconstructions)
    sampler: str = ""  # the sampler used ("": none, or a model with one way of its own)
    mse: float | None = None  # reconstructions: mean squared error per pixel
    lines: tuple[Line, ...] = ()
    novelty: Line | None = None


class Interpolated(NamedTuple):
    """What :meth:`Run.interpolate_into` wrote: the labelled two-row image and/or the GIF."""

    figure: Path | None
    gif: Path | None
    model: str
    steps: int
    frames: int


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
        ``warn`` gets the warning lines of :meth:`fewshot_lines` (the sampler's fallback, seeds
        outside the training domain) and the novelty line when the images are close to copies
        of the seeds (:meth:`novelty`).  ``with_novelty``: returns :class:`Generated` (images,
        novelty, seed domain) instead of the images, the novelty's reference computed from the
        training data when the run has none stored."""
        seed_images, used, lines, domain = self._fewshot_request(seed_images, sampler)
        for line in lines:
            if warn and line.warning:
                warn(line.text)
        images = generation.generate(self.model, seed_images, num, seed, sampler=sampler,
                                     scale=scale)
        found = self.novelty(seed_images, images, on_demand=with_novelty)
        if warn and found.close_to_copies:
            warn(found.line())
        return Generated(images, found, domain) if with_novelty else images

    def generate_into(self, out: str | os.PathLike, seed_images: np.ndarray, num: int = 64,
                      seed: int = 0, sampler: str | None = None, scale: float | None = None,
                      overwrite: bool = False, source: str | None = None) -> Written:
        """:meth:`generate` into ``out`` (``generation.write_generation_chunks``): the images made
        and written :data:`generation.CHUNK` at a time (``generation.generate_chunks``), so memory
        does not grow with ``num``; ``out`` is left as found when it fails.  Returns what was
        written, with the lines of :meth:`fewshot_lines` and the novelty line (its reference
        computed from the training data when the run has none stored).  ``source``: where the
        seeds came from (``--seeds``), named when there are too few."""
        seed_images, used, lines, _ = self._fewshot_request(seed_images, sampler, source)
        chunks = generation.generate_chunks(self.model, seed_images, num, seed, sampler=sampler,
                                            scale=scale)
        distances = []  # each image's nearest-seed distance, gathered as the chunks are written
        chunks = (distances.append(nearest_seed_distances(c, seed_images)) or c for c in chunks)
        grid = generation.write_generation_chunks(out, seed_images, chunks, num,
                                                  overwrite=overwrite)
        reference, origin = self.novelty_reference()
        found = novelty_from_distances(np.concatenate(distances), len(seed_images), reference,
                                       origin)
        return Written(Path(out), grid, num, self.checkpoint, len(seed_images), used,
                       lines=tuple(lines), novelty=Line(found.line(), found.close_to_copies))

    def fewshot_lines(self, seed_images: np.ndarray, sampler: str | None = None) -> list[Line]:
        """What a few-shot request says before any image is made: the run's sampler falling
        back (``sampler`` None; a warning) and where the seeds fall against the training domain
        (:meth:`seed_domain`: a warning when outside, saying what the sampler makes of them)."""
        return self._fewshot_request(seed_images, sampler)[2]

    def _fewshot_request(self, seed_images, sampler, source=None):
        """(seed images checked, sampler used, :meth:`fewshot_lines`, seed domain): the sampler
        checked once, by the model (``check_sampler``), with the statistics a noisy one needs
        and, for seeds from ``source``, their count."""
        seed_images = _check_images(seed_images, self.config, "seed images")
        used = self.model.check_sampler(sampler)
        problem = source and seed_count_problem(len(seed_images), used, source, sampler is None)
        if problem:
            raise RunError(problem)
        if used:
            self.model.noise_factor(used)  # a noisy sampler without its statistics: one line now
        lines = []
        note = self.model.sampler_note() if sampler is None and used else None
        if note:
            lines.append(Line(note, warning=True))
        domain = generation.seed_domain(self.model, seed_images)
        if domain is not None:
            lines.append(Line(domain.line(used or None), warning=domain.outside))
        return seed_images, used, lines, domain

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

    def sample_into(self, out: str | os.PathLike, num: int = 64, seed: int = 0,
                    overwrite: bool = False) -> Written:
        """:meth:`sample` into ``out`` as :meth:`generate_into` writes (chunks, grid.png)."""
        chunks = generation.sample_chunks(self.model, num, seed)  # written as they come
        cfg = self.config.data
        none = np.zeros((0, cfg.image_size, cfg.image_size, cfg.channels), np.float32)
        grid = generation.write_generation_chunks(out, none, chunks, num, overwrite=overwrite)
        return Written(Path(out), grid, num, self.checkpoint)

    def interpolate(self, a: np.ndarray, b: np.ndarray, steps: int = 8) -> np.ndarray:
        a, b = _check_images(np.stack([a, b]), self.config, "interpolation endpoints")
        return generation.interpolation_path(self.model, a, b, steps)

    def interpolate_into(self, a: np.ndarray, b: np.ndarray, steps: int = 8,
                         out: str | os.PathLike | None = None,
                         gif: str | os.PathLike | None = None) -> Interpolated:
        """The pixel fade and the model's slerp path from ``a`` to ``b`` as a labelled two-row
        image ``out`` (``steps`` per row), and/or the slerp path as an animated ``gif`` of
        :data:`~augintae_tf.images.GIF_FRAMES` frames from ``a`` to ``b`` and back."""
        name = self.config.model.name
        figure = path = None
        if out is not None:
            figure = save_labelled_grid(out, [generation.pixel_fade(a, b, steps),
                                              self.interpolate(a, b, steps)],
                                        ["pixel fade", f"{name} slerp"])
        if gif is not None:
            frames = self.interpolate(a, b, GIF_FRAMES // 2 + 1)
            path = save_gif(gif, np.concatenate([frames, frames[-2:0:-1]]))
        return Interpolated(figure, path, name, steps, GIF_FRAMES)

    def reconstruct(self, images: np.ndarray, batch_size: int = 128) -> np.ndarray:
        """Each image through the model (``generation.reconstruct``: encoded and decoded, or
        inverted and regenerated), after checking the images fit this run."""
        return generation.reconstruct(self.model, _check_images(images, self.config, "images"),
                                      batch_size)

    def reconstruct_into(self, out: str | os.PathLike, images: np.ndarray,
                         overwrite: bool = False) -> Written:
        """:meth:`reconstruct` into ``out`` (``generation.write_reconstructions``: the
        reconstructions in the inputs' order, grid.png with input and reconstruction rows);
        the result's ``mse`` is the mean squared error per pixel."""
        images = _check_images(images, self.config, "images")
        recon = self.reconstruct(images)
        grid = generation.write_reconstructions(out, images, recon, overwrite=overwrite)
        return Written(Path(out), grid, len(recon), self.checkpoint,
                       mse=float(np.mean(np.square(recon - images))))


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
    try:
        images, labels = load_arrays(cfg.data, cfg.data.train_split, limit=ON_DEMAND_IMAGES)
    except Exception as exc:  # noqa: BLE001 -- any data problem only makes the reference unknown
        return None, f"the training data could not be read ({type(exc).__name__}: {exc})"
    reference = within_class_spread(images, labels, cfg.train.seed)
    if reference is None:
        return None, "the training data has no class with two images"
    return reference, (f"computed now from {reference['images']} training images of "
                       f"{reference['classes']} classes")
