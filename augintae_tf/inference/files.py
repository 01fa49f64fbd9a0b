"""Inference from the user's files into the user's files: the one library call behind each of
``augintae-tf generate``, ``interpolate`` and ``reconstruct`` (the Python API calls the same
:class:`~augintae_tf.inference.loaded.Run` verbs).

Each checks first what it can without TensorFlow, in the order the user reads the command: the
run directory, then the outputs (``--out`` as :mod:`augintae_tf.output_folders` allows), then the
inputs (a seed count a sampler cannot use); only then does it load the run (TensorFlow) and call
its writing verb, which returns what was written and what there is to say, as data.
This module imports no TensorFlow, so the CLI imports it with its options.
"""
from __future__ import annotations

import os
from pathlib import Path

from augintae_tf.capabilities import Capability
from augintae_tf.config.choices import seed_count_problem
from augintae_tf.data import DataError, load_image_files
from augintae_tf.data.folder import GENERATED_GRID, check_seed_path, image_files
from augintae_tf.errors import OptionError, RunError
from augintae_tf.images import image_format
from augintae_tf.output_folders import check_out, generated_names
from augintae_tf.run.directory import read_config

PathLike = str | os.PathLike


def generate_files(run_dir: PathLike, out: PathLike, seeds: PathLike | None = None,
                   num: int = 64, seed: int = 0, sampler: str | None = None,
                   scale: float | None = None, checkpoint: PathLike | None = None,
                   overwrite: bool = False):
    """``num`` new images of the class of the images in ``seeds`` (a folder or a file) into
    ``out`` (:meth:`Run.generate_into`); without ``seeds``, unconditional samples of a model
    that has them (:meth:`Run.sample_into`). Returns what was written
    (:class:`augintae_tf.inference.loaded.Written`)."""
    saved = read_config(run_dir)  # a wrong run directory is named before anything about --out
    check_out(out, overwrite, generated_names(num))  # before the slow part
    if seeds is not None:  # the seed count is checked first: before the run loads, or any line
        problem = seed_count_problem(seed_file_count(seeds),
                                     sampler or getattr(saved.model, "sampler", None), str(seeds),
                                     sampler is None)
        if problem:
            raise RunError(problem)
    run = _load(run_dir, checkpoint)
    if seeds is None:
        if not run.model.has(Capability.SAMPLE):
            raise OptionError(f"--seeds is required: model {run.config.model.name} generates "
                              "from seed images")
        return run.sample_into(out, num, seed, overwrite=overwrite)
    images = load_image_files(seeds, run.config.data.image_size, run.config.data.channels,
                              strict=True)[0]
    return run.generate_into(out, images, num, seed, sampler=sampler, scale=scale,
                             overwrite=overwrite, source=str(seeds))


def interpolate_files(run_dir: PathLike, image_a: PathLike, image_b: PathLike, steps: int = 8,
                      out: PathLike | None = None, gif: PathLike | None = None,
                      checkpoint: PathLike | None = None, overwrite: bool = False):
    """The pixel fade and the model's slerp path from ``image_a`` to ``image_b``: a labelled
    two-row image ``out`` and/or an animated ``gif`` (:meth:`Run.interpolate_into`); neither
    replaces an existing file unless ``overwrite``. Returns
    :class:`augintae_tf.inference.loaded.Interpolated`."""
    read_config(run_dir)
    if out is not None:
        image_format(out)  # an unwritable suffix fails before the run is loaded
    if gif is not None and Path(gif).suffix.lower() != ".gif":
        raise RunError(f"--gif {gif}: the animation is a GIF; give a .gif path")
    for option, path in (("--out", out), ("--gif", gif)):
        if path is not None and Path(path).exists() and not overwrite:
            raise RunError(f"{option} {path} already exists; pass --overwrite to replace it")
    run = _load(run_dir, checkpoint)
    cfg = run.config.data
    endpoints = []
    for option, path in (("--a", image_a), ("--b", image_b)):
        try:
            endpoints.append(load_image_files([path], cfg.image_size, cfg.channels,
                                              strict=True)[0][0])
        except DataError as exc:
            raise DataError(f"{option} {path}: {exc}") from None
    return run.interpolate_into(*endpoints, steps, out=out, gif=gif)


def reconstruct_files(run_dir: PathLike, images: PathLike, out: PathLike,
                      checkpoint: PathLike | None = None, overwrite: bool = False):
    """The images in ``images`` (a folder, recursively, or one file) through the run's model
    into ``out`` (:meth:`Run.reconstruct_into`)."""
    read_config(run_dir)
    check_out(out, overwrite, [])  # before the slow part (the names: once the images are read)
    run = _load(run_dir, checkpoint)
    inputs = load_image_files(images, run.config.data.image_size, run.config.data.channels)[0]
    return run.reconstruct_into(out, inputs, overwrite=overwrite)


def seed_file_count(seeds: PathLike) -> int:
    """How many seed images ``--seeds`` names (a folder, searched recursively, less the
    ``grid.png`` a generation writes; or one file): what ``load_image_files(strict=True)``
    loads when it succeeds. Counted before the run or any image loads, so a sampler's seed
    count is the first thing checked."""
    path = Path(seeds).expanduser()
    if not path.is_dir():
        check_seed_path(path)  # a FIFO or a missing path is refused as such, not counted
        return 1
    return sum(1 for f in image_files(path) if f.name != GENERATED_GRID)


def _load(run_dir: PathLike, checkpoint: PathLike | None):
    """The run, loaded (TensorFlow is imported here, once the cheap checks have passed)."""
    from augintae_tf.inference.loaded import load_run

    return load_run(run_dir, checkpoint)
