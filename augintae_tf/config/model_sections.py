"""The model sections every family extends: :class:`ModelConfig` (``name``, ``backbone``,
``latent_dim``, ``width``: every model) and :class:`AutoencoderConfig` (every model built on
``Autoencoder``).  A family's own section lives in its spec
(``augintae_tf/models/<family>/spec.py``) and extends one of them with the family's constants as defaults.  Its fields are
``model.<field>`` in YAML and in ``--set``; its ``check()`` validates them (one-line ConfigErrors
through :func:`~augintae_tf.config.choices.require`).  The sections' inheritance mirrors the model
classes', and a field a model does not read is not in its section, so setting it is refused.
TensorFlow-free, so that checking an option never imports TensorFlow.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from augintae_tf.config.choices import (PIXEL_LOSSES, SAMPLER_SCALE, SAMPLERS, UPSAMPLING,
                                        require)

# Model fields that choose how a trained model generates, not what it is: a run's config.yaml may
# change them without retraining (its checkpoints stay valid; the latent-stats stage reads the
# neighbours).
INFERENCE_FIELDS = ("sampler", "sampler_scale", "sampler_neighbours")


@dataclass
class ModelConfig:
    """The fields every model has; a model family extends it with its own constants (the section
    in its spec), all settable as ``model.<field>``."""

    # The models of this section for which ``train.precision: auto`` may choose mixed_bfloat16 on
    # bf16 hardware: those whose few-shot quality measured the same in bf16 (precision.py).
    BF16_MEASURED: ClassVar[tuple[str, ...]] = ()

    name: str = "augintae"  # a model of augintae_tf.config.model_table
    backbone: str = "auto"  # auto: from the image size (config.choices.auto_backbone)
    latent_dim: int = 32
    width: float = 1.0  # channel multiplier of both networks (tests and quick looks use < 1)

    def check(self) -> None:
        """Validate the family's own fields (raise ConfigError via :func:`require`)."""


@dataclass
class AutoencoderConfig(ModelConfig):
    """The fields of every model built on :class:`~augintae_tf.models.autoencoder.Autoencoder` (an
    encoder and a generator from the backbone; ae, augintae, intae, augintae-adv, gaia, vae,
    wgan-gp): the generator's upsampling and the autoencoder's training pixel loss.  A model
    without that encoder/generator pair (fastgan, dagan, neural-statistician) has neither field,
    so ``--set model.pixel_loss=...`` is refused for it rather than silently ignored."""

    pixel_loss: str = "l2"  # training pixel loss: l2 (paper), l1, l1+l2, bce
    upsampling: str = "transpose"  # generator x2 steps: transpose (paper) or resize (nearest + conv)
    # Few-shot generation's default sampler and noise scale (`generate --sampler/--scale` override
    # them), and the neighbours per training latent of the latent-stats stage's local covariance.
    sampler: str = "slerp"  # the paper's
    sampler_scale: float = 0.7  # noise std in units of the local covariance's (RESULTS.md, "Samplers")
    sampler_neighbours: int = 10

    def check(self) -> None:
        require(self.pixel_loss in PIXEL_LOSSES, "model.pixel_loss", self.pixel_loss,
                " or ".join(PIXEL_LOSSES))
        require(self.upsampling in UPSAMPLING, "model.upsampling", self.upsampling,
                " or ".join(UPSAMPLING))
        require(self.sampler in SAMPLERS, "model.sampler", self.sampler, " or ".join(SAMPLERS))
        low, high = SAMPLER_SCALE
        require(isinstance(self.sampler_scale, (int, float)) and low <= self.sampler_scale <= high,
                "model.sampler_scale", self.sampler_scale, f"a number in [{low:g}, {high:g}]")
        require(isinstance(self.sampler_neighbours, int) and 1 <= self.sampler_neighbours <= 1000,
                "model.sampler_neighbours", self.sampler_neighbours, "an integer in [1, 1000]")
