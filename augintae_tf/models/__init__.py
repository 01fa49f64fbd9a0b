"""Models: ``build_model(cfg)`` builds the registered model ``cfg.model.name``.

The names, config sections and classes are in :mod:`augintae_tf.models.registry` (no TensorFlow);
what a model class provides to the code around it is :class:`augintae_tf.models.base.ModelContract`.
Everything here is imported on first use, so ``augintae_tf.models.registry`` stays TensorFlow-free.
"""
from __future__ import annotations

from importlib import import_module

from augintae_tf.models.registry import (ModelSetup, model_class, model_names, model_setup,
                                         register_model)

_LAZY = {"AE": "ae", "AugIntAE": "augintae", "IntAE": "intae", "GAIA": "gaia",
         "AdversarialAugIntAE": "adversarial", "Autoencoder": "base", "ModelContract": "base",
         "derive_seed": "base"}


def build_model(cfg, width: float | None = None):
    """The model ``cfg.model.name`` with fresh networks; ``width`` (default ``cfg.model.width``)
    scales hidden sizes.  The model receives a :class:`ModelSetup`, not the whole config."""
    return model_class(cfg.model.name).from_setup(model_setup(cfg, width))


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f"augintae_tf.models.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'augintae_tf.models' has no attribute {name!r}")


__all__ = ["ModelSetup", "build_model", "model_class", "model_names", "model_setup",
           "register_model", *_LAZY]
