"""Few-shot generation and interpolation from a trained run.

Few-shot generation (the product's main job) is the model's ``fewshot`` capability: for the AE
family, encode K seed images of a class the model never saw, draw latents from the seeds' unit
latents with a sampler (:func:`augintae_tf.latent.sample_latents`: the paper's slerp between
random pairs at alpha = mean of two uniforms; ``local``, a seed plus noise along the directions
training images vary in locally; ``slerp-local``; ``convex``) and decode.  :func:`seed_domain`
says whether the seeds look like the model's training domain.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable, Iterator

import keras
import numpy as np
import tensorflow as tf

from augintae_tf.capabilities import Capability
from augintae_tf.config.choices import SAMPLER_SCALE, min_seeds
from augintae_tf.errors import RunError
from augintae_tf.images import save_grid, save_pngs
from augintae_tf.output_folders import MANIFEST, generated_names, prepare_out, undo_out
from augintae_tf.models import latent_stats


def _require(model: keras.Model, capability: str, what: str) -> None:
    if not model.has(capability):
        raise RunError(f"model {model.name} cannot do {what} (its capabilities: "
                       f"{', '.join(sorted(model.capabilities)) or 'none'})")


def generate(model: keras.Model, seed_images: np.ndarray, num: int = 64, seed: int = 0,
             batch_size: int = 256, sampler: str | None = None, scale: float | None = None
             ) -> np.ndarray:
    """``num`` new images from ``seed_images`` ``[K, H, W, C]`` (K >= 2; K >= 1 for the one-seed
    samplers ``local`` and ``local-edit``) by the model's ``fewshot``
    with ``sampler`` (:data:`~augintae_tf.config.choices.SAMPLERS`; None: the run's ``model.sampler``) and
    noise ``scale`` (None: the run's ``model.sampler_scale``): the exported ``generate`` signatures
    with the same seed return the same images.  Deterministic for a given ``seed``."""
    _require(model, Capability.FEWSHOT, "few-shot generation")
    used = model.check_sampler(sampler)
    if len(seed_images) < min_seeds(used):
        raise RunError(f"few-shot generation{f' by {used}' if used else ''} needs at least "
                       f"{min_seeds(used)} seed images, got {len(seed_images)}")
    low, high = SAMPLER_SCALE
    if scale is not None and not low <= float(scale) <= high:
        raise RunError(f"--scale {scale}: the noise scale must be a number in [{low:g}, {high:g}]")
    images = model.fewshot(tf.convert_to_tensor(seed_images, tf.float32), int(num), int(seed),
                           batch_size=batch_size, sampler=sampler,
                           scale=None if scale is None else float(scale))
    return images.numpy()


def seed_domain(model: keras.Model, seed_images: np.ndarray):
    """Where the seeds fall among held-out reconstruction errors
    (:class:`~augintae_tf.models.latent_stats.SeedDomain`), or ``None`` for a model without the
    latent-stats stage's reference (its ``latent_stats_problem`` says why)."""
    stats = model.latent_stats
    if stats is None or not model.has(Capability.LATENT):
        return None
    return latent_stats.seed_domain(model, np.asarray(seed_images, np.float32), stats)


def sample(model: keras.Model, num: int = 64, seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """``num`` samples of a model with the ``sample`` capability; one call (so the images equal
    the SavedModel's ``sample(num, seed)``) when ``num <= batch_size``, else chunks with seeds
    ``seed, seed + 1, ...``."""
    return np.concatenate(list(sample_chunks(model, num, seed, batch_size)))


def sample_chunks(model: keras.Model, num: int, seed: int, batch_size: int = 256
                  ) -> Iterator[np.ndarray]:
    """:func:`sample`'s images, one chunk of at most ``batch_size`` at a time."""
    _require(model, Capability.SAMPLE, "unconditional sampling")
    for i, start in enumerate(range(0, num, batch_size)):
        yield model.sample(min(batch_size, num - start), int(seed) + i).numpy()


CHUNK = 1024  # images generated and written at a time: memory stays bounded for any --num


def chunk_seed(seed: int, index: int) -> int:
    """The seed of chunk ``index`` of a generation: ``seed`` itself for the first, so up to
    :data:`CHUNK` images equal one :func:`generate` call (and the SavedModel's ``generate`` with
    that seed); for the next, a hash of (seed, index), so chunks of two seeds never repeat each
    other (``seed + index`` would give ``--seed 0`` and ``--seed 1`` the same later chunks)."""
    if index == 0:
        return int(seed)
    return int.from_bytes(hashlib.sha256(f"{seed}/{index}".encode()).digest()[:8], "little") >> 1


def generate_chunks(model: keras.Model, seed_images: np.ndarray, num: int, seed: int,
                    chunk: int | None = None, sampler: str | None = None,
                    scale: float | None = None) -> Iterator[np.ndarray]:
    """``num`` few-shot images (``sampler``, ``scale`` as :func:`generate`), one chunk of at
    most ``chunk`` (default :data:`CHUNK`) at a time, chunk ``i`` drawn with :func:`chunk_seed`:
    what ``augintae-tf generate`` writes as it goes, so its memory does not grow with ``--num``."""
    chunk = chunk or CHUNK
    for index, start in enumerate(range(0, num, chunk)):
        yield generate(model, seed_images, min(chunk, num - start), chunk_seed(seed, index),
                       sampler=sampler, scale=scale)


def interpolation_path(model: keras.Model, a: np.ndarray, b: np.ndarray, steps: int = 8
                       ) -> np.ndarray:
    """The model's slerp path from image ``a`` (first) to ``b`` (last): ``[steps, H, W, C]``."""
    _require(model, Capability.LATENT, "interpolation")
    alpha = np.linspace(1.0, 0.0, steps, dtype=np.float32)  # alpha weights the first endpoint
    z = model.encode(tf.convert_to_tensor(np.stack([a, b]), tf.float32))
    return model.interpolate_latents(tf.repeat(z[:1], steps, axis=0),
                                     tf.repeat(z[1:], steps, axis=0), alpha).numpy()


def pixel_fade(a: np.ndarray, b: np.ndarray, steps: int = 8) -> np.ndarray:
    """The pixel-space cross-fade baseline from ``a`` to ``b``: ``[steps, H, W, C]``."""
    alpha = np.linspace(1.0, 0.0, steps, dtype=np.float32)[:, None, None, None]
    return alpha * a[None] + (1.0 - alpha) * b[None]


def write_generation(out_dir: str | os.PathLike, seed_images: np.ndarray, images: np.ndarray,
                     grid_columns: int = 16, overwrite: bool = False) -> Path:
    """``out_dir/00000.png``... one file per generated image, and ``grid.png`` with seeds on top.

    A non-empty ``out_dir`` is refused unless ``overwrite``; then only the files an earlier
    generation recorded are removed (:func:`prepare_out`), so no older image stays beside the new
    ones and no file of the user's is lost.
    """
    return write_generation_chunks(out_dir, seed_images, [images], len(images), grid_columns,
                                   overwrite)


def write_generation_chunks(out_dir: str | os.PathLike, seed_images: np.ndarray,
                            chunks: Iterable[np.ndarray], num: int, grid_columns: int = 16,
                            overwrite: bool = False) -> Path:
    """:func:`write_generation` of ``num`` images that arrive in ``chunks`` (e.g.
    :func:`generate_chunks`): each chunk is written before the next is made, and only the
    grid's first rows are kept, so memory does not grow with ``num``."""
    names, out_dir = generated_names(num), Path(out_dir)
    chunks = iter(chunks)
    first = next(chunks, None)  # a generation that fails, fails before OUT is touched
    fresh = not out_dir.exists()  # made here: removed again if the writing fails
    was_empty = fresh or not any(out_dir.iterdir())
    try:
        out_dir = prepare_out(out_dir, overwrite, names)
        shown, written = [], 0
        for images in _chain(first, chunks):
            save_pngs([out_dir / name for name in names[written:written + len(images)]], images)
            if written < grid_columns * 8:  # a copy: a view would keep the whole chunk alive
                shown.append(images[:grid_columns * 8 - written].copy())
            written += len(images)
        shown = np.concatenate(shown) if shown else seed_images[:0]
        rows = [seed_images[:grid_columns]] * bool(len(seed_images)) + [
            shown[i:i + grid_columns] for i in range(0, len(shown), grid_columns)]
        return save_grid(out_dir / "grid.png", rows)
    except BaseException:
        if was_empty:  # as it was found: empty (or absent); nothing of the user's was there
            undo_out(out_dir, [*names, MANIFEST], fresh)
        raise


def _chain(first: np.ndarray | None, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    if first is not None:
        yield first
    yield from rest


def reconstruct(model: keras.Model, images: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """Each image encoded and decoded (the AE family, the VAE's posterior mean) or inverted and
    regenerated (wgan-gp: inversion network + refinement): ``[N, H, W, C]``."""
    if not model.reconstructs():
        raise RunError(f"model {model.name} can neither encode nor invert images (its "
                       f"capabilities: {', '.join(sorted(model.capabilities)) or 'none'})")
    images = np.asarray(images, np.float32)
    parts = [model(tf.convert_to_tensor(images[i:i + batch_size]), training=False).numpy()
             for i in range(0, len(images), batch_size)]
    return np.concatenate(parts) if parts else images[:0]


def write_reconstructions(out_dir: str | os.PathLike, images: np.ndarray, recon: np.ndarray,
                          grid_columns: int = 16, overwrite: bool = False) -> Path:
    """``out_dir/NNNNN.png`` per reconstruction (the inputs' sorted order) and ``grid.png``
    with input rows and reconstruction rows alternating; a non-empty folder needs ``overwrite``
    (which replaces only what an earlier generation recorded: :func:`prepare_out`)."""
    names = generated_names(len(recon))
    out_dir = prepare_out(out_dir, overwrite, names)
    save_pngs([out_dir / name for name in names[:-1]], recon)
    rows = []
    for i in range(0, min(len(images), grid_columns * 8), grid_columns):
        rows += [images[i:i + grid_columns], recon[i:i + grid_columns]]
    return save_grid(out_dir / "grid.png", rows)
