"""GAIA, the adversarial interpolative autoencoder: the family's TensorFlow-free spec, its config
section and its rows of the model table (:mod:`augintae_tf.config.model_table`). Its Keras class:
``augintae_tf.models.gaia.model``."""
from __future__ import annotations

from dataclasses import dataclass

from augintae_tf.config.choices import require
from augintae_tf.config.model_sections import AutoencoderConfig
from augintae_tf.config.model_table import ModelRow


@dataclass
class GAIAConfig(AutoencoderConfig):
    """GAIA's balancing constants (Sainburg et al. 2018; see models/gaia/model.py)."""

    slope: float = 20.0  # lr_sigma_slope of GAIA's TF2 implementation
    sigma: float = 0.5  # interpolation error the discriminator tolerates (GAIA's original code)
    max_fake_weight: float = 0.9  # clip of the discriminator's weight on generated images
    structure_weight: float = 5e-5  # GAIA's alpha, "half the learning rate" (1e-4 / 2)

    def check(self) -> None:
        super().check()
        require(self.slope > 0, "model.slope", self.slope, "a sigmoid slope > 0")
        require(self.sigma >= 0, "model.sigma", self.sigma, "a value >= 0")
        require(0 < self.max_fake_weight <= 1, "model.max_fake_weight", self.max_fake_weight,
                "a weight in (0, 1]")
        require(self.structure_weight >= 0, "model.structure_weight", self.structure_weight,
                "a weight >= 0")


# The models of this family, in the order ``--model`` lists them.
MODELS = (
    ModelRow("gaia", GAIAConfig, "augintae_tf.models.gaia.model:GAIA",
             "GAIA: adversarial interpolative autoencoder"),
)
