"""The WGAN-GP baseline and its inversion: the family's TensorFlow-free spec, its config section
and its rows of the model table (:mod:`augintae_tf.config.model_table`). Its Keras class:
``augintae_tf.models.wgan_gp.model``."""
from __future__ import annotations

from dataclasses import dataclass

from augintae_tf.config.choices import require
from augintae_tf.config.model_sections import AutoencoderConfig
from augintae_tf.config.model_table import ModelRow


@dataclass
class WGANGPConfig(AutoencoderConfig):
    """WGAN-GP (appendix A.1) and its inversion (A.2); the paper's values as defaults.

    ``epoch_factor``: the run trains ``train.epochs * epoch_factor`` epochs ("WGAN-GPs train for
    twice as long as other models"), so one ``--epochs`` gives every model of a study its budget.
    """

    gp_weight: float = 10.0
    critic_steps: int = 5  # critic updates per generator update
    epoch_factor: int = 2
    inversion_steps: int = 6400
    inversion_lr: float = 1e-4
    inversion_momentum: float = 0.1
    inversion_drop_every: int = 1280  # lr / 10 after every this many iterations
    inversion_batch: int = 64
    refine_steps: int = 1000
    refine_lr: float = 0.01

    def check(self) -> None:
        super().check()
        require(self.gp_weight >= 0, "model.gp_weight", self.gp_weight, "a weight >= 0")
        require(self.critic_steps >= 1, "model.critic_steps", self.critic_steps, "an integer >= 1")
        require(self.epoch_factor >= 1, "model.epoch_factor", self.epoch_factor, "an integer >= 1")
        require(self.inversion_steps >= 0, "model.inversion_steps", self.inversion_steps,
                "an integer >= 0")
        require(self.inversion_lr > 0, "model.inversion_lr", self.inversion_lr, "a step size > 0")
        require(0 <= self.inversion_momentum < 1, "model.inversion_momentum",
                self.inversion_momentum, "a momentum in [0, 1)")
        require(self.inversion_drop_every >= 1, "model.inversion_drop_every",
                self.inversion_drop_every, "an integer >= 1")
        require(self.inversion_batch >= 1, "model.inversion_batch", self.inversion_batch,
                "an integer >= 1")
        require(self.refine_steps >= 0, "model.refine_steps", self.refine_steps, "an integer >= 0")
        require(self.refine_lr > 0, "model.refine_lr", self.refine_lr, "a step size > 0")


# The models of this family, in the order ``--model`` lists them.
MODELS = (
    ModelRow("wgan-gp", WGANGPConfig, "augintae_tf.models.wgan_gp.model:WGANGP",
             "WGAN-GP baseline; few-shot through GAN inversion"),
)
