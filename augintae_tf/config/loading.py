"""Building a config: a preset (or YAML file), then dotted overrides (``train.epochs=5``), then
validation; also a saved mapping back into a config (a run's ``config.yaml``).

Both are layers of ``{"section.field": value}``.  A preset's values belong to the model it is for
(the model it names, else the default model): when the run trains another model (``--model``),
:func:`for_model` takes out the preset's choices that only make sense for its own model (its
model's fields the new model lacks, its ``target``) and lays the new model's
``PRESET_DEFAULTS`` (e.g. FastGAN's lr and batch size) over the preset's; the overrides, the
user's own settings, come last and win.  TensorFlow-free.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from augintae_tf.config.data_defaults import DEFAULT_PRESET
from augintae_tf.config.files import read_preset, section_error
from augintae_tf.config.model_sections import ModelConfig
from augintae_tf.config.model_table import PER_MODEL_DEFAULTS, as_section, section_class
from augintae_tf.config.schema import SECTIONS, Config, validate
from augintae_tf.config.values import coerce, field_types
from augintae_tf.errors import ConfigError


def layer(data: Mapping[str, Any], origin: str = "config") -> dict[str, Any]:
    """``{"section.field": value}`` of a mapping of sections (a YAML file as read)."""
    values = {}
    for section, fields in data.items():
        if section not in SECTIONS:
            raise ConfigError(f"{origin}: unknown section {section!r}; sections: {', '.join(SECTIONS)}")
        if not isinstance(fields, dict):
            raise ConfigError(section_error(origin, section, fields))
        values.update({f"{section}.{name}": value for name, value in fields.items()})
    return values


def for_model(values: dict[str, Any], model: str) -> dict[str, Any]:
    """A preset's layer ``values`` as the starting point of a run of ``model`` (module doc)."""
    own = str(values.get("model.name", ModelConfig.name))
    if own == model:
        return values
    fields = {f.name for f in dataclasses.fields(section_class(model))}
    kept = {key: value for key, value in values.items() if not key.startswith("model.")
            or (key[6:] in fields and key[6:] not in PER_MODEL_DEFAULTS)}
    return {**kept, **getattr(section_class(model), "PRESET_DEFAULTS", {})}


def _apply(cfg: Config, key: str, value: Any) -> None:
    section, _, name = key.partition(".")
    if section not in SECTIONS or not name:
        raise ConfigError(f"{key}: unknown config key; keys look like SECTION.FIELD with SECTION in "
                          f"{', '.join(SECTIONS)}")
    sub = getattr(cfg, section)
    fields = [f.name for f in dataclasses.fields(sub)]
    if name not in fields:
        owner = f"model {sub.name!r}" if section == "model" else section
        raise ConfigError(f"{key}: unknown field; {owner} has: {', '.join(fields)}")
    setattr(sub, name, coerce(key, value, field_types(type(sub))[name]))
    if key == "model.name":  # the model's own section: its extra fields, with their defaults
        cfg.model = as_section(sub)


def build(values: Mapping[str, Any]) -> Config:
    """A config from ``{"section.field": value}`` (``model.name`` first: it decides which fields
    the model section has), unvalidated."""
    cfg = Config()
    for key, value in sorted(values.items(), key=lambda item: item[0] != "model.name"):
        _apply(cfg, key, value)
    return cfg


def from_dict(data: Mapping[str, Any], origin: str = "config") -> Config:
    """A config from a mapping of sections (a saved ``config.yaml``), unvalidated."""
    return build(layer(data, origin))


def load_config(preset: str | None = None, overrides: Mapping[str, Any] | None = None) -> Config:
    """Build a validated config: preset (name or YAML path), then ``{"section.field": value}`` overrides.

    Override values may be strings as typed on a command line (``"5"``, ``"null"``, ``"0.35,0.7"``).
    """
    name = preset or DEFAULT_PRESET
    values = layer(read_preset(name), origin=name)
    overrides = dict(overrides or {})
    model = overrides.get("model.name", values.get("model.name", ModelConfig.name))
    return validate(build({**for_model(values, str(model)), **overrides}))


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["train.epochs=5", ...]`` -> ``{"train.epochs": "5"}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like SECTION.FIELD=VALUE")
        out[key.strip()] = value.strip()
    return out
