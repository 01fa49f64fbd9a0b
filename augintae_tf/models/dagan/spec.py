"""DAGAN, the supervised few-shot WGAN-GP on same-class pairs: the family's TensorFlow-free spec,
its config section and its rows of the model table (:mod:`augintae_tf.config.model_table`). Its
Keras class: ``augintae_tf.models.dagan.model``."""
from __future__ import annotations

from dataclasses import dataclass

from augintae_tf.config.choices import require
from augintae_tf.config.model_sections import ModelConfig
from augintae_tf.config.model_table import ModelRow


@dataclass
class DAGANConfig(ModelConfig):
    """DAGAN (Antoniou et al. 2017): U-Net generator, pair critic, WGAN-GP; see models/dagan/model.py
    and nets/pairs.py.  Defaults: the authors' code (github.com/AntreasAntoniou/DAGAN).  The
    U-Net has no code vector and its own layers: ``latent_dim`` and ``backbone`` do not apply."""

    set_size: int = 2  # pairs: (seed, another image of its class)
    noise_dim: int = 100  # z, injected as maps into the first three decoder stages (z_dim 100)
    # critic updates per generator update: 1, measured (benchmarks/RESULTS.md, "DAGAN as its paper
    # describes it": at 32,000 images seen the authors' 5 leaves the U-Net 100 generator updates
    # and 51 % of its images of its seeds' digit, 1 gives 87 %); the authors' code: 5
    critic_updates: int = 1
    gp_weight: float = 10.0  # gradient-penalty weight lambda (WGAN-GP, DAGAN's code)
    beta_1: float = 0.0  # Adam betas of both players (DAGAN's code: 0, 0.9)
    beta_2: float = 0.9
    skips: bool = True  # encoder -> decoder skip connections; false zeroes them (an ablation)

    def check(self) -> None:
        require(self.set_size == 2, "model.set_size", self.set_size, "2 (DAGAN trains on pairs)")
        require(self.noise_dim >= 1, "model.noise_dim", self.noise_dim, "an integer >= 1")
        require(self.critic_updates >= 1, "model.critic_updates", self.critic_updates,
                "an integer >= 1")
        require(self.gp_weight >= 0, "model.gp_weight", self.gp_weight, "a weight >= 0")
        for name in ("beta_1", "beta_2"):
            value = getattr(self, name)
            require(isinstance(value, (int, float)) and 0 <= value < 1, f"model.{name}", value,
                    "a number in [0, 1)")
        require(isinstance(self.skips, bool), "model.skips", self.skips, "true or false")


# The models of this family, in the order ``--model`` lists them.
MODELS = (
    ModelRow("dagan", DAGANConfig, "augintae_tf.models.dagan.model:DAGAN",
             "DAGAN: supervised few-shot WGAN-GP on same-class pairs (needs labels)"),
)
