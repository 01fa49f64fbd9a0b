"""An adversarial refiner for warped images: does looking more real make them teach more?

SimGAN (Shrivastava et al., "Learning from Simulated and Unsupervised Images through Adversarial
Training", CVPR 2017) makes synthetic images look real without changing what they show: a refiner
``R`` is trained against a discriminator of local patches, with an L1 term that keeps ``R(x)``
near ``x``.  Here the synthetic images are labelled training images under the flow bank's fields
(what the ``train-flow`` rows do to the seeds), the real ones other training images:

* ``R(x) = x + r(x)``: four 3 x 3 convolutions of :data:`WIDTH` channels (ReLU), then one 3 x 3
  convolution initialised to zero, so ``R`` starts as the identity.  Its receptive field is 11 px:
  it can redraw a stroke's edge, not a digit's shape.
* ``D``: three 3 x 3 convolutions (strides 2, 2, 1; LeakyReLU 0.2) and a 1 x 1 one: a logit per
  patch of 15 px, so it judges strokes and texture rather than which class a whole image shows.
* Losses (binary cross-entropy on every patch):
  ``L_D = BCE(D(real), 1) + BCE(D(R(x)), 0)`` and
  ``L_R = BCE(D(R(x)), 1) + lam * H * mean |R(x) - x|`` (SimGAN's self-regularisation; ``H``,
  the image height, turns the per-pixel mean into the sum over one row's worth of pixels).
* Adam (2e-4, beta1 0.5), batch 64, :data:`STEPS` steps, one R and one D update per step; the
  batches drawn by stateless RNG from ``seed``.

Rows refined this way (``seed_warps.py``'s ``... +refiner`` rows) are the same images, made to
look real locally; comparing them with the unrefined rows separates how real the images look from
how they vary.
"""
from __future__ import annotations

import numpy as np

import augintae_tf  # noqa: F401  before TensorFlow loads: it picks the CPU's oneDNN kernels
import keras
import tensorflow as tf

from augintae_tf.models.deform import warp

WIDTH, STEPS, BATCH, LR = 32, 2000, 64, 2e-4


def _refiner(shape, width: int) -> keras.Model:
    x = keras.Input(shape)
    h = x
    for _ in range(4):
        h = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(h)
    r = keras.layers.Conv2D(shape[-1], 3, padding="same", kernel_initializer="zeros")(h)
    return keras.Model(x, keras.layers.Add()([x, r]), name="refiner")


def _discriminator(shape, width: int) -> keras.Model:
    x = keras.Input(shape)
    h = x
    for i, stride in enumerate((2, 2, 1)):
        h = keras.layers.Conv2D(width * (i + 1), 3, strides=stride, padding="same")(h)
        h = keras.layers.LeakyReLU(0.2)(h)
    return keras.Model(x, keras.layers.Conv2D(1, 1)(h), name="patch_discriminator")


def train_refiner(images, fields, steps: int = STEPS, lam: float = 1.0, seed: int = 0,
                  width: int = WIDTH, echo=None) -> keras.Model:
    """``R`` (module doc), trained on ``images`` ``[N, H, W, C]`` in [0, 1] under ``fields``
    ``[P, H, W, 2]`` (synthetic) against other ``images`` (real)."""
    keras.utils.set_random_seed(seed)
    images = tf.constant(np.asarray(images, np.float32))
    fields = tf.constant(np.asarray(fields, np.float32))
    shape = tuple(images.shape[1:])
    refiner, disc = _refiner(shape, width), _discriminator(shape, width)
    r_opt, d_opt = keras.optimizers.Adam(LR, 0.5), keras.optimizers.Adam(LR, 0.5)
    r_opt.build(refiner.trainable_variables)
    d_opt.build(disc.trainable_variables)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    n, p = images.shape[0], fields.shape[0]

    @tf.function(jit_compile=True)
    def step(key):
        draw = [tf.random.stateless_uniform([BATCH], key + k, 0, m, tf.int32)
                for k, m in ((0, n), (1, n), (2, p))]
        synthetic = tf.clip_by_value(warp(tf.gather(images, draw[0]), tf.gather(fields, draw[2])),
                                     0.0, 1.0)
        real = tf.gather(images, draw[1])
        with tf.GradientTape() as r_tape, tf.GradientTape() as d_tape:
            out = refiner(synthetic, training=True)
            on_real, on_out = disc(real, training=True), disc(out, training=True)
            d_loss = bce(tf.ones_like(on_real), on_real) + bce(tf.zeros_like(on_out), on_out)
            l1 = tf.reduce_mean(tf.abs(out - synthetic))
            r_loss = bce(tf.ones_like(on_out), on_out) + lam * shape[0] * l1
        r_opt.apply_gradients(zip(r_tape.gradient(r_loss, refiner.trainable_variables),
                                  refiner.trainable_variables))
        d_opt.apply_gradients(zip(d_tape.gradient(d_loss, disc.trainable_variables),
                                  disc.trainable_variables))
        return d_loss, r_loss, l1

    for i in range(steps):
        d_loss, r_loss, l1 = step(tf.constant([seed, 3 * i], tf.int32))
        if echo and (i % 500 == 0 or i == steps - 1):
            echo(f"refiner step {i}: D {float(d_loss):.3f}  R {float(r_loss):.3f}  "
                 f"mean |R(x) - x| {float(l1):.4f}")
    return refiner


def refined(generate, refiner: keras.Model):
    """Generator: ``generate``'s images through ``refiner``, clipped to [0, 1]."""
    def generate_refined(seeds, count: int, seed: int) -> np.ndarray:
        made = np.clip(np.asarray(generate(seeds, count, seed), np.float32), 0.0, 1.0)
        return np.clip(refiner.predict(made, batch_size=256, verbose=0), 0.0, 1.0)

    return generate_refined
