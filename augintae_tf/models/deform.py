"""The ``flow`` sampler: a seed moved by a real deformation of a labelled training class (issue 38).

A labelled training class varies the way its writers vary: a stroke slants, a loop opens, a tail
grows.  Dense registration measures that variation as a smooth displacement field between two
images of one class; applied to a novel seed, it moves the seed's own pixels the way one training
image differs from another of its class (DeltaGAN transfers sample-specific deltas; this transfers
deformation fields).  Nothing is decoded, so the output keeps the seed's style on any domain.

- **Warp** (:func:`warp`): ``out(p) = x(p + f(p))``, bilinear, coordinates clamped to the image.
- **Registration** (:func:`register`): a ``GRID x GRID`` lattice ``L`` of (dy, dx) in pixels,
  bilinearly upsampled to the image (:func:`field`), minimising
  ``mean (blur(warp(x_i, f)) - blur(x_j))^2 + SMOOTH * mean |grad L|^2 / (H / GRID)^2``
  by Adam, ``STEPS // 3`` steps at each Gaussian blur of 2, 1 and 0.5 px (coarse to fine, so
  strokes a few pixels apart still attract).  All pairs are fitted at once in one graph.
- **Bank** (:func:`flow_bank`, kept by the latent-stats stage): the lattices of
  :data:`PAIRS` random same-class pairs of the labelled training images (a class drawn uniformly,
  then two distinct members), ``[P, GRID, GRID, 2]``.
- **Sampler** (:func:`flow`): per output ``i``, a random seed ``a_i`` (the one-seed samplers'
  draw, so one seed is enough) and a bank lattice ``L_i`` drawn uniformly (stream ``[seed, 13]``):
  ``warp(x_a, field(scale * L_i))``.  Scale 0 returns the seed; 1 the measured deformations.

Measured with a digits model (benchmarks/RESULTS.md, "The flow sampler"): a 5-shot classifier
gains 0.30 of what the same number of real images gives on the novel digits at scale 1, and
0.26-0.28 on photographs at scale 1.5-2, more than from any other sampler.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from augintae_tf.latent import sample_seed_pairs

GRID, SMOOTH, STEPS, LR, SIGMAS = 6, 0.05, 150, 0.5, (2.0, 1.0, 0.5)
PAIRS = 400  # same-class training pairs in the bank
_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-7  # Adam's defaults (keras.optimizers.Adam)


def warp(images, flow) -> tf.Tensor:
    """``out(p) = images(p + flow(p))``: images ``[B, H, W, C]``, flow ``[B, H, W, 2]`` (dy, dx)
    in pixels; bilinear, coordinates clamped to the image (edge pixels repeat).  The four
    neighbours are gathered from each image's flattened pixels (one batched gather each)."""
    images = tf.convert_to_tensor(images, tf.float32)
    flow = tf.convert_to_tensor(flow, tf.float32)
    shape = tf.shape(images)
    b, h, w = shape[0], shape[1], shape[2]
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    yy, xx = tf.meshgrid(tf.range(hf), tf.range(wf), indexing="ij")
    y = tf.clip_by_value(yy[None] + flow[..., 0], 0.0, hf - 1)
    x = tf.clip_by_value(xx[None] + flow[..., 1], 0.0, wf - 1)
    y0, x0 = tf.floor(y), tf.floor(x)
    wy, wx = (y - y0)[..., None], (x - x0)[..., None]
    y0i, x0i = tf.cast(y0, tf.int32), tf.cast(x0, tf.int32)
    y1i, x1i = tf.minimum(y0i + 1, h - 1), tf.minimum(x0i + 1, w - 1)
    flat = tf.reshape(images, tf.stack([b, h * w, shape[3]]))

    def at(yi, xi):
        index = tf.reshape(yi * w + xi, tf.stack([b, h * w]))
        return tf.reshape(tf.gather(flat, index, batch_dims=1), shape)

    return ((1 - wy) * ((1 - wx) * at(y0i, x0i) + wx * at(y0i, x1i))
            + wy * ((1 - wx) * at(y1i, x0i) + wx * at(y1i, x1i)))


def _upsampling(size, grid) -> tf.Tensor:
    """``[size, grid]``: row ``i`` holds the weights bilinear resizing (half-pixel centres, as
    ``tf.image.resize``) gives the ``grid`` lattice points at output pixel ``i``."""
    basis = tf.eye(grid)[:, :, None, None]  # each lattice point alone, as a grid x 1 image
    return tf.transpose(tf.image.resize(basis, tf.stack([size, 1]), method="bilinear")[:, :, 0, 0])


def field(lattice, size) -> tf.Tensor:
    """The dense field ``[B, H, W, 2]`` of lattices ``[B, G, G, 2]``: bilinear upsampling,
    ``tf.image.resize``'s, written as two small matrix products (cheaper to differentiate)."""
    lattice = tf.convert_to_tensor(lattice, tf.float32)
    grid = tf.shape(lattice)[1]
    rows, cols = _upsampling(size[0], grid), _upsampling(size[1], grid)
    return tf.einsum("yi,xj,bijk->byxk", rows, cols, lattice)


def blur(images, sigma: float) -> tf.Tensor:
    """Separable Gaussian blur (std ``sigma`` px, radius ceil(2.5 sigma)), per channel."""
    images = tf.convert_to_tensor(images, tf.float32)
    radius = int(np.ceil(2.5 * sigma))
    t = np.arange(-radius, radius + 1, dtype=np.float32)
    k = np.exp(-t ** 2 / (2 * sigma ** 2))
    k /= k.sum()
    c = images.shape[-1]
    kx = tf.constant(np.tile(k[None, :, None, None], (1, 1, c, 1)))
    ky = tf.constant(np.tile(k[:, None, None, None], (1, 1, c, 1)))
    out = tf.nn.depthwise_conv2d(images, kx, [1, 1, 1, 1], "SAME")
    return tf.nn.depthwise_conv2d(out, ky, [1, 1, 1, 1], "SAME")


def _roughness(lattice) -> tf.Tensor:
    dy = lattice[:, 1:] - lattice[:, :-1]
    dx = lattice[:, :, 1:] - lattice[:, :, :-1]
    return tf.reduce_mean(tf.square(dy), [1, 2, 3]) + tf.reduce_mean(tf.square(dx), [1, 2, 3])


_SPEC = tf.TensorSpec([None, None, None, None], tf.float32)
_LATTICE = tf.TensorSpec([None, None, None, 2], tf.float32)
_SCALAR = tf.TensorSpec([], tf.float32)


@tf.function(input_signature=[_SPEC, _SPEC, _LATTICE, _LATTICE, _LATTICE, _SCALAR, _SCALAR,
                              _SCALAR, tf.TensorSpec([], tf.int32)], autograph=False,
             jit_compile=True)
def _adam_steps(src, dst, lattice, m, v, t0, lr, penalty, steps):
    """``steps`` Adam steps on :func:`register`'s loss from ``(lattice, m, v)`` at step ``t0``
    (Adam written out, so that every step runs in one graph traced once per process).  XLA fuses
    the loop's gathers and element-wise ops: 400 glyph pairs register in 0.6 s instead of 3.0 s
    on a 2-core AMD EPYC (one compile per shape, about 0.8 s)."""
    size = tf.shape(src)[1:3]

    def body(i, lattice, m, v):
        with tf.GradientTape() as tape:
            tape.watch(lattice)
            err = tf.reduce_mean(tf.square(warp(src, field(lattice, size)) - dst), axis=[1, 2, 3])
            loss = tf.reduce_sum(err + penalty * _roughness(lattice))
        g = tape.gradient(loss, lattice)
        m, v = _BETA1 * m + (1 - _BETA1) * g, _BETA2 * v + (1 - _BETA2) * tf.square(g)
        t = t0 + tf.cast(i + 1, tf.float32)
        rate = lr * tf.sqrt(1 - _BETA2 ** t) / (1 - _BETA1 ** t)
        return i + 1, lattice - rate * m / (tf.sqrt(v) + _EPS), m, v

    return tf.while_loop(lambda i, *_: i < steps, body, (tf.constant(0), lattice, m, v))[1:]


def register(src, dst, grid: int = GRID, steps: int = STEPS, lr: float = LR,
             smooth: float = SMOOTH, sigmas=SIGMAS) -> np.ndarray:
    """Lattices ``[P, grid, grid, 2]`` with ``warp(src, field(L)) ~ dst`` (module doc) for image
    pairs ``src``, ``dst`` ``[P, H, W, C]``: ``steps // len(sigmas)`` Adam steps per blur, the
    moments carried from blur to blur."""
    src, dst = np.asarray(src, np.float32), np.asarray(dst, np.float32)
    per_blur = max(1, steps // len(sigmas))
    penalty = smooth / (src.shape[1] / grid) ** 2
    lattice = tf.zeros([len(src), grid, grid, 2])
    m, v = tf.zeros_like(lattice), tf.zeros_like(lattice)
    for level, sigma in enumerate(sigmas):
        lattice, m, v = _adam_steps(blur(src, sigma), blur(dst, sigma), lattice, m, v,
                                    tf.constant(level * per_blur, tf.float32),
                                    tf.constant(lr, tf.float32),
                                    tf.constant(penalty, tf.float32), tf.constant(per_blur))
    return lattice.numpy()


def same_class_pairs(labels, pairs: int = PAIRS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(src, dst)`` index arrays of ``pairs`` same-class pairs: a class drawn uniformly from those
    with two or more members, then two distinct members (stream ``[seed, 23]``); empty arrays
    when no class has two."""
    labels = np.asarray(labels).reshape(-1)
    classes, counts = np.unique(labels, return_counts=True)
    classes = classes[counts >= 2]
    if len(classes) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rng = np.random.default_rng([seed, 23])
    members = {c: np.flatnonzero(labels == c) for c in classes}
    chosen = [rng.choice(members[c], 2, replace=False) for c in rng.choice(classes, pairs)]
    src, dst = np.asarray(chosen).T
    return src, dst


def flow_bank(images, labels, pairs: int = PAIRS, seed: int = 0) -> np.ndarray | None:
    """The bank (module doc): :func:`register` lattices of :func:`same_class_pairs` of ``images``
    ``[N, H, W, C]``; None when no class has two images."""
    src, dst = same_class_pairs(labels, pairs, seed)
    if len(src) == 0:
        return None
    images = np.asarray(images, np.float32)
    return register(images[src], images[dst]).astype(np.float32)


def flow(model, seed_images, latents, num, seed, scale, batch_size=None) -> tf.Tensor:
    """``warp(x_a, field(scale * L_i))`` (module doc), from the run's bank
    (``model.flow_lattices``: a one-line RunError when the run has none).  ``latents`` and
    ``batch_size`` are unused: nothing is encoded or decoded."""
    bank = tf.constant(model.flow_lattices("flow"), tf.float32)
    images = tf.cast(seed_images, tf.float32)
    num = tf.cast(num, tf.int32)
    first = sample_seed_pairs(tf.shape(images)[0], num, seed, min_seeds=1)[0]
    pick = tf.random.stateless_uniform(tf.reshape(num, [1]),
                                       tf.stack([tf.cast(seed, tf.int64), tf.constant(13, tf.int64)]),
                                       minval=0, maxval=tf.shape(bank)[0], dtype=tf.int32)
    lattices = tf.gather(bank, pick) * tf.cast(scale, tf.float32)
    return tf.clip_by_value(warp(tf.gather(images, first), field(lattices, tf.shape(images)[1:3])),
                            0.0, 1.0)
