"""The config section of every model family: a dataclass extending :class:`ModelConfig`
(``name``, ``backbone``, ``latent_dim``, ``width``) with the family's own constants as defaults.
Its fields are ``model.<field>`` in YAML and in ``--set``; its ``check()`` validates them (one-line
ConfigErrors through :func:`~augintae_tf.config.choices.require`).  The sections' inheritance
mirrors the model classes': every model built on ``Autoencoder`` has an :class:`AutoencoderConfig`
(pixel loss, upsampling, sampler), and a field a model does not read is not in its section, so
setting it is refused.  Which model has which section: :mod:`augintae_tf.config.model_table`.
TensorFlow-free, so that checking an option never imports TensorFlow.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from augintae_tf.config.choices import (ALPHAS, DIFFAUGMENT_OPERATIONS, INTAE_TARGETS,
                                        PIXEL_LOSSES, SAMPLERS, TARGETS, UPSAMPLING, require)

# Model fields that choose how a trained model generates, not what it is: a run's config.yaml may
# change them without retraining (its checkpoints stay valid; the latent-stats stage reads the
# neighbours).
INFERENCE_FIELDS = ("sampler", "sampler_scale", "sampler_neighbours")


@dataclass
class ModelConfig:
    """The fields every model has; a model family extends it with its own constants (its section,
    below, or one a model file brings along), all settable as ``model.<field>``."""

    # The models of this section for which ``train.precision: auto`` may choose mixed_bfloat16 on
    # bf16 hardware: those whose few-shot quality measured the same in bf16 (precision.py).
    BF16_MEASURED: ClassVar[tuple[str, ...]] = ()

    name: str = "augintae"  # a row of augintae_tf.config.model_table
    backbone: str = "auto"  # auto: infogan <= 32 px, dcgan at 64 px, dcgan128 at 128 px
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
        require(isinstance(self.sampler_scale, (int, float)) and 0 <= self.sampler_scale <= 10,
                "model.sampler_scale", self.sampler_scale, "a number in [0, 10]")
        require(isinstance(self.sampler_neighbours, int) and 1 <= self.sampler_neighbours <= 1000,
                "model.sampler_neighbours", self.sampler_neighbours, "an integer in [1, 1000]")


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


@dataclass
class IntAEConfig(AugIntAEConfig):
    """intae: interpolations between DIFFERENT images (models/intae.py, models/acai.py).

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


@dataclass
class AdversarialConfig(AugIntAEConfig):
    """augintae-adv (appendix A.1): augintae's fields (``target``: the discriminator's real
    images are the target) and eq. 4's step size."""

    BF16_MEASURED: ClassVar[tuple[str, ...]] = ()  # its discriminator's bf16 quality is not measured

    k_rate: float = 0.001  # eq. 4's step size for the adversarial weight k

    def check(self) -> None:
        super().check()
        require(0 < self.k_rate <= 1, "model.k_rate", self.k_rate, "a step size in (0, 1]")


@dataclass
class GAIAConfig(AutoencoderConfig):
    """GAIA's balancing constants (Sainburg et al. 2018; see models/gaia.py)."""

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


@dataclass
class VAEConfig(AutoencoderConfig):
    """The VAE baseline (appendix A.1): encoder with 2 x latent outputs (mean, log-variance)."""

    beta: float = 1.0  # weight of the KL term

    def check(self) -> None:
        super().check()
        require(self.beta >= 0, "model.beta", self.beta, "a KL weight >= 0")


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


@dataclass
class DAGANConfig(ModelConfig):
    """DAGAN (Antoniou et al. 2017): U-Net generator, pair critic, WGAN-GP; see models/dagan.py
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


@dataclass
class StatisticianConfig(ModelConfig):
    """Neural Statistician (Edwards and Storkey 2016), the omniglot settings of
    conormdurkan/neural-statistician; see models/statistician.py."""

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


@dataclass
class FastGANConfig(ModelConfig):
    """FastGAN (Liu et al. 2021; see models/fastgan.py).  ``latent_dim`` is the noise size
    (FastGAN: 256); ``PRESET_DEFAULTS`` replace a preset's settings (not --set/--lr/
    --batch-size, nor those of a preset that names fastgan itself): the paper's Adam lr 2e-4,
    batch 8, constant lr, noise size 256."""

    PRESET_DEFAULTS: ClassVar[dict[str, Any]] = {"train.lr": 2e-4, "train.batch_size": 8,
                                                 "train.lr_drops": [], "model.latent_dim": 256}
    IMAGE_SIZES: ClassVar[tuple[int, ...]] = (64, 128, 256)  # its own networks, not a backbone

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
