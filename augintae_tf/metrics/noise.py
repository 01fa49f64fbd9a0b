"""Noise-frequency analysis (appendix A.4): how well an autoencoder reconstructs uniform noise.

"We simulate noise frequency by sampling noise at small resolutions and scaling up the resulting
map to the desired image resolution" -- noise of frequency f is U(0, 1) sampled on an f x f grid
(independently per channel) and upscaled by nearest neighbour, so it is made of f x f constant
blocks.  Nearest rather than bilinear because bilinear smoothing would lower the effective
frequency and blur the question the analysis asks (which spatial scales does the network's image
prior let through?); with nearest, frequency f has exactly f distinct blocks per axis, each
``image_size / f`` pixels wide when f divides the size (otherwise widths differ by one pixel).

The curve is the mean squared error per pixel between noise and ``model(noise)``, averaged over
``trials`` images per frequency (the paper: 1,000 trials, f = 1..28 at 28 px); the paper's dotted
reference lines are the reconstruction error of real novel-domain images
(:func:`reconstruction_error`).  A model that ignores its input and outputs zeros scores
E[u^2] = 1/3; the identity scores 0.
"""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

import keras
import numpy as np


def upsample_nearest(low: np.ndarray, image_size: int) -> np.ndarray:
    """``[N, f, f, C] -> [N, S, S, C]``: pixel i takes cell ``floor(i * f / S)`` on each axis."""
    index = (np.arange(image_size) * low.shape[1]) // image_size
    return low[:, index][:, :, index]


def _noise(rng: np.random.Generator, n: int, frequency: int, image_size: int, channels: int) -> np.ndarray:
    return upsample_nearest(rng.random((n, frequency, frequency, channels), dtype=np.float32), image_size)


def _check_frequency(frequency: int, image_size: int) -> None:
    if not 1 <= frequency <= image_size:
        raise ValueError(f"noise frequency must be in [1, image_size={image_size}], got {frequency}")


def frequency_noise(seed: int | Sequence[int], n: int, frequency: int, image_size: int,
                    channels: int) -> np.ndarray:
    """``n`` float32 images ``[n, S, S, C]`` of U(0, 1) noise at ``frequency`` (see module doc).

    Deterministic in ``seed`` (an int or a sequence of ints, as ``np.random.default_rng`` takes).
    """
    _check_frequency(frequency, image_size)
    return _noise(np.random.default_rng(seed), n, frequency, image_size, channels)


def _per_image_mse(model: Callable, images: np.ndarray) -> np.ndarray:
    reconstruction = np.asarray(keras.ops.convert_to_numpy(model(images)), dtype=np.float64)
    if reconstruction.shape != images.shape:
        raise ValueError(f"model returned shape {reconstruction.shape} for inputs of shape {images.shape}")
    return np.mean((reconstruction - images) ** 2, axis=(1, 2, 3))


def reconstruction_error(model: Callable, images, batch_size: int = 256) -> float:
    """Mean squared error per pixel of ``model(images)`` -- e.g. the novel-domain reference lines."""
    images = np.asarray(images, dtype=np.float32)
    errors = [_per_image_mse(model, images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
    return float(np.concatenate(errors).mean())


def noise_reconstruction_curve(model: Callable, image_size: int, channels: int,
                               frequencies: Iterable[int] | None = None, trials: int = 1000,
                               batch_size: int = 250, seed: int = 0,
                               progress: Callable[[float], object] | None = None
                               ) -> dict[int, float]:
    """``{frequency: mean per-pixel squared error of model(noise) vs noise}`` over ``trials`` images.

    ``frequencies`` defaults to 1..image_size as in the paper.  Each frequency draws from its own
    generator seeded by ``(seed, frequency)``, so a frequency's noise does not depend on which other
    frequencies are evaluated, nor on ``batch_size``.  ``progress(share done)`` after each one.
    """
    frequencies = list(range(1, image_size + 1) if frequencies is None else frequencies)
    curve = {}
    for index, frequency in enumerate(frequencies):
        if progress is not None and index:
            progress(index / len(frequencies))
        frequency = int(frequency)
        _check_frequency(frequency, image_size)
        rng = np.random.default_rng([seed, frequency])
        total = 0.0
        for start in range(0, trials, batch_size):
            noise = _noise(rng, min(batch_size, trials - start), frequency, image_size, channels)
            total += float(_per_image_mse(model, noise).sum())
        curve[frequency] = total / trials
    return curve
