"""DAGAN's networks (Antoniou, Storkey and Edwards 2017, arXiv 1711.04340): a U-Net generator
that transforms a seed image, and a critic that judges image pairs.

Our own layers, shaped after the UResNet generator and the critic of the authors' code
(github.com/AntreasAntoniou/DAGAN, ``dagan_architectures.py``), which the paper describes only
in outline ("a U-Net/ResNet combination"):

- **levels**: stride-2 steps from ``S`` down while the side stays even and above 7 (always at
  least 2): 28 -> 14 -> 7, 12 -> 6 -> 3, 64 -> ... -> 4.  Level ``i`` (1-based) has
  ``min(64 * 2^(i-1), 256) * width`` channels (64, 128 on 28x28 as the authors' layer sizes).
- **encoder** (``images [B, S, S, C] -> [e_1, ..., e_L]``): per level, a 3x3 stride-2
  convolution, BN, leaky ReLU (0.2), then a 3x3 stride-1 residual convolution (``e_i = h +
  lrelu(BN(conv(h)))``).  Every level's map is an output: the decoder's skip connections.
- **decoder** (``[images, e_1, ..., e_L, noise] -> images``): from ``e_L`` upwards, per level:
  concatenate the injected noise (below), a 3x3 convolution (BN, leaky ReLU), nearest x2
  upsampling + 3x3 convolution (BN, leaky ReLU), then concatenate the encoder's map of the level
  above (``e_{i-1}``; above level 1 the seed image itself).  At full resolution two more 3x3
  convolutions (BN, leaky ReLU) and a 3x3 convolution to ``C`` channels, sigmoid (images in
  [0, 1]; the authors' tanh on [-1, 1]).
- **noise**: ``z ~ N(0, I)`` of ``noise_dim`` is projected by a dense layer to an
  ``s x s x k`` map at each of the first three decoder stages (``k`` = 8, 8, 4: the authors'
  channel counts) and concatenated there -- the noise enters beside the seed's features, it
  does not replace them.
- **critic** (``[B, S, S, 2C]``: the channel-concatenated pair (seed, judged image) -> ``[B, 1]``):
  per level a 4x4 stride-2 convolution (64, 128, ... channels), layer normalisation over the
  whole map (the authors' critic; no batch statistics, so the gradient penalty stays per pair)
  and leaky ReLU (0.2); a 3x3 stride-1 convolution at the last level; a dense output.
"""
from __future__ import annotations

import keras
from keras import layers

from augintae_tf.nets import blocks

SLOPE = 0.2
NOISE_CHANNELS = (8, 8, 4)  # noise map channels at the first three decoder stages


def level_sides(image_size: int) -> list[int]:
    """The map sides after each stride-2 step (module doc): 28 -> [14, 7]."""
    if image_size < 4 or image_size % 4:
        raise ValueError(f"DAGAN's networks need an image size divisible by 4, got {image_size}")
    sides, side = [], image_size
    while side % 2 == 0 and (side > 7 or len(sides) < 2):
        side //= 2
        sides.append(side)
    return sides


def level_channels(level: int, width: float) -> int:
    return blocks.scaled(min(64 * 2 ** level, 256), width)


def _conv_bn(x, filters: int, strides: int, dtype: str):
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, dtype=dtype)(x)
    x = blocks.batch_normalization(dtype)(x)
    return layers.LeakyReLU(negative_slope=SLOPE, dtype=dtype)(x)


def build_unet_encoder(image_size: int, channels: int, width: float = 1.0,
                       name: str = "encoder", dtype: str = "float32") -> keras.Model:
    """Seed images -> the list of every level's feature map (the skip connections)."""
    images = keras.Input((image_size, image_size, channels), name="images")
    x, features = images, []
    for level, _ in enumerate(level_sides(image_size)):
        filters = level_channels(level, width)
        x = _conv_bn(x, filters, 2, dtype)
        x = layers.Add(dtype=dtype)([x, _conv_bn(x, filters, 1, dtype)])
        features.append(x)
    return keras.Model(images, features, name=name)


def build_unet_decoder(image_size: int, channels: int, noise_dim: int, width: float = 1.0,
                       name: str = "generator", dtype: str = "float32") -> keras.Model:
    """``[seed images, e_1 ... e_L, noise]`` -> images in [0, 1] (float32, sigmoid)."""
    sides = level_sides(image_size)
    images = keras.Input((image_size, image_size, channels), name="images")
    skips = [keras.Input((side, side, level_channels(level, width)), name=f"skip_{level + 1}")
             for level, side in enumerate(sides)]
    noise = keras.Input((noise_dim,), name="noise")
    stage_sides = sides[::-1] + [image_size]  # decoder stages, deepest first
    x = skips[-1]
    for stage, side in enumerate(stage_sides):
        if stage < len(NOISE_CHANNELS):
            k = NOISE_CHANNELS[stage]
            z = layers.Dense(side * side * k, dtype=dtype, name=f"noise_{stage}")(noise)
            x = layers.Concatenate(dtype=dtype)([x, layers.Reshape((side, side, k),
                                                                   dtype=dtype)(z)])
        if side == image_size:
            break
        level = len(sides) - 1 - stage  # 0-based level of this stage's map
        x = _conv_bn(x, level_channels(level, width), 1, dtype)
        x = layers.UpSampling2D(2, interpolation="nearest", dtype=dtype)(x)
        above = level_channels(max(level - 1, 0), width)
        x = _conv_bn(x, above, 1, dtype)
        x = layers.Concatenate(dtype=dtype)([x, skips[level - 1] if level > 0 else images])
    for _ in range(2):
        x = _conv_bn(x, level_channels(0, width), 1, dtype)
    x = layers.Conv2D(channels, 3, padding="same", dtype=dtype)(x)
    out = layers.Activation("sigmoid", dtype="float32", name="image")(x)
    return keras.Model([images, *skips, noise], out, name=name)


def build_pair_critic(image_size: int, channels: int, width: float = 1.0, name: str = "critic",
                      dtype: str = "float32") -> keras.Model:
    """Channel-concatenated pairs ``[B, S, S, 2C]`` -> scores ``[B, 1]`` float32."""
    pairs = keras.Input((image_size, image_size, 2 * channels), name="pairs")
    x = pairs
    for level, _ in enumerate(level_sides(image_size)):
        x = layers.Conv2D(level_channels(level, width), 4, strides=2, padding="same",
                          dtype=dtype)(x)
        if level > 0:  # none on the first layer (DCGAN convention), as in our backbones
            x = layers.LayerNormalization(axis=[1, 2, 3], dtype=dtype)(x)
        x = layers.LeakyReLU(negative_slope=SLOPE, dtype=dtype)(x)
    x = layers.Conv2D(level_channels(len(level_sides(image_size)) - 1, width), 3, padding="same",
                      dtype=dtype)(x)
    x = layers.LayerNormalization(axis=[1, 2, 3], dtype=dtype)(x)
    x = layers.LeakyReLU(negative_slope=SLOPE, dtype=dtype)(x)
    return keras.Model(pairs, blocks.encoder_head(x, 1, dtype), name=name)
