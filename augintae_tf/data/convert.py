"""The one conversion every source ends with, so that all datasets look alike to the model.

Every source (TFDS, image folders, glyphs) hands a float image in [0, 1] to :func:`finish`, which
centre-crops it to a square, converts it to the requested number of channels and resizes it with
antialiased bilinear filtering.  Results are stored as uint8: that is what the sources hold
natively, it quarters the memory of the in-memory cache, and :func:`to_float` (applied after
batching) restores float32 in [0, 1].  Seed images for few-shot generation pass through the same
function, so they match the training data pixel for pixel.
"""
from __future__ import annotations

import tensorflow as tf


def center_crop_square(image: tf.Tensor) -> tf.Tensor:
    """Crop ``[..., H, W, C]`` to its central ``min(H, W)`` square (static shapes only).

    A square crop before resizing keeps aspect ratios intact; the centre is where datasets such as
    CelebA (218x178, aligned faces) keep their subject.
    """
    h, w = image.shape[-3], image.shape[-2]
    if h == w:
        return image
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[..., top:top + side, left:left + side, :]


def finish(image: tf.Tensor, image_size: int, channels: int) -> tf.Tensor:
    """Float ``[..., H, W, C]`` in [0, 1] -> uint8 ``[..., image_size, image_size, channels]``.

    Grayscale uses the ITU-R 601 luma weights of ``tf.image.rgb_to_grayscale`` (PIL's "L" mode
    uses the same ones); grayscale to RGB repeats the channel.  Resizing is skipped when the size
    already matches so that native-resolution data passes through bit-exact.
    """
    image = center_crop_square(tf.convert_to_tensor(image, tf.float32))
    if image.shape[-1] == 3 and channels == 1:
        image = tf.image.rgb_to_grayscale(image)
    if image.shape[-3] != image_size:
        image = tf.image.resize(image, [image_size, image_size], method="bilinear", antialias=True)
    if image.shape[-1] == 1 and channels == 3:
        image = tf.image.grayscale_to_rgb(image)
    return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 1.0) * 255.0), tf.uint8)


def to_float(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """uint8 images -> float32 in [0, 1]; labels pass through (a ``Dataset.map`` function)."""
    return tf.cast(images, tf.float32) / 255.0, labels
