"""Adversarial AugIntAE (appendix A.1): AugIntAE plus an LSGAN discriminator: the family's
TensorFlow-free spec, its config section and its rows of the model table
(:mod:`augintae_tf.config.model_table`). Its Keras class: ``augintae_tf.models.adversarial.model``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from augintae_tf.config.choices import require
from augintae_tf.config.model_table import ModelRow
from augintae_tf.models.augintae.spec import AugIntAEConfig


@dataclass
class AdversarialConfig(AugIntAEConfig):
    """augintae-adv (appendix A.1): augintae's fields (``target``: the discriminator's real
    images are the target) and eq. 4's step size."""

    BF16_MEASURED: ClassVar[tuple[str, ...]] = ()  # its discriminator's bf16 quality is not measured

    k_rate: float = 0.001  # eq. 4's step size for the adversarial weight k

    def check(self) -> None:
        super().check()
        require(0 < self.k_rate <= 1, "model.k_rate", self.k_rate, "a step size in (0, 1]")


# The models of this family, in the order ``--model`` lists them.
MODELS = (
    ModelRow("augintae-adv", AdversarialConfig, "augintae_tf.models.adversarial.model:AdversarialAugIntAE",
             "AugIntAE plus an LSGAN discriminator"),
)
