"""The model table: one row per model, the one place a model name is bound to what it is.

A row gives the model's config section (a :class:`~augintae_tf.config.sections.ModelConfig`
dataclass), its class and a one-line summary.  The class is written ``"module:Class"`` and
imported only when a model is built, so ``--model``'s choices, ``--help`` and config validation
never import TensorFlow.  A section may be written the same way, for a model file that carries its
own section (choosing that model then imports its module); the built-in sections are classes of
:mod:`augintae_tf.config.sections`, TensorFlow-free.  Adding a model is one model file plus one
row (docs/adding-a-model.md); :func:`register_model` adds a row at runtime.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from augintae_tf.config.sections import (AdversarialConfig, AugIntAEConfig, DAGANConfig,
                                         FastGANConfig, GAIAConfig, IntAEConfig, ModelConfig,
                                         StatisticianConfig, VAEConfig, WGANGPConfig)
from augintae_tf.errors import ConfigError


@dataclass(frozen=True)
class ModelRow:
    name: str
    section: type[ModelConfig] | str  # the dataclass, or "module:Class"
    model: type | str  # the model class, or "module:Class" (imported when a model is built)
    summary: str = ""


def resolve(target: type | str) -> Any:
    """``target`` itself, or the attribute that ``"module:Name"`` names (its module imported)."""
    if not isinstance(target, str):
        return target
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)


_M = "augintae_tf.models"
# The built-in models, in the order ``--model`` lists them.
MODELS: dict[str, ModelRow] = {row.name: row for row in (
    ModelRow("augintae", AugIntAEConfig, f"{_M}.augintae:AugIntAE",
             "AugIntAE: slerp between two augmentations of an image (the presets' model)"),
    ModelRow("ae", AugIntAEConfig, f"{_M}.ae:AE",
             "autoencoder baseline"),
    ModelRow("intae", IntAEConfig, f"{_M}.intae:IntAE",
             "interpolative AE baseline (pairs of different images; ACAI's critic)"),
    ModelRow("augintae-adv", AdversarialConfig, f"{_M}.adversarial:AdversarialAugIntAE",
             "AugIntAE plus an LSGAN discriminator"),
    ModelRow("gaia", GAIAConfig, f"{_M}.gaia:GAIA",
             "GAIA: adversarial interpolative autoencoder"),
    ModelRow("vae", VAEConfig, f"{_M}.vae:VAE",
             "VAE baseline (posterior means slerped for few-shot)"),
    ModelRow("wgan-gp", WGANGPConfig, f"{_M}.wgan_gp:WGANGP",
             "WGAN-GP baseline; few-shot through GAN inversion"),
    ModelRow("dagan", DAGANConfig, f"{_M}.dagan:DAGAN",
             "DAGAN: supervised few-shot WGAN-GP on same-class pairs (needs labels)"),
    ModelRow("neural-statistician", StatisticianConfig, f"{_M}.statistician:NeuralStatistician",
             "Neural Statistician: VAE over same-class sets of 5 (needs labels)"),
    ModelRow("fastgan", FastGANConfig, f"{_M}.fastgan:FastGAN",
             "FastGAN: data-efficient GAN for a few hundred images (samples only)"),
)}


def register_model(name: str, model: type | str, section: type[ModelConfig] | str | None = None,
                   summary: str = "") -> ModelRow:
    """Add (or replace) the row of model ``name``: ``model`` its class or ``"module:Class"``,
    ``section`` its config section (default :class:`ModelConfig`, the fields every model has)."""
    section = ModelConfig if section is None else section
    if not isinstance(section, str) and not (isinstance(section, type)
                                             and issubclass(section, ModelConfig)):
        raise TypeError(f"register_model({name!r}): section must be a ModelConfig dataclass")
    MODELS[name] = ModelRow(name, section, model, summary)
    return MODELS[name]


def model_names() -> tuple[str, ...]:
    """Every model of the table: the names ``model.name`` and ``--model`` allow."""
    return tuple(MODELS)


def model_row(name: str) -> ModelRow:
    if name not in MODELS:
        raise ConfigError(f"model {name!r} is unknown; available: {', '.join(MODELS)}")
    return MODELS[name]


def section_class(name: str) -> type[ModelConfig]:
    """The config section of model ``name`` (the common one for a name not in the table)."""
    return resolve(MODELS[name].section) if name in MODELS else ModelConfig


# Fields whose default depends on the model: switching models keeps their value only if it was
# set, not if it was the previous model's default (augintae's ``augmentation`` target is not
# allowed for intae, whose default is ``critic``).
PER_MODEL_DEFAULTS = ("target",)


def as_section(section: ModelConfig) -> ModelConfig:
    """``section`` as its model's own dataclass: the fields both have keep their values (those
    of :data:`PER_MODEL_DEFAULTS` only when set), the others take the new section's defaults."""
    cls = section_class(section.name)
    if type(section) is cls:
        return section
    names = {f.name for f in dataclasses.fields(cls)}
    old_defaults = {f.name: f.default for f in dataclasses.fields(section)}
    values = {k: v for k, v in dataclasses.asdict(section).items() if k in names
              and not (k in PER_MODEL_DEFAULTS and v == old_defaults.get(k))}
    return cls(**values)
