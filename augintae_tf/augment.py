"""Batched, per-example random augmentation: affine warp plus colour jitter, XLA-compilable.

AugIntAE draws two independent augmentations of every training image inside the train step, so
this runs on the accelerator under ``jit_compile=True``.  ``ImageProjectiveTransformV3`` (and every
Keras layer built on it) has no XLA kernel, so the bilinear warp is written with plain gathers and
arithmetic; it reproduces that op (BILINEAR, fill value 0) to float rounding, which the tests check
(bit-exact with TF kernels on CPU, within ~2e-7 under XLA).

Conventions (pixel coordinates, x = column, y = row, pixel centres at integers as in TF's op):
- positive rotation turns the content counter-clockwise as displayed (y axis pointing down);
- positive ``tx`` moves content right, positive ``ty`` moves it down;
- positive shear slants the content as ``x += tan(shear) * y`` (about the centre);
- scale > 1 enlarges the content; all of it happens about the image centre ((W-1)/2, (H-1)/2).

Randomness is stateless: the same ``seed`` (shape [2]) gives the same augmentation, so callers fold
step and replica ids into it (XLA and TF kernels draw different streams: see :func:`sample_params`).
Images are floats in [0, 1], channels last.

:func:`interpolation_batch` is AugIntAE's training data: two views ``T(x; rho1)``,
``T(x; rho2)``, the weight alpha, and the target ``T(x; alpha * rho1 + (1 - alpha) * rho2)``
(or the pixel blend of the views, the student report's reading); :func:`sample_params` and
:func:`apply_params` split :func:`augment` so that parameters can be drawn once and reused.
"""
from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from augintae_tf.config.choices import FILL_MODES, TARGETS
from augintae_tf.config.schema import AugmentConfig
from augintae_tf.latent import sample_alpha

PARAM_NAMES = ("rotation", "tx", "ty", "scale", "shear",
               "brightness", "contrast", "saturation", "hue")
_GEOMETRIC = ("rotation", "tx", "ty", "scale", "shear")
_COLOUR = ("brightness", "contrast", "saturation", "hue")


def _ranges(cfg: AugmentConfig) -> dict[str, tuple[float, float]]:
    """Each parameter's sampling interval, in the units of :func:`sample_params`."""
    rot, shear = math.radians(cfg.rotation), math.radians(cfg.shear)
    t = float(cfg.translation)
    return {
        "rotation": (-rot, rot), "tx": (-t, t), "ty": (-t, t),
        "scale": (float(cfg.scale_min), float(cfg.scale_max)), "shear": (-shear, shear),
        "brightness": (1.0 - cfg.brightness, 1.0 + cfg.brightness),
        "contrast": (1.0 - cfg.contrast, 1.0 + cfg.contrast),
        "saturation": (1.0 - cfg.saturation, 1.0 + cfg.saturation),
        "hue": (-float(cfg.hue), float(cfg.hue)),
    }


def _enabled(cfg: AugmentConfig) -> set[str]:
    """Names of the parameters whose range is not a single identity value."""
    return {name for name, (lo, hi) in _ranges(cfg).items()
            if lo != hi or (name == "scale" and lo != 1.0)}


def is_identity(cfg: AugmentConfig) -> bool:
    """True when every range is zero (scale fixed at 1): :func:`augment` then returns its input."""
    return not _enabled(cfg)


def sample_params(seed, batch_size, cfg: AugmentConfig) -> dict[str, tf.Tensor]:
    """Per-example parameters, each ``[B]`` float32.

    ``rotation`` and ``shear`` in radians, ``tx``/``ty`` in pixels, ``scale`` isotropic;
    ``brightness``/``contrast``/``saturation`` are multiplicative factors, ``hue`` a shift as a
    fraction of the hue circle.  A zero range yields the identity value exactly.
    """
    ranges = _ranges(cfg)
    # One draw for all parameters: a single RNG op, and every example gets its own row.  Philox is
    # named so the stream cannot change with the device; XLA's Philox still draws a different
    # stream from TF's own kernel, so a seed reproduces an augmentation within one mode only.
    u = tf.random.stateless_uniform(tf.stack([batch_size, len(PARAM_NAMES)]), seed=seed,
                                    dtype=tf.float32, alg="philox")
    lo = tf.constant([ranges[n][0] for n in PARAM_NAMES], tf.float32)
    hi = tf.constant([ranges[n][1] for n in PARAM_NAMES], tf.float32)
    values = lo + (hi - lo) * u
    return {name: values[:, i] for i, name in enumerate(PARAM_NAMES)}


def affine_transforms(params, image_size: int) -> tf.Tensor:
    """``[B, 8]`` transforms in TF's projective convention: each maps an OUTPUT pixel to the INPUT
    pixel it samples, i.e. the inverse of the forward augmentation
    ``p_out = s * R(rotation) @ Shear(shear) @ (p_in - c) + c + t``.
    """
    rot, shear, scale = params["rotation"], params["shear"], params["scale"]
    tx, ty = params["tx"], params["ty"]
    cos, sin, k = tf.cos(rot), tf.sin(rot), tf.tan(shear)
    # Forward R (counter-clockwise on screen, y down) is [[cos, sin], [-sin, cos]] and Shear is
    # [[1, k], [0, 1]]; their inverses multiplied in reverse order, divided by the scale:
    a0, a1 = (cos - k * sin) / scale, (-sin - k * cos) / scale
    b0, b1 = sin / scale, cos / scale
    c = (image_size - 1) / 2.0
    # p_in = M^-1 (p_out - c - t) + c
    a2 = c - a0 * (c + tx) - a1 * (c + ty)
    b2 = c - b0 * (c + tx) - b1 * (c + ty)
    zeros = tf.zeros_like(a0)
    return tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


def _reflect(coord: tf.Tensor, size: int) -> tf.Tensor:
    """Symmetric reflection (d c b a | a b c d | d c b a) exactly as TF's REFLECT fill computes it.

    The branch structure and operation order copy TF's MapCoordinate<FILL_REFLECT> so that the
    float rounding, not just the maths, agrees with the raw op.
    """
    if size <= 1:
        return tf.zeros_like(coord)
    sz2 = 2.0 * size
    neg = sz2 * tf.floor(-coord / sz2) + coord  # floor == truncation here: -coord / sz2 > 0
    neg = tf.where(neg < -size, neg + sz2, -neg - 1.0)
    pos = coord - sz2 * tf.floor(coord / sz2)  # only used where coord > size - 1 >= 0
    pos = tf.where(pos >= size, sz2 - pos - 1.0, pos)
    out = tf.where(coord < 0.0, neg, tf.where(coord > size - 1.0, pos, coord))
    # The clamp matters for (-1, 0) and (size - 1, size): both reflect onto the edge pixel.
    return tf.clip_by_value(out, 0.0, size - 1.0)


def warp(images, transforms, fill: str = "constant") -> tf.Tensor:
    """Bilinear projective warp, equal to ``ImageProjectiveTransformV3`` (BILINEAR, fill value 0).

    ``images`` ``[B, H, W, C]`` with static H, W, C; ``transforms`` ``[B, 8]`` (output -> input).
    ``fill``: "constant" samples zeros outside the image, "reflect" mirrors it symmetrically.
    """
    if fill not in FILL_MODES:
        raise ValueError(f"fill {fill!r} is not allowed; expected one of {', '.join(FILL_MODES)}")
    images = tf.convert_to_tensor(images)
    _, h, w, c = images.shape
    if None in (h, w, c):
        raise ValueError(f"warp needs static height, width and channels; got {images.shape}")
    dtype = images.dtype
    x = tf.cast(images, tf.float32)
    t = tf.cast(transforms, tf.float32)[:, :, None, None]  # [B, 8, 1, 1] against the [H, W] grid
    xs = tf.range(w, dtype=tf.float32)[None, :]
    ys = tf.range(h, dtype=tf.float32)[:, None]
    # Same expressions and order as the raw op, so coordinates agree to the last bit on CPU.
    projection = t[:, 6] * xs + t[:, 7] * ys + 1.0
    outside = tf.equal(projection, 0.0)  # a point at infinity samples the fill value, as in TF
    projection = tf.where(outside, tf.ones_like(projection), projection)
    in_x = (t[:, 0] * xs + t[:, 1] * ys + t[:, 2]) / projection
    in_y = (t[:, 3] * xs + t[:, 4] * ys + t[:, 5]) / projection
    if fill == "reflect":
        in_x, in_y = _reflect(in_x, w), _reflect(in_y, h)
    else:
        # Beyond one pixel outside, every neighbour reads the fill value anyway; clamping keeps the
        # float -> int cast below in range for wild transforms.
        in_x = tf.clip_by_value(in_x, -2.0, w + 1.0)
        in_y = tf.clip_by_value(in_y, -2.0, h + 1.0)
    x0, y0 = tf.floor(in_x), tf.floor(in_y)
    x1, y1 = x0 + 1.0, y0 + 1.0
    flat = tf.reshape(x, [-1, c])
    base = tf.range(tf.shape(x)[0])[:, None, None] * (h * w)  # first pixel of each example

    def read(xf, yf):
        """Pixels at integer coordinates [B, H, W] -> [B, H, W, C]; the fill value (0) outside."""
        xi, yi = tf.cast(xf, tf.int32), tf.cast(yf, tf.int32)
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h) & ~outside
        index = base + tf.clip_by_value(yi, 0, h - 1) * w + tf.clip_by_value(xi, 0, w - 1)
        return tf.gather(flat, index) * tf.cast(inside, tf.float32)[..., None]

    # Four plain gathers beat one stacked gather on CPU kernels, and XLA fuses either; the
    # weighting copies the raw op's expression order.
    wx0, wx1 = (x1 - in_x)[..., None], (in_x - x0)[..., None]
    top = wx0 * read(x0, y0) + wx1 * read(x1, y0)
    bottom = wx0 * read(x0, y1) + wx1 * read(x1, y1)
    out = (y1 - in_y)[..., None] * top + (in_y - y0)[..., None] * bottom
    return tf.cast(out, dtype)


def compiled_warp(images, transforms, fill: str = "constant") -> tf.Tensor:
    """:func:`warp` as XLA clusters inside a graph that is not XLA-compiled as a whole.

    Without XLA the warp is ~60 small kernels (four gathers, their bounds masks, the bilinear
    arithmetic), each a full pass over the batch plus an executor dispatch; XLA fuses them into
    a few loops.  The train steps use this (``compiled=True`` below): on CPU it is the cheap part
    of what XLA brings to a whole step, without the whole step's slower bf16 matmuls and long
    compile (``benchmarks/RESULTS.md``, XLA on CPU).  ``jit_scope`` marks the ops for XLA's
    clustering pass rather than calling a ``jit_compile`` function: such a call made Grappler's
    remapper fail on the rest of the step (a logged error, and its fusions lost).  Eagerly (no
    graph to cluster) this is :func:`warp`.  Same coordinates; values within float rounding.
    """
    if tf.executing_eagerly():
        return warp(images, transforms, fill)
    with tf.xla.experimental.jit_scope(compile_ops=True, separate_compiled_gradients=False):
        return warp(images, transforms, fill)


def color_jitter(images, params) -> tf.Tensor:
    """Per-example brightness, contrast, saturation and hue for RGB images; result in [0, 1].

    Each stage runs only if its key is in ``params`` (``augment`` drops disabled ones).  Brightness
    multiplies; contrast, saturation and hue follow ``tf.image.adjust_contrast``,
    ``adjust_saturation`` and ``adjust_hue`` but with one factor per example.  Images whose channel
    count is not 3 are returned unchanged: colour jitter has no meaning for grey glyphs.
    """
    images = tf.convert_to_tensor(images)
    if images.shape[-1] != 3:
        return images
    dtype = images.dtype
    x = tf.cast(images, tf.float32)

    def per_example(name):
        return tf.reshape(tf.cast(params[name], tf.float32), [-1, 1, 1, 1])

    if "brightness" in params:
        x = x * per_example("brightness")
    if "contrast" in params:
        mean = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
        x = (x - mean) * per_example("contrast") + mean
    if "saturation" in params or "hue" in params:
        # HSV assumes valid colours: out-of-range values would give meaningless hue/saturation.
        x = tf.clip_by_value(x, 0.0, 1.0)
        hue, sat, val = tf.unstack(tf.image.rgb_to_hsv(x), axis=-1)
        if "hue" in params:
            hue = tf.math.floormod(hue + per_example("hue")[..., 0], 1.0)
        if "saturation" in params:
            sat = tf.clip_by_value(sat * per_example("saturation")[..., 0], 0.0, 1.0)
        x = tf.image.hsv_to_rgb(tf.stack([hue, sat, val], axis=-1))
    return tf.cast(tf.clip_by_value(x, 0.0, 1.0), dtype)


def apply_params(images, params, cfg: AugmentConfig, compiled: bool = False) -> tf.Tensor:
    """``T(x; params)``: warp then colour jitter ``[B, H, W, C]`` images in [0, 1] with the given
    per-example parameters (``[B]`` each, as :func:`sample_params` returns them); same shape and
    dtype.  Stages whose ranges are all zero in ``cfg`` are left out of the graph (an identity
    config returns ``images`` itself), so what runs does not depend on the parameters' values.
    ``compiled``: warp with :func:`compiled_warp` (the train steps) rather than :func:`warp`.
    """
    images = tf.convert_to_tensor(images)
    enabled = _enabled(cfg)
    if not enabled:
        return images
    size = images.shape[1]
    if size is None or images.shape[2] != size:
        raise ValueError(f"augment needs square images of static size; got {images.shape}")
    dtype = images.dtype
    x = tf.cast(images, tf.float32)
    if enabled & set(_GEOMETRIC):
        x = (compiled_warp if compiled else warp)(x, affine_transforms(params, size), cfg.fill)
    colour = {name: params[name] for name in _COLOUR if name in enabled}
    if colour:
        x = color_jitter(x, colour)
    # Bilinear weights can sum to 1 + ulp; keep the promised [0, 1] range exactly.
    return tf.cast(tf.clip_by_value(x, 0.0, 1.0), dtype)


def augment(images, cfg: AugmentConfig, seed, compiled: bool = False) -> tf.Tensor:
    """Random per-example augmentation of ``[B, H, W, C]`` images in [0, 1]; same shape and dtype:
    :func:`apply_params` (``compiled`` passes on) with parameters drawn by :func:`sample_params`
    from ``seed``.

    Stages whose ranges are all zero are left out of the graph, so an identity config costs nothing.
    """
    images = tf.convert_to_tensor(images)
    if is_identity(cfg):
        return images
    return apply_params(images, sample_params(seed, tf.shape(images)[0], cfg), cfg, compiled)


def blend(x1, x2, alpha) -> tf.Tensor:
    """The pixel fade ``alpha * x1 + (1 - alpha) * x2`` with alpha ``[B]`` (``model.target:
    blend``, the student report's training target; the default is the interpolated
    augmentation, :func:`interpolation_batch`)."""
    alpha = tf.reshape(tf.cast(alpha, tf.float32), [-1, 1, 1, 1])
    return alpha * x1 + (1.0 - alpha) * x2


def sub_seed(seed, index: int) -> tf.Tensor:
    """An independent stream of a step's ``seed`` for one purpose.

    Indices in use: 0 alpha, 1 and 2 the two augmentations, 3 IntAE's pairing.
    """
    return tf.random.experimental.stateless_fold_in(seed, tf.constant(index, tf.int64))


def interpolate_params(params1, params2, alpha) -> dict[str, tf.Tensor]:
    """``rho_alpha = alpha * rho1 + (1 - alpha) * rho2`` for EVERY parameter (rotation, tx, ty,
    scale, shear, brightness, contrast, saturation, hue), with one alpha ``[B]`` per example:
    alpha = 1 gives ``params1`` exactly and alpha = 0 ``params2`` (``0 * p == 0``)."""
    alpha = tf.cast(alpha, tf.float32)
    return {name: alpha * params1[name] + (1.0 - alpha) * params2[name] for name in params1}


def interpolation_batch(images, cfg: AugmentConfig, seed, target: str = "augmentation",
                        alpha_kind: str = "midpoint", compiled: bool = False
                        ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """``(view1, view2, alpha, target_images)`` of one training step: the one place that samples
    rho1, rho2 and alpha and says what the decoded slerp should look like.

    ``view1 = T(x; rho1)``, ``view2 = T(x; rho2)`` (sub-seeds 1 and 2 of the step ``seed``),
    ``alpha`` ``[B]`` from :func:`~augintae_tf.latent.sample_alpha` (sub-seed 0; ``alpha_kind``
    ``midpoint``, the paper's, or ``uniform``), the weight of
    ``view1`` as in :func:`~augintae_tf.latent.slerp`.  ``target``:

    - ``augmentation`` (the paper's reading: "a novel training procedure based on recovering an
      image from data augmentations"): ``T(x; alpha * rho1 + (1 - alpha) * rho2)``, the same image
      under the interpolated transformation, every parameter interpolated with the latents' alpha;
      always a real-looking image, never a double exposure;
    - ``blend`` (the student report's reading):
      ``alpha * view1 + (1 - alpha) * view2``, the pixel blend of the two views.

    The streams are those of ``augment(images, cfg, sub_seed(seed, 1 | 2))``, so ``blend``
    blends the same two views that :func:`augment` draws for these sub-seeds.  Plain TensorFlow ops, per example: XLA-compilable.
    ``compiled``: the warps run as XLA clusters (:func:`compiled_warp`), as in the train steps.
    """
    if target not in TARGETS:
        raise ValueError(f"target {target!r} is not allowed; expected one of {', '.join(TARGETS)}")
    images = tf.convert_to_tensor(images)
    batch = tf.shape(images)[0]
    alpha = sample_alpha(sub_seed(seed, 0), batch[None], alpha_kind)
    if is_identity(cfg):  # every view and target is the image itself
        return images, images, alpha, images
    params1 = sample_params(sub_seed(seed, 1), batch, cfg)
    params2 = sample_params(sub_seed(seed, 2), batch, cfg)
    view1 = apply_params(images, params1, cfg, compiled)
    view2 = apply_params(images, params2, cfg, compiled)
    if target == "blend":
        return view1, view2, alpha, blend(view1, view2, alpha)
    middle = apply_params(images, interpolate_params(params1, params2, alpha), cfg, compiled)
    return view1, view2, alpha, middle


def preview_rows(images: np.ndarray, cfg: AugmentConfig, copies: int = 7,
                 seed: int = 0) -> list[np.ndarray]:
    """For each image ``[N, H, W, C]`` (floats in [0, 1]) a row ``[original, copy 1..copies]``,
    ready for :func:`augintae_tf.images.save_grid`."""
    images = np.asarray(images, dtype=np.float32)
    repeated = np.repeat(images, copies, axis=0)
    augmented = augment(tf.constant(repeated), cfg, tf.constant([seed, 0], tf.int64)).numpy()
    augmented = augmented.reshape((len(images), copies) + images.shape[1:])
    return [np.concatenate([image[None], row], axis=0) for image, row in zip(images, augmented)]
