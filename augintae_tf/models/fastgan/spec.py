"""FastGAN, the data-efficient GAN (samples only): the family's TensorFlow-free spec, its config
section and its rows of the model table (:mod:`augintae_tf.config.model_table`). Its Keras class:
``augintae_tf.models.fastgan.model``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from augintae_tf.config.choices import DIFFAUGMENT_OPERATIONS, require
from augintae_tf.config.model_sections import ModelConfig
from augintae_tf.config.model_table import ModelRow


@dataclass
class FastGANConfig(ModelConfig):
    """FastGAN (Liu et al. 2021; see models/fastgan/model.py).  ``latent_dim`` is the noise size
    (FastGAN: 256); ``PRESET_DEFAULTS`` replace a preset's settings (not --set/--lr/
    --batch-size, nor those of a preset that names fastgan itself): the paper's Adam lr 2e-4,
    batch 8, constant lr, noise size 256."""

    PRESET_DEFAULTS: ClassVar[dict[str, Any]] = {"train.lr": 2e-4, "train.batch_size": 8,
                                                 "train.lr_drops": [], "model.latent_dim": 256}

    latent_dim: int = 256
    beta_1: float = 0.5  # FastGAN's Adam betas (0.5, 0.999)
    beta_2: float = 0.999
    ema_decay: float = 0.999  # generator weight average used for sampling and export
    ema_warmup: bool = True  # decay min(ema_decay, (1 + t) / (10 + t)) at step t (ours)
    recon_weight: float = 1.0  # weight of the two decoders' squared L2 losses in D's loss
    spectral_norm: bool = True
    p_translation: float = 0.6  # DiffAugment's probabilities per image (FastGAN's)
    p_cutout: float = 0.6
    p_brightness: float = 0.6
    p_saturation: float = 0.6
    p_contrast: float = 0.6
    p_flip: float = 0.5

    def check(self) -> None:
        for name in ("beta_1", "beta_2", "ema_decay"):
            require(0 <= getattr(self, name) < 1, f"model.{name}", getattr(self, name),
                    "a value in [0, 1)")
        require(self.recon_weight >= 0, "model.recon_weight", self.recon_weight, "a weight >= 0")
        for name in DIFFAUGMENT_OPERATIONS:
            value = getattr(self, f"p_{name}")
            require(0 <= value <= 1, f"model.p_{name}", value, "a probability in [0, 1]")

    def diffaugment_probabilities(self) -> dict[str, float]:
        return {name: getattr(self, f"p_{name}") for name in DIFFAUGMENT_OPERATIONS}


# The models of this family, in the order ``--model`` lists them.
MODELS = (
    ModelRow("fastgan", FastGANConfig, "augintae_tf.models.fastgan.model:FastGAN",
             "FastGAN: data-efficient GAN for a few hundred images (samples only)", image_sizes=(64, 128, 256)),
)
