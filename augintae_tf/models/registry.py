"""The one list of model names, with each model's class and config section; imports no TensorFlow.

``--model``'s choices and ``--help`` read :func:`model_names`, so an option error never waits for
TensorFlow.  An entry names its model class as ``"module:Class"`` (imported only when a model is
built) or as the class itself (models registered at runtime, e.g. from a test).

Config sections (dataclasses extending :class:`~augintae_tf.sections.ModelConfig`) live in
:mod:`augintae_tf.sections`, which config validation reads without importing this package; a
built-in model's entry takes its section from there, a model registered at runtime passes its own.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from augintae_tf.config import AugmentConfig, Config
from augintae_tf.errors import ConfigError
from augintae_tf.sections import ModelConfig, as_section, register_section, section_class


@dataclass(frozen=True)
class ModelEntry:
    name: str
    target: Any  # "module:Class" (imported lazily) or the class
    section: type[ModelConfig]
    summary: str


@dataclass(frozen=True)
class ModelSetup:
    """What a model is built from: its config section, the augmentation, image shape, run seed
    and the resolved backbone (never the whole Config)."""

    section: ModelConfig
    augment: AugmentConfig
    image_size: int
    channels: int
    seed: int
    backbone: str

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.image_size, self.image_size, self.channels


_ENTRIES: dict[str, ModelEntry] = {}


def register_model(name: str, target: Any, section: type[ModelConfig] | None = None,
                   summary: str = "") -> ModelEntry:
    """Add (or replace) model ``name``: ``target`` is its class or ``"module:Class"``;
    ``section`` its config section (default: the one :mod:`augintae_tf.sections` names)."""
    section = section_class(name) if section is None else section
    if not (isinstance(section, type) and issubclass(section, ModelConfig)):
        raise TypeError(f"register_model({name!r}): section must be a ModelConfig dataclass")
    register_section(name, section)
    _ENTRIES[name] = ModelEntry(name, target, section, summary)
    return _ENTRIES[name]


def model_names() -> tuple[str, ...]:
    return tuple(_ENTRIES)


def model_entry(name: str) -> ModelEntry:
    if name not in _ENTRIES:
        raise ConfigError(f"model {name!r} is unknown; available: {', '.join(_ENTRIES)}")
    return _ENTRIES[name]


def model_class(name: str) -> type:
    """The model class of ``name``, imported on first use."""
    target = model_entry(name).target
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = getattr(import_module(module), attr)
    return target


def model_setup(cfg: Config, width: float | None = None) -> ModelSetup:
    section = as_section(cfg.model)
    if width is not None:
        section = dataclasses.replace(section, width=width)
    return ModelSetup(section, cfg.augment, cfg.data.image_size, cfg.data.channels,
                      cfg.train.seed, cfg.backbone)


register_model("augintae", "augintae_tf.models.augintae:AugIntAE",
               summary="AugIntAE: slerp between two augmentations of an image "
                       "(the paper presets' model)")
register_model("ae", "augintae_tf.models.ae:AE",
               summary="autoencoder baseline (the recommended preset's model)")
register_model("intae", "augintae_tf.models.intae:IntAE",
               summary="interpolative AE baseline (pairs of different images; ACAI's critic)")
register_model("augintae-adv", "augintae_tf.models.adversarial:AdversarialAugIntAE",
               summary="AugIntAE plus an LSGAN discriminator")
register_model("gaia", "augintae_tf.models.gaia:GAIA",
               summary="GAIA: adversarial interpolative autoencoder")
register_model("vae", "augintae_tf.models.vae:VAE",
               summary="VAE baseline (posterior means slerped for few-shot)")
register_model("wgan-gp", "augintae_tf.models.wgan_gp:WGANGP",
               summary="WGAN-GP baseline; few-shot through GAN inversion")
register_model("dagan", "augintae_tf.models.dagan:DAGAN",
               summary="DAGAN: supervised few-shot WGAN-GP on same-class pairs (needs labels)")
register_model("neural-statistician", "augintae_tf.models.statistician:NeuralStatistician",
               summary="Neural Statistician: VAE over same-class sets of 5 (needs labels)")
register_model("fastgan", "augintae_tf.models.fastgan:FastGAN",
               summary="FastGAN: data-efficient GAN for a few hundred images (samples only)")
