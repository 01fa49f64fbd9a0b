"""AugIntAE and its AE baseline (appendix A.1), which trains on AugIntAE's data: the family's
TensorFlow-free spec, its config section and its rows of the model table
(:mod:`augintae_tf.config.model_table`). Its Keras classes: ``augintae_tf.models.augintae.model`` and ``.ae``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from augintae_tf.config.choices import ALPHAS, TARGETS, require
from augintae_tf.config.model_sections import AutoencoderConfig
from augintae_tf.config.model_table import ModelRow


@dataclass
class AugIntAEConfig(AutoencoderConfig):
    """ae / augintae: what the decoder is trained to produce, and an optional average of the
    weights for inference (augintae_tf.models.ema; FastGAN's decay and warm-up).

    ``target`` (:func:`augintae_tf.augment.interpolation_batch`):

    - ``augmentation`` (default; the paper's "recovering an image from data augmentations"):
      the image under the interpolated augmentation ``T(x; alpha * rho1 + (1 - alpha) * rho2)``.
      ``augintae`` decodes ``slerp(E(T(x; rho1)), E(T(x; rho2)), alpha)`` onto it; ``ae``
      reconstructs it (input = target: appendix A.1's baselines on AugIntAE's data);
    - ``blend``: the pixel blend ``alpha * T(x; rho1) + (1 - alpha) * T(x; rho2)``, the student
      report's reading (``ae`` then reconstructs the blend).  A saved config without the field
      trained this and loads with it (:data:`augintae_tf.run.directory.UNSAVED_MODEL_FIELDS`).

    ``alpha``: how training draws the interpolation weight (:func:`augintae_tf.latent.sample_alpha`):
    ``midpoint`` (default; the paper's mean of two uniforms) or ``uniform`` (alphas near 0 and 1,
    i.e. plain reconstructions of a view, as often as midpoints).  Few-shot generation keeps the
    paper's midpoint-biased alphas whatever this says.
    """

    # benchmarks/RESULTS.md, "bf16 as a recipe choice"
    BF16_MEASURED: ClassVar[tuple[str, ...]] = ("ae", "augintae")
    TARGETS: ClassVar[tuple[str, ...]] = TARGETS

    target: str = "augmentation"
    alpha: str = "midpoint"
    ema: bool = False  # generate/evaluate/export with an EMA of the encoder and generator
    ema_decay: float = 0.999
    ema_warmup: bool = True  # decay min(ema_decay, (1 + t) / (10 + t)) at step t

    def check(self) -> None:
        super().check()
        require(self.target in self.TARGETS, "model.target", self.target,
                " or ".join(self.TARGETS))
        require(self.alpha in ALPHAS, "model.alpha", self.alpha, " or ".join(ALPHAS))
        require(isinstance(self.ema, bool), "model.ema", self.ema, "true or false")
        require(isinstance(self.ema_warmup, bool), "model.ema_warmup", self.ema_warmup,
                "true or false")
        require(0 <= self.ema_decay < 1, "model.ema_decay", self.ema_decay, "a value in [0, 1)")


# The models of this family, in the order ``--model`` lists them.
MODELS = (
    ModelRow("augintae", AugIntAEConfig, "augintae_tf.models.augintae.model:AugIntAE",
             "AugIntAE: slerp between two augmentations of an image (the presets' model)"),
    ModelRow("ae", AugIntAEConfig, "augintae_tf.models.augintae.ae:AE",
             "autoencoder baseline"),
)
