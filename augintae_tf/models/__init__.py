"""Model registry: ``build_model(cfg)`` builds the backbone networks and the model ``cfg.model.name``.

Each entry is a builder ``(cfg, width) -> keras.Model``; models with more networks (the adversarial
ones need a discriminator) register their own builder with :func:`register_model`.
"""
from __future__ import annotations

from typing import Callable

import keras

from augintae_tf.config import Config
from augintae_tf.models.adversarial import AdversarialAugIntAE, build_augintae_adv
from augintae_tf.models.ae import AE
from augintae_tf.models.augintae import AugIntAE
from augintae_tf.models.base import Autoencoder, derive_seed
from augintae_tf.models.gaia import GAIA, build_gaia
from augintae_tf.models.intae import IntAE
from augintae_tf.nets import build_encoder, build_generator

Builder = Callable[[Config, float], keras.Model]
_BUILDERS: dict[str, Builder] = {}


def register_model(name: str, builder: Builder) -> None:
    _BUILDERS[name] = builder


def build_networks(cfg: Config, width: float = 1.0) -> tuple[keras.Model, keras.Model]:
    """(encoder, generator) for the config's backbone, image size, channels and latent size."""
    size, channels, latent = cfg.data.image_size, cfg.data.channels, cfg.model.latent_dim
    return (build_encoder(cfg.backbone, size, channels, latent, width),
            build_generator(cfg.backbone, size, channels, latent, width))


def _autoencoder_builder(cls: type[Autoencoder]) -> Builder:
    def build(cfg: Config, width: float = 1.0) -> keras.Model:
        encoder, generator = build_networks(cfg, width)
        return cls(encoder, generator, cfg, name=cfg.model.name.replace("-", "_"))

    return build


register_model("augintae", _autoencoder_builder(AugIntAE))
register_model("ae", _autoencoder_builder(AE))
register_model("intae", _autoencoder_builder(IntAE))
register_model("augintae-adv", build_augintae_adv)
register_model("gaia", build_gaia)


def build_model(cfg: Config, width: float | None = None) -> keras.Model:
    """The model ``cfg.model.name`` with fresh networks; ``width`` (default ``cfg.model.width``)
    scales hidden sizes."""
    width = cfg.model.width if width is None else width
    name = cfg.model.name
    if name not in _BUILDERS:
        raise ValueError(f"model {name!r} is unknown; available: {', '.join(sorted(_BUILDERS))}")
    return _BUILDERS[name](cfg, width)


__all__ = ["AE", "AdversarialAugIntAE", "AugIntAE", "Autoencoder", "GAIA", "IntAE", "build_model",
           "build_networks", "derive_seed", "register_model"]
