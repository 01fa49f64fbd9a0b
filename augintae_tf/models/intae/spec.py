"""IntAE, the interpolative autoencoder baseline (ACAI's critic): the family's TensorFlow-free
spec, its config section and its rows of the model table (:mod:`augintae_tf.config.model_table`).
Its Keras class: ``augintae_tf.models.intae.model``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from augintae_tf.config.choices import INTAE_TARGETS, require
from augintae_tf.config.model_table import ModelRow
from augintae_tf.models.augintae.spec import AugIntAEConfig


@dataclass
class IntAEConfig(AugIntAEConfig):
    """intae: interpolations between DIFFERENT images (models/intae/model.py).

    ``target``: ``critic`` (default; ACAI, Berthelot et al. 2018, the interpolative autoencoder the
    paper compares with): reconstruct each augmented image, and a critic trained to recover alpha
    from decoded interpolations is made to answer 0, weight ``critic_weight`` (ACAI's lambda);
    the critic also sees ``critic_gamma * x + (1 - critic_gamma) * x_hat`` (ACAI's gamma) as
    alpha 0.  ``blend``: regress the decoded interpolation onto the pixel blend of the two images
    (no critic, one optimizer).
    """

    BF16_MEASURED: ClassVar[tuple[str, ...]] = ()  # its critic's bf16 quality is not measured
    TARGETS: ClassVar[tuple[str, ...]] = INTAE_TARGETS

    target: str = "critic"
    critic_weight: float = 0.5  # ACAI's advweight (lambda)
    critic_gamma: float = 0.2  # ACAI's reg (gamma)

    def check(self) -> None:
        super().check()
        require(self.critic_weight >= 0, "model.critic_weight", self.critic_weight,
                "a weight >= 0")
        require(0 <= self.critic_gamma <= 1, "model.critic_gamma", self.critic_gamma,
                "a value in [0, 1]")
        require(self.target != "critic" or self.alpha == "midpoint", "model.alpha", self.alpha,
                "midpoint under model.target=critic (the critic draws ACAI's alphas, U[0, 0.5])")


# The models of this family, in the order ``--model`` lists them.
MODELS = (
    ModelRow("intae", IntAEConfig, "augintae_tf.models.intae.model:IntAE",
             "interpolative AE baseline (pairs of different images; ACAI's critic)"),
)
