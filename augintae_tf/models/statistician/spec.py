"""The Neural Statistician, a VAE over same-class sets: the family's TensorFlow-free spec, its
config section and its rows of the model table (:mod:`augintae_tf.config.model_table`). Its Keras
class: ``augintae_tf.models.statistician.model``."""
from __future__ import annotations

from dataclasses import dataclass

from augintae_tf.config.choices import require
from augintae_tf.config.model_sections import ModelConfig
from augintae_tf.config.model_table import ModelRow


@dataclass
class StatisticianConfig(ModelConfig):
    """Neural Statistician (Edwards and Storkey 2016), the omniglot settings of
    conormdurkan/neural-statistician; see models/statistician/model.py."""

    set_size: int = 5  # images per set (--sample-size 5)
    c_dim: int = 512  # context size (--c-dim)
    z_dim: int = 16  # per-image latent size (--z-dim)
    hidden_dim: int = 256  # hidden units of the fully connected nets, times width (--hidden-dim)
    hidden_layers: int = 3  # hidden layers of each fully connected net (--n-hidden)
    anneal_steps: int = 120  # the reconstruction weight 1 + 0.5^(step / anneal_steps) (alpha
    # halves every epoch there: ~120 steps of 32 sets on omniglot); 0 keeps the weight at 1
    clip: float = 0.5  # element-wise gradient clip (--clip-gradients); 0 disables

    def check(self) -> None:
        require(self.set_size >= 2, "model.set_size", self.set_size, "an integer >= 2")
        for name in ("c_dim", "z_dim", "hidden_dim", "hidden_layers"):
            require(getattr(self, name) >= 1, f"model.{name}", getattr(self, name),
                    "an integer >= 1")
        require(self.anneal_steps >= 0, "model.anneal_steps", self.anneal_steps, "an integer >= 0")
        require(self.clip >= 0, "model.clip", self.clip, "a value >= 0 (0 disables)")


# The models of this family, in the order ``--model`` lists them.
MODELS = (
    ModelRow("neural-statistician", StatisticianConfig, "augintae_tf.models.statistician.model:NeuralStatistician",
             "Neural Statistician: VAE over same-class sets of 5 (needs labels)"),
)
