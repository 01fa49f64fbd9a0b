"""The autoencoders' pixel losses (``model.pixel_loss``), float32 whatever the compute precision."""
from __future__ import annotations

import tensorflow as tf


def pixel_mse(prediction, target) -> tf.Tensor:
    """Mean squared error per pixel, in float32 whatever the compute precision."""
    return tf.reduce_mean(tf.square(tf.cast(prediction, tf.float32) - tf.cast(target, tf.float32)))


BCE_EPSILON = 1e-7  # Keras' epsilon: predictions are clipped to [eps, 1 - eps] for bce


def pixel_bce(prediction, target) -> tf.Tensor:
    """Mean Bernoulli cross-entropy per pixel, float32:
    ``-mean(y log p + (1 - y) log(1 - p))`` with ``p`` clipped to ``[1e-7, 1 - 1e-7]``.

    Computed from the clipped probabilities, not from logits: every generator ends in a float32
    sigmoid layer that generation, evaluation and export share, and the logits Keras attaches to a
    sigmoid's output (``_keras_logits``) do not survive a Functional model's output.  The clip only
    bites on pixels already saturated within 1e-7 of 0 or 1, where the sigmoid's gradient is ~0
    anyway.  Targets may be soft (a blended target): the minimum is then the target's entropy,
    not 0."""
    p = tf.clip_by_value(tf.cast(prediction, tf.float32), BCE_EPSILON, 1.0 - BCE_EPSILON)
    y = tf.cast(target, tf.float32)
    return -tf.reduce_mean(y * tf.math.log(p) + (1.0 - y) * tf.math.log(1.0 - p))


def pixel_loss(prediction, target, kind: str = "l2") -> tf.Tensor:
    """The training pixel loss ``model.pixel_loss``, float32: ``l2`` = mean (x - y)^2 (the
    paper's), ``l1`` = mean |x - y| (a median, not a mean, of plausible pixels: less blur),
    ``l1+l2`` = their sum, ``bce`` = Bernoulli cross-entropy (:func:`pixel_bce`; for near-binary
    images such as glyphs, whose pixels it models as coin flips instead of Gaussian values)."""
    if kind == "l2":
        return pixel_mse(prediction, target)
    if kind == "bce":
        return pixel_bce(prediction, target)
    l1 = tf.reduce_mean(tf.abs(tf.cast(prediction, tf.float32) - tf.cast(target, tf.float32)))
    if kind == "l1":
        return l1
    if kind == "l1+l2":
        return l1 + pixel_mse(prediction, target)
    raise ValueError(f"pixel loss must be l2, l1, l1+l2 or bce, got {kind!r}")
