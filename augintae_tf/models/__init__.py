"""Models: one home per family, ``augintae_tf/models/<family>/`` (its TensorFlow-free ``spec``:
config section and model table rows; its Keras class in ``model``), the model contract they share
(:mod:`augintae_tf.models.contract`), and ``build_model(cfg)``, which builds the class the model
table (:mod:`augintae_tf.config.model_table`) names for ``cfg.model.name``.  TensorFlow-free
until a model is built, so importing a family's spec loads no TensorFlow."""
from augintae_tf.models.build import ModelSetup, build_model, model_class, model_setup

__all__ = ["ModelSetup", "build_model", "model_class", "model_setup"]
