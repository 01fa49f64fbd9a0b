"""Layer blocks shared by the backbones, so InfoGAN and DCGAN differ only in their layer lists.

Every block takes the ``dtype`` (Keras dtype policy name) its layers compute in; the heads keep
float32 whatever it is."""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

from augintae_tf.config.choices import BACKBONE_TABLE, UPSAMPLING

# Keras' default BN momentum (0.99) averages over ~100 steps; 0.9 (PyTorch's default, which the
# paper's networks used) makes inference statistics usable after a few hundred steps of training.
BN_MOMENTUM = 0.9


@keras.saving.register_keras_serializable(package="augintae_tf")
class BatchNormalization(layers.BatchNormalization):
    """Keras' BatchNormalization, trained through TensorFlow's fused kernel (one
    ``FusedBatchNormV3`` op and its gradient, oneDNN's on a CPU, instead of Keras' ~10 element-wise
    ops; measured +6 % images/s on the AugIntAE step).  Same weights, the same moving-statistics
    update (Keras keeps the biased batch variance: the kernel's Bessel-corrected one is scaled
    back by (n-1)/n) and the same inference path; float32 or bfloat16 inputs of rank 2 or 4,
    channels last, outside masks and renorm; anything else takes Keras' own path.  Under
    ``mixed_bfloat16`` the kernel reads and writes bfloat16 and keeps its statistics, scale and
    offset in float32 (``U``), so the step pays no casts around BN: Keras' own path casts each BN
    input to float32 and its output back, ~10 element-wise ops and two casts of every activation
    per layer (``benchmarks/dtype_census.py``).  The class keeps Keras' name:
    Keras keys saved weights by the snake-cased class name, so checkpoints written with Keras'
    layer load into this one and back."""

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable) or mask is not None or self.renorm \
                or inputs.dtype not in (tf.float32, tf.bfloat16) or inputs.shape.rank not in (2, 4) \
                or self.axis not in (-1, inputs.shape.rank - 1) or self.synchronized:
            return super().call(inputs, training=training, mask=mask)
        x = inputs if inputs.shape.rank == 4 else inputs[:, None, None, :]
        channels = inputs.shape[-1]
        empty = tf.constant([], tf.float32)
        # float32 whatever the policy: the kernel's U type (variables may be read autocast)
        scale = tf.cast(self.gamma, tf.float32) if self.scale else tf.ones([channels])
        offset = tf.cast(self.beta, tf.float32) if self.center else tf.zeros([channels])
        y, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=scale, offset=offset, mean=empty,
            variance=empty, epsilon=self.epsilon, exponential_avg_factor=1.0,
            data_format="NHWC", is_training=True)
        n = tf.cast(tf.size(x) // channels, tf.float32)
        variance = variance * (n - 1.0) / tf.maximum(n, 1.0)
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(
            self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return y if inputs.shape.rank == 4 else y[:, 0, 0, :]


def batch_normalization(dtype: str = "float32"):
    """BatchNormalization (fused, :class:`BatchNormalization`), synchronized across
    replicas when built under a multi-replica tf.distribute strategy: per-replica statistics
    would normalise each replica's share of the batch differently from the single-device model,
    and every replica would keep its own moving statistics (measured: 0.13 apart after 4 steps on
    2 replicas), of which a checkpoint saves only replica 0's.  Synchronized, a mirrored run
    matches the single-device run on the global batch (tests/test_distribute.py), at the price of
    one all-reduce per BN layer and step."""
    strategy = tf.distribute.get_strategy()  # the default strategy outside any scope: 1 replica
    return BatchNormalization(momentum=BN_MOMENTUM,
                              synchronized=strategy.num_replicas_in_sync > 1, dtype=dtype)


def scaled(units: int, width: float) -> int:
    """A hidden size multiplied by ``width``, never below 1 (tests build tiny networks)."""
    return max(1, int(round(units * width)))


def check_size(backbone: str, image_size: int) -> int:
    """The side of the smallest feature map: ``image_size`` divided by the backbone's
    ``factor`` (:data:`augintae_tf.config.choices.BACKBONE_TABLE`, 2 ** its stride-2 layers), each
    of which needs an even input."""
    factor = BACKBONE_TABLE[backbone].factor
    if image_size < factor or image_size % factor:
        raise ValueError(f"the {backbone} backbone needs an image size divisible by {factor}, "
                         f"got {image_size}")
    return image_size // factor


def conv(x, filters: int, batch_norm: bool, slope: float, dtype: str = "float32"):
    """4x4 stride-2 convolution, optional BN, leaky ReLU (the encoder/discriminator block)."""
    # A bias is redundant in front of BN (BN's beta replaces it).
    x = layers.Conv2D(filters, 4, strides=2, padding="same", use_bias=not batch_norm,
                      dtype=dtype)(x)
    if batch_norm:
        x = batch_normalization(dtype)(x)
    return layers.LeakyReLU(negative_slope=slope, dtype=dtype)(x)




def upsample(x, filters: int, upsampling: str, use_bias: bool, dtype: str = "float32"):
    """Double the side: a 4x4 stride-2 transposed convolution (the paper's), or ``resize``:
    nearest-neighbour x2, then a 3x3 convolution (no checkerboard from uneven kernel overlap)."""
    if upsampling == "transpose":
        return layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=use_bias,
                                      dtype=dtype)(x)
    if upsampling != "resize":
        raise ValueError(f"upsampling must be one of {', '.join(UPSAMPLING)}, got {upsampling!r}")
    x = layers.UpSampling2D(2, interpolation="nearest", dtype=dtype)(x)
    return layers.Conv2D(filters, 3, padding="same", use_bias=use_bias, dtype=dtype)(x)


def deconv(x, filters: int, upsampling: str = "transpose", dtype: str = "float32"):
    """x2 upsampling (:func:`upsample`), BN, ReLU (the generator block)."""
    x = upsample(x, filters, upsampling, use_bias=False, dtype=dtype)
    x = batch_normalization(dtype)(x)
    return layers.ReLU(dtype=dtype)(x)


def dense(x, units: int, activation, dtype: str = "float32"):
    """Fully connected layer, BN, then the given activation layer."""
    x = layers.Dense(units, use_bias=False, dtype=dtype)(x)
    x = batch_normalization(dtype)(x)
    return activation(x)


def encoder_head(x, outputs: int, dtype: str = "float32"):
    """Flatten to the output units in float32: latents are L2-normalised and discriminator scores
    enter the loss, so neither should be rounded to float16 under mixed precision."""
    x = layers.Flatten(dtype=dtype)(x)
    return layers.Dense(outputs, dtype="float32", name="out")(x)


def image_head(x, channels: int, upsampling: str = "transpose", dtype: str = "float32"):
    """Last x2 upsampling (:func:`upsample`) to ``channels``, sigmoid in float32 (images in
    [0, 1] and a float32 pixel loss whatever the compute precision)."""
    x = upsample(x, channels, upsampling, use_bias=True, dtype=dtype)
    return layers.Activation("sigmoid", dtype="float32", name="image")(x)

