"""Models: each family's Keras model class, the model contract they share
(:mod:`augintae_tf.models.contract`), and ``build_model(cfg)``, which builds the class the model
table (:mod:`augintae_tf.config.model_table`) names for ``cfg.model.name``."""
from augintae_tf.models.build import ModelSetup, build_model, model_class, model_setup

__all__ = ["ModelSetup", "build_model", "model_class", "model_setup"]
