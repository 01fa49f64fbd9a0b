"""What a model is built from, and building it: :class:`ModelSetup` (its config section, the
augmentation, image shape, run seed, resolved backbone and compute dtype, never the whole config)
and :func:`build_model`, which imports the class the model table names for ``cfg.model.name``.
TensorFlow-free until a model is built."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from augintae_tf.config.model_sections import ModelConfig
from augintae_tf.config.model_table import as_section, model_row, resolve
from augintae_tf.config.schema import AugmentConfig, Config


@dataclass(frozen=True)
class ModelSetup:
    """What a model is built from.  ``dtype`` is the Keras dtype policy its layers compute in
    (``float32``, ``mixed_bfloat16``, ``mixed_float16``): :mod:`augintae_tf.models.precision`
    says which one training, loading and export choose."""

    section: ModelConfig
    augment: AugmentConfig
    image_size: int
    channels: int
    seed: int
    backbone: str
    dtype: str = "float32"

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.image_size, self.image_size, self.channels


def model_class(name: str) -> type:
    """The model class of ``name`` (the model table's row), imported on first use."""
    return resolve(model_row(name).model)


def model_setup(cfg: Config, width: float | None = None, dtype: str = "float32") -> ModelSetup:
    section = as_section(cfg.model)
    if width is not None:
        section = dataclasses.replace(section, width=width)
    return ModelSetup(section, cfg.augment, cfg.data.image_size, cfg.data.channels,
                      cfg.train.seed, cfg.backbone, dtype)


def build_model(cfg: Config, width: float | None = None, dtype: str = "float32"):
    """The model ``cfg.model.name`` with fresh networks computing in ``dtype``; ``width``
    (default ``cfg.model.width``) scales hidden sizes.  The model receives a
    :class:`ModelSetup`, not the whole config."""
    return model_class(cfg.model.name).from_setup(model_setup(cfg, width, dtype))
