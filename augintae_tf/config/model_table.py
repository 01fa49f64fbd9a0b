"""The model table: one row per model, the one place a model name is bound to what it is.

A row gives the model's config section (a :class:`~augintae_tf.config.model_sections.ModelConfig`
dataclass), its class, a one-line summary and the image sizes of a model with networks of its own.
Each model family has one home, ``augintae_tf/models/<family>/``: its TensorFlow-free
``spec.py`` holds the family's section and its rows (``MODELS``), its ``model.py`` the Keras
class.  :data:`FAMILIES` names the families; their specs are imported when a row is first asked
for.  The class is written ``"module:Class"`` and imported only when a model is built, so
``--model``'s choices, ``--help`` and config validation never import TensorFlow.  Adding a model
is one family folder plus one name in :data:`FAMILIES` (docs/adding-a-model.md);
:func:`register_model` adds a row at runtime.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from augintae_tf.config.choices import backbone_sizes
from augintae_tf.config.model_sections import ModelConfig
from augintae_tf.errors import ConfigError


@dataclass(frozen=True)
class ModelRow:
    name: str
    section: type[ModelConfig] | str  # the dataclass, or "module:Class"
    model: type | str  # the model class, or "module:Class" (imported when a model is built)
    summary: str = ""
    # the image sizes it trains at, for a model with networks of its own (not a backbone's)
    image_sizes: tuple[int, ...] | None = None


def resolve(target: type | str) -> Any:
    """``target`` itself, or the attribute that ``"module:Name"`` names (its module imported)."""
    if not isinstance(target, str):
        return target
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)


# The model families, in the order ``--model`` lists their models: each a package
# ``augintae_tf.models.<family>`` whose ``spec`` module lists the family's rows in ``MODELS``.
FAMILIES = (
    "augintae",  # augintae, ae
    "intae",
    "adversarial",  # augintae-adv
    "gaia",
    "vae",
    "wgan_gp",
    "dagan",
    "statistician",  # neural-statistician
    "fastgan",
)
_ROWS: dict[str, ModelRow] = {}  # every row, the families' first; filled by models()


def models() -> dict[str, ModelRow]:
    """Every row by model name: the families' (their specs imported on the first call, in the
    order of :data:`FAMILIES`), then those :func:`register_model` added."""
    if not _ROWS:
        for family in FAMILIES:
            _ROWS.update((row.name, row) for row in
                         import_module(f"augintae_tf.models.{family}.spec").MODELS)
    return _ROWS


def register_model(name: str, model: type | str, section: type[ModelConfig] | str | None = None,
                   summary: str = "", image_sizes: tuple[int, ...] | None = None) -> ModelRow:
    """Add (or replace) the row of model ``name``: ``model`` its class or ``"module:Class"``,
    ``section`` its config section (default :class:`ModelConfig`, the fields every model has)."""
    section = ModelConfig if section is None else section
    if not isinstance(section, str) and not (isinstance(section, type)
                                             and issubclass(section, ModelConfig)):
        raise TypeError(f"register_model({name!r}): section must be a ModelConfig dataclass")
    models()[name] = ModelRow(name, section, model, summary, image_sizes)
    return models()[name]


def model_names() -> tuple[str, ...]:
    """Every model of the table: the names ``model.name`` and ``--model`` allow."""
    return tuple(models())


def model_row(name: str) -> ModelRow:
    if name not in models():
        raise ConfigError(f"model {name!r} is unknown; available: {', '.join(models())}")
    return models()[name]


def section_class(name: str) -> type[ModelConfig]:
    """The config section of model ``name`` (the common one for a name not in the table)."""
    return resolve(models()[name].section) if name in models() else ModelConfig


def trainable_sizes(model_name: str, backbone: str = "auto") -> tuple[int, ...]:
    """The image sizes :func:`augintae_tf.config.validate` accepts for ``model_name`` on
    ``backbone``, ascending: the row's ``image_sizes``, else the backbone's
    (:func:`~augintae_tf.config.choices.backbone_sizes`)."""
    row = models().get(model_name)
    if row is not None and row.image_sizes is not None:
        return tuple(sorted(row.image_sizes))
    return backbone_sizes(backbone)


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
