"""InfoGAN backbone (Chen et al., 2016) for 28x28 handwritten characters.

Encoder:   conv4x4 s2 64 lReLU - conv4x4 s2 128 BN lReLU - FC 1024 BN lReLU - FC outputs
Generator: FC 1024 BN ReLU - FC (S/4)^2*128 BN ReLU - deconv4x4 s2 64 BN ReLU - deconv4x4 s2 C sigmoid
Any image size divisible by 4 works (the 7x7 bottleneck of 28px scales with the size).
"""
from __future__ import annotations

import keras
from keras import layers

from augintae_tf.nets import blocks

SLOPE = 0.1  # InfoGAN's leaky-ReLU slope


def build_encoder(image_size: int, channels: int, outputs: int, width: float = 1.0,
                  name: str = "encoder", dtype: str = "float32") -> keras.Model:
    blocks.check_size("infogan", image_size)
    inputs = keras.Input((image_size, image_size, channels), name="images")
    # No BN on the input layer (InfoGAN/DCGAN convention: it would normalise away pixel statistics).
    x = blocks.conv(inputs, blocks.scaled(64, width), batch_norm=False, slope=SLOPE, dtype=dtype)
    x = blocks.conv(x, blocks.scaled(128, width), batch_norm=True, slope=SLOPE, dtype=dtype)
    x = layers.Flatten(dtype=dtype)(x)
    x = blocks.dense(x, blocks.scaled(1024, width),
                     layers.LeakyReLU(negative_slope=SLOPE, dtype=dtype), dtype)
    return keras.Model(inputs, blocks.encoder_head(x, outputs, dtype), name=name)


def build_generator(image_size: int, channels: int, latent_dim: int, width: float = 1.0,
                    name: str = "generator", upsampling: str = "transpose",
                    dtype: str = "float32") -> keras.Model:
    side = blocks.check_size("infogan", image_size)
    base = blocks.scaled(128, width)
    inputs = keras.Input((latent_dim,), name="latents")
    x = blocks.dense(inputs, blocks.scaled(1024, width), layers.ReLU(dtype=dtype), dtype)
    x = blocks.dense(x, side * side * base, layers.ReLU(dtype=dtype), dtype)
    x = layers.Reshape((side, side, base), dtype=dtype)(x)
    x = blocks.deconv(x, blocks.scaled(64, width), upsampling, dtype)
    return keras.Model(inputs, blocks.image_head(x, channels, upsampling, dtype), name=name)
