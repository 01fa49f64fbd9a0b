"""Few-shot generation and interpolation from a trained run.

Few-shot generation (the product's main job) is the model's ``fewshot`` capability: for the AE
family, encode K seed images of a class the model never saw, pick random pairs of seeds and an
alpha per pair (mean of two uniforms, biased to the midpoint as in training), slerp between the
pair's L2-normalised latents and decode.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
import yaml

from augintae_tf import checkpoints
from augintae_tf.config import Config, from_dict, validate
from augintae_tf.errors import RunError
from augintae_tf.images import save_grid, save_png


def _require(model: keras.Model, capability: str, what: str) -> None:
    if not model.has(capability):
        raise RunError(f"model {model.name} cannot do {what} (its capabilities: "
                       f"{', '.join(sorted(model.capabilities)) or 'none'})")


def generate(model: keras.Model, seed_images: np.ndarray, num: int = 64, seed: int = 0,
             batch_size: int = 256) -> np.ndarray:
    """``num`` new images from ``seed_images`` ``[K, H, W, C]`` (K >= 2) by the model's ``fewshot``
    (the AE family: slerps between random seed pairs at random alphas, drawn by the one sampler
    :func:`~augintae_tf.latent.sample_seed_pairs`, so the exported ``generate`` with the same seed
    returns the same images).  Deterministic for a given ``seed``."""
    _require(model, "fewshot", "few-shot generation")
    if len(seed_images) < 2:
        raise RunError(f"few-shot generation needs at least 2 seed images, got {len(seed_images)}")
    images = model.fewshot(tf.convert_to_tensor(seed_images, tf.float32), int(num), int(seed),
                           batch_size=batch_size)
    return images.numpy()


def interpolation_path(model: keras.Model, a: np.ndarray, b: np.ndarray, steps: int = 8
                       ) -> np.ndarray:
    """The model's slerp path from image ``a`` (first) to ``b`` (last): ``[steps, H, W, C]``."""
    _require(model, "latent", "interpolation")
    alpha = np.linspace(1.0, 0.0, steps, dtype=np.float32)  # alpha weights the first endpoint
    z = model.encode(tf.convert_to_tensor(np.stack([a, b]), tf.float32))
    return model.interpolate_latents(tf.repeat(z[:1], steps, axis=0),
                                     tf.repeat(z[1:], steps, axis=0), alpha).numpy()


def pixel_fade(a: np.ndarray, b: np.ndarray, steps: int = 8) -> np.ndarray:
    """The pixel-space cross-fade baseline from ``a`` to ``b``: ``[steps, H, W, C]``."""
    alpha = np.linspace(1.0, 0.0, steps, dtype=np.float32)[:, None, None, None]
    return alpha * a[None] + (1.0 - alpha) * b[None]


@dataclass
class Run:
    """A trained run loaded for inference: its config, directory and model (weights restored)."""

    directory: Path
    config: Config
    model: keras.Model
    checkpoint: Path

    def generate(self, seed_images: np.ndarray, num: int = 64, seed: int = 0) -> np.ndarray:
        return generate(self.model, _check_images(seed_images, self.config, "seed images"), num, seed)

    def interpolate(self, a: np.ndarray, b: np.ndarray, steps: int = 8) -> np.ndarray:
        a, b = _check_images(np.stack([a, b]), self.config, "interpolation endpoints")
        return interpolation_path(self.model, a, b, steps)

    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        return self.model(_check_images(images, self.config, "images"), training=False).numpy()


def _check_images(images: np.ndarray, cfg: Config, what: str) -> np.ndarray:
    images = np.asarray(images, np.float32)
    expected = (cfg.data.image_size, cfg.data.image_size, cfg.data.channels)
    if images.ndim != 4 or images.shape[1:] != expected:
        raise RunError(f"{what} must have shape [N, {', '.join(map(str, expected))}] for this run, "
                       f"got {list(images.shape)}")
    return images


def read_run_config(run_dir: str | os.PathLike) -> Config:
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise RunError(f"{run_dir} is not a run directory: {path} is missing "
                       "(pass the directory `augintae-tf train` wrote, e.g. runs/00000-glyphs-augintae)")
    return validate(from_dict(yaml.safe_load(path.read_text()) or {}, origin=str(path)))


def load_run(run_dir: str | os.PathLike, checkpoint: str | os.PathLike | None = None) -> Run:
    """Load a run directory (latest checkpoint unless ``checkpoint`` is given) for inference."""
    from augintae_tf.models import build_model

    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    ckpt = Path(checkpoint) if checkpoint else checkpoints.latest_checkpoint(run_dir / "checkpoints")
    if ckpt is None or not ckpt.is_dir():
        where = checkpoint or run_dir / "checkpoints"
        raise RunError(f"no checkpoint found at {where}; train the run first "
                       "(or finish it with `augintae-tf train --resume --run-dir RUN`)")
    model = build_model(cfg)
    model(tf.zeros([1, cfg.data.image_size, cfg.data.image_size, cfg.data.channels]))
    checkpoints.restore(ckpt, model, with_optimizers=False)
    return Run(run_dir, cfg, model, ckpt)


def write_generation(out_dir: str | os.PathLike, seed_images: np.ndarray, images: np.ndarray,
                     grid_columns: int = 16) -> Path:
    """``out_dir/00000.png``... one file per generated image, and ``grid.png`` with seeds on top."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        save_png(out_dir / f"{i:05d}.png", image)
    shown = images[: grid_columns * 8]
    rows = [seed_images[:grid_columns]] + [shown[i:i + grid_columns]
                                           for i in range(0, len(shown), grid_columns)]
    return save_grid(out_dir / "grid.png", rows)


def export_class_images(out_dir: str | os.PathLike, images: np.ndarray, labels: np.ndarray,
                        num: int, label: int | None = None) -> tuple[int, list[Path]]:
    """Write ``num`` images of class ``label`` (default: the first class that has ``num``) as PNGs."""
    counts = np.bincount(labels[labels >= 0]) if len(labels) else np.zeros(0, int)
    if label is None:
        enough = np.flatnonzero(counts >= num)
        if not len(enough):
            raise RunError(f"no class has {num} images (largest: {counts.max(initial=0)}); lower --num")
        label = int(enough[0])
    chosen = np.flatnonzero(labels == label)[:num]
    if len(chosen) < num:
        raise RunError(f"class {label} has {len(chosen)} images, fewer than --num {num}")
    out_dir = Path(out_dir)
    return label, [save_png(out_dir / f"seed-{i:02d}.png", images[j]) for i, j in enumerate(chosen)]
