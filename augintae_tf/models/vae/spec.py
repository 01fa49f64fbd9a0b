"""The VAE baseline: the family's TensorFlow-free spec, its config section and its rows of the
model table (:mod:`augintae_tf.config.model_table`). Its Keras class:
``augintae_tf.models.vae.model``."""
from __future__ import annotations

from dataclasses import dataclass

from augintae_tf.config.choices import require
from augintae_tf.config.model_sections import AutoencoderConfig
from augintae_tf.config.model_table import ModelRow


@dataclass
class VAEConfig(AutoencoderConfig):
    """The VAE baseline (appendix A.1): encoder with 2 x latent outputs (mean, log-variance)."""

    beta: float = 1.0  # weight of the KL term

    def check(self) -> None:
        super().check()
        require(self.beta >= 0, "model.beta", self.beta, "a KL weight >= 0")


# The models of this family, in the order ``--model`` lists them.
MODELS = (
    ModelRow("vae", VAEConfig, "augintae_tf.models.vae.model:VAE",
             "VAE baseline (posterior means slerped for few-shot)"),
)
