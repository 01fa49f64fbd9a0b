"""DiffAugment (Zhao et al. 2020) as FastGAN uses it: differentiable augmentation of the real and
the generated images before the discriminator, so D cannot memorise a few hundred images.

Each image independently gets each operation with its own probability (FastGAN's section:
translation, cutout, brightness, saturation, contrast 0.6 each; horizontal flip 0.5).
The operations follow the DiffAugment reference code (github:mit-han-lab/data-efficient-gans,
DiffAugment_tf.py), on images in [-1, 1]:

- brightness: ``x + (u - 0.5)``, u ~ U(0, 1) per image;
- saturation: ``(x - m_c) * 2u + m_c`` with ``m_c`` the per-pixel channel mean (grey: no-op);
- contrast: ``(x - m) * (u + 0.5) + m`` with ``m`` the per-image mean;
- translation: an integer shift in [-S/8, S/8] on each axis, zeros shifted in; done with the
  project's bilinear warp (:func:`augintae_tf.augment.warp`, exact for integer shifts);
- cutout: a zeroed square of side S/2 at a uniformly random centre (clipped at the border);
- flip: left-right mirror.

Everything is a function of a stateless seed (one ``stateless_uniform`` draw per batch, a column
per parameter), with ``tf.where`` gates, so it compiles under XLA and gradients flow to the input.
"""
from __future__ import annotations

from typing import Mapping

import tensorflow as tf

from augintae_tf.augment import affine_transforms, warp
from augintae_tf.config.choices import DIFFAUGMENT_OPERATIONS as OPERATIONS
from augintae_tf.models.fastgan.spec import FastGANConfig

DEFAULT_PROBABILITIES = FastGANConfig().diffaugment_probabilities()  # FastGAN's model.p_<op>
# Uniform columns drawn per image: one gate per operation, then the operations' parameters.
_COLUMNS = (*(f"p_{op}" for op in OPERATIONS), "brightness", "saturation", "contrast",
            "tx", "ty", "cx", "cy")


def sample_diffaugment(seed, batch_size, probabilities: Mapping[str, float] = DEFAULT_PROBABILITIES
                       ) -> dict[str, tf.Tensor]:
    """Per-image gates (bool ``[B]``, key = operation) and uniforms (float ``[B]``) for one batch."""
    u = tf.random.stateless_uniform(tf.stack([batch_size, len(_COLUMNS)]), seed=seed,
                                    dtype=tf.float32, alg="philox")
    cols = {name: u[:, i] for i, name in enumerate(_COLUMNS)}
    params = {name: cols[name] for name in _COLUMNS if not name.startswith("p_")}
    for op in OPERATIONS:
        params[f"apply_{op}"] = cols[f"p_{op}"] < float(probabilities.get(op, 0.0))
    return params


def _gate(apply, new, old) -> tf.Tensor:
    return tf.where(tf.reshape(apply, [-1, 1, 1, 1]), new, old)


def _per_image(values) -> tf.Tensor:
    return tf.reshape(values, [-1, 1, 1, 1])


def apply_diffaugment(images, params) -> tf.Tensor:
    """``images`` ``[B, S, S, C]`` in [-1, 1] (static S, C) transformed by :func:`sample_diffaugment`'s
    ``params``; float32, differentiable with respect to ``images``."""
    x = tf.cast(images, tf.float32)
    _, h, w, c = x.shape
    x = _gate(params["apply_flip"], tf.reverse(x, axis=[2]), x)
    x = _gate(params["apply_brightness"], x + _per_image(params["brightness"] - 0.5), x)
    if c > 1:
        mean = tf.reduce_mean(x, axis=3, keepdims=True)
        x = _gate(params["apply_saturation"],
                  (x - mean) * _per_image(params["saturation"] * 2.0) + mean, x)
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    x = _gate(params["apply_contrast"], (x - mean) * _per_image(params["contrast"] + 0.5) + mean, x)
    # Integer shifts in [-S/8, S/8] (DiffAugment's ratio 0.125), round(u * (2r + 1) - 0.5) - r.
    shift = lambda u, size: tf.floor(u * (2 * (size // 8) + 1)) - (size // 8)  # noqa: E731
    zero = tf.zeros_like(params["tx"])
    transforms = affine_transforms({"rotation": zero, "shear": zero, "scale": zero + 1.0,
                                    "tx": shift(params["tx"], w), "ty": shift(params["ty"], h)},
                                   w)
    x = _gate(params["apply_translation"], warp(x, transforms), x)
    # Cutout: a square of side S/2 (ratio 0.5) starting at offset - S/4, offset uniform in
    # [0, S + 1 - (S/2 mod 2)) as in the reference; clipped at the border.
    size_x, size_y = w // 2, h // 2
    x0 = tf.floor(params["cx"] * (w + 1 - size_x % 2))[:, None] - size_x // 2
    y0 = tf.floor(params["cy"] * (h + 1 - size_y % 2))[:, None] - size_y // 2
    xs = tf.range(w, dtype=tf.float32)[None, :]
    ys = tf.range(h, dtype=tf.float32)[None, :]
    in_x = (xs >= x0) & (xs < x0 + size_x)
    in_y = (ys >= y0) & (ys < y0 + size_y)
    hole = tf.logical_and(in_y[:, :, None], in_x[:, None, :])[..., None]  # [B, H, W, 1]
    cut = tf.where(hole, tf.zeros_like(x), x)
    x = _gate(params["apply_cutout"], cut, x)
    return x


def diffaugment(images, seed, probabilities: Mapping[str, float] = DEFAULT_PROBABILITIES
                ) -> tf.Tensor:
    """Augment a batch in [-1, 1] with fresh parameters from ``seed`` (shape [2] int64)."""
    params = sample_diffaugment(seed, tf.shape(images)[0], probabilities)
    return apply_diffaugment(images, params)
