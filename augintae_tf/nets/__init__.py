"""Backbones: encoders (also discriminators, with ``outputs=1``) and sigmoid-ended generators.

The paper (appendix A.1) uses InfoGAN networks for 28x28 handwritten characters and DCGAN networks
for natural images, with one extra half-width layer at each end for 128x128 CelebA.  Every
builder returns a Functional ``keras.Model`` that the wrapper models receive ready-built; its
layers compute in the ``dtype`` it is given (a Keras dtype policy name: the model's
``setup.dtype``), never in a process-wide policy.
"""
from __future__ import annotations

import keras

from augintae_tf.config.choices import BACKBONES
from augintae_tf.nets import dcgan, infogan

_ENCODERS = {
    "infogan": infogan.build_encoder,
    "dcgan": dcgan.build_encoder,
    "dcgan128": dcgan.build_encoder_128,
}
_GENERATORS = {
    "infogan": infogan.build_generator,
    "dcgan": dcgan.build_generator,
    "dcgan128": dcgan.build_generator_128,
}


def _lookup(table: dict, backbone: str):
    if backbone not in table:
        raise ValueError(f"backbone {backbone!r} is unknown; expected one of {', '.join(BACKBONES)}"
                         " (resolve 'auto' with Config.backbone first)")
    return table[backbone]


def build_encoder(backbone: str, image_size: int, channels: int, outputs: int,
                  width: float = 1.0, name: str = "encoder", dtype: str = "float32") -> keras.Model:
    """Images ``[B, S, S, C]`` in [0, 1] -> ``[B, outputs]`` float32 (unnormalised).

    With ``outputs=1`` the same network is the LSGAN discriminator the paper pairs with AugIntAE.
    ``width`` multiplies every hidden channel/unit count (tests build tiny networks with it).
    """
    return _lookup(_ENCODERS, backbone)(image_size, channels, outputs, width, name, dtype)


def build_generator(backbone: str, image_size: int, channels: int, latent_dim: int,
                    width: float = 1.0, name: str = "generator",
                    upsampling: str = "transpose", dtype: str = "float32") -> keras.Model:
    """Latents ``[B, latent_dim]`` -> images ``[B, S, S, C]`` float32 in [0, 1] (sigmoid);
    ``upsampling``: ``transpose`` (the paper's 4x4 stride-2 transposed convolutions) or
    ``resize`` (nearest x2 + 3x3 convolution), see :func:`augintae_tf.nets.blocks.upsample`."""
    return _lookup(_GENERATORS, backbone)(image_size, channels, latent_dim, width, name,
                                          upsampling, dtype)
