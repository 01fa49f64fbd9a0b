"""DCGAN backbone (Radford et al., 2016) for 64x64 natural images, and its 128x128 variant.

Encoder:   conv4x4 s2 64 lReLU - 128 BN lReLU - 256 BN lReLU - 512 BN lReLU - FC outputs
Generator: FC (S/16)^2*512 BN ReLU - deconv4x4 s2 256, 128, 64 BN ReLU - deconv4x4 s2 C sigmoid
The 128px variant (CelebA in the paper) adds a half-width (32-channel) stride-2 layer at the
bottom of the encoder and at the top of the generator.  The final FC on the 4x4 map is the same
map as DCGAN's 4x4 valid convolution.
"""
from __future__ import annotations

import keras
from keras import layers

from augintae_tf.nets import blocks

SLOPE = 0.2  # DCGAN's leaky-ReLU slope
CHANNELS = (64, 128, 256, 512)  # encoder order; the generator runs it backwards
CHANNELS_128 = (32,) + CHANNELS


def _encoder(backbone: str, channel_list, image_size, channels, outputs, width, name, dtype):
    blocks.check_size(backbone, image_size)
    inputs = keras.Input((image_size, image_size, channels), name="images")
    x = inputs
    for i, filters in enumerate(channel_list):
        # No BN on the input layer (DCGAN convention).
        x = blocks.conv(x, blocks.scaled(filters, width), batch_norm=i > 0, slope=SLOPE,
                        dtype=dtype)
    return keras.Model(inputs, blocks.encoder_head(x, outputs, dtype), name=name)


def _generator(backbone: str, channel_list, image_size, channels, latent_dim, width, name,
               upsampling, dtype):
    side = blocks.check_size(backbone, image_size)
    top, *rest = [blocks.scaled(c, width) for c in reversed(channel_list)]
    inputs = keras.Input((latent_dim,), name="latents")
    x = blocks.dense(inputs, side * side * top, layers.ReLU(dtype=dtype), dtype)
    x = layers.Reshape((side, side, top), dtype=dtype)(x)
    for filters in rest:
        x = blocks.deconv(x, filters, upsampling, dtype)
    return keras.Model(inputs, blocks.image_head(x, channels, upsampling, dtype), name=name)


def build_encoder(image_size: int, channels: int, outputs: int, width: float = 1.0,
                  name: str = "encoder", dtype: str = "float32") -> keras.Model:
    return _encoder("dcgan", CHANNELS, image_size, channels, outputs, width, name, dtype)


def build_generator(image_size: int, channels: int, latent_dim: int, width: float = 1.0,
                    name: str = "generator", upsampling: str = "transpose",
                    dtype: str = "float32") -> keras.Model:
    return _generator("dcgan", CHANNELS, image_size, channels, latent_dim, width, name, upsampling,
                      dtype)


def build_encoder_128(image_size: int, channels: int, outputs: int, width: float = 1.0,
                      name: str = "encoder", dtype: str = "float32") -> keras.Model:
    return _encoder("dcgan128", CHANNELS_128, image_size, channels, outputs, width, name, dtype)


def build_generator_128(image_size: int, channels: int, latent_dim: int, width: float = 1.0,
                        name: str = "generator", upsampling: str = "transpose",
                        dtype: str = "float32") -> keras.Model:
    return _generator("dcgan128", CHANNELS_128, image_size, channels, latent_dim, width, name,
                      upsampling, dtype)
