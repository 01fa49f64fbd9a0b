"""IntAE baseline: interpolate between the latents of two DIFFERENT images (Berthelot et al. 2018,
Sainburg et al. 2018), the interpolative autoencoder the paper compares AugIntAE with.

Each image is augmented once (sub-seed 1) before pairing, so IntAE trains on the same augmented
data distribution as AugIntAE and AE (appendix A.1); the two ends of an interpolation are two
different images (a partner from the same batch,
:func:`~augintae_tf.models.autoencoder.partner_offset`'s roll), never two views of one image.  ``model.target`` says what the decoded interpolation is trained toward:

- ``critic`` (default): ACAI, "Understanding and Improving Interpolation in Autoencoders via an
  Adversarial Regularizer" (Berthelot et al. 2018; public code brain-research/acai, acai.py, read
  for the details, this is our own implementation).  The autoencoder reconstructs each augmented
  image ``x`` (``model.pixel_loss``) and decodes ``x_alpha = G(slerp(z_i, z_partner, alpha))``
  with alpha ~ U[0, 0.5] (ACAI's ``0.5 - |u - 0.5|``; we slerp where ACAI mixes linearly, as
  every interpolation in this package does).  A critic C (the encoder architecture with one
  output, built like augintae-adv's discriminator) learns to recover alpha:

      L_C  = mean((C(x_alpha) - alpha)^2) + mean(C(gamma * x + (1 - gamma) * x_hat)^2)
      L_AE = L_recon(x_hat, x) + lambda * mean(C(x_alpha)^2)

  lambda = ``model.critic_weight`` (ACAI's advweight 0.5), gamma = ``model.critic_gamma``
  (ACAI's reg 0.2).  The second critic term shows it near-real images as alpha 0 so it cannot
  just score reconstructions' blur.  ``optimizer`` trains encoder + generator on L_AE,
  ``critic_optimizer`` the critic on L_C, from one forward pass (ACAI updates both each step
  too).  This mode is its own class, :class:`CriticIntAE`.  Learning rate: the project's ``lr_policy`` (``train.lr_drops``; the recommended preset's
  is constant) rather than ACAI's fixed Adam 1e-4, so every model of a study shares one schedule.
- ``blend``: regress the decoded interpolation onto the pixel blend ``alpha * x + (1 - alpha) *
  x_partner`` with the triangular alpha of :func:`~augintae_tf.latent.sample_alpha` (no
  critic, one optimizer): :class:`IntAE` itself.

Distribution and precision follow models/two_player.py: both losses are divided by
``num_replicas_in_sync`` and passed through their optimizer's ``scale_loss`` (mixed_float16: a
LossScaleOptimizer each); the critic is trained and checkpointed but never served.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from augintae_tf.augment import blend, sub_seed
from augintae_tf.distribute import step_outputs
from augintae_tf.latent import slerp
from augintae_tf.models.autoencoder import Autoencoder, encoder_and_generator, partner_offset
from augintae_tf.models.ema import update_average
from augintae_tf.models.contract import check_optimizer, images_of
from augintae_tf.models.losses import pixel_loss
from augintae_tf.models.build import ModelSetup
from augintae_tf.models.two_player import loss_scaled
from augintae_tf.nets import build_encoder


# --- pure functions (tested directly) ----------------------------------------------------------
def critic_alphas(seed, batch_size) -> tf.Tensor:
    """ACAI's interpolation weights ``[B]``: ``0.5 - |u - 0.5|`` with u ~ U(0, 1), i.e. U[0, 0.5]."""
    u = tf.random.stateless_uniform(tf.reshape(tf.cast(batch_size, tf.int32), [1]), seed=seed)
    return 0.5 - tf.abs(u - 0.5)


def critic_losses(mix_scores, alpha, real_scores) -> tuple[tf.Tensor, tf.Tensor]:
    """``(L_C, L_fool)``, float32 means: the critic's loss
    ``mean((C(x_alpha) - alpha)^2) + mean(C(gamma x + (1 - gamma) x_hat)^2)`` and the
    autoencoder's critic term ``mean(C(x_alpha)^2)``.  Scores ``[B]`` or ``[B, 1]``; alpha ``[B]``.
    """
    mix = tf.reshape(tf.cast(mix_scores, tf.float32), [-1])
    real = tf.reshape(tf.cast(real_scores, tf.float32), [-1])
    alpha = tf.reshape(tf.cast(alpha, tf.float32), [-1])
    critic = tf.reduce_mean(tf.square(mix - alpha)) + tf.reduce_mean(tf.square(real))
    return critic, tf.reduce_mean(tf.square(mix))


def autoencoder_loss(recon, fool, weight) -> tf.Tensor:
    """ACAI's autoencoder loss ``L_recon + lambda * mean(C(x_alpha)^2)``."""
    return tf.cast(recon, tf.float32) + tf.cast(weight, tf.float32) * tf.cast(fool, tf.float32)


def zero_output_layer(critic: keras.Model) -> None:
    """Start the critic at C(x) = 0 for every image: its output layer ("out") zero-initialised.

    ACAI's critic is a convolutional map averaged over space, whose first scores are small.  Our
    encoder-architecture critic ends in a dense layer over 1024 features; with it randomly
    initialised, the critic's scores ran away within the first steps on glyphs (lr 1e-3), and the
    autoencoder term lambda * C(x_alpha)^2 drove the sigmoid generator into saturation, where the
    reconstruction loss stops falling (benchmarks/RESULTS.md, "IntAE's critic").  From zero the
    critic term grows only as fast as the critic learns to tell interpolations from
    reconstructions.
    """
    out = critic.get_layer("out")
    for weight in out.weights:
        weight.assign(tf.zeros_like(weight))


class IntAE(Autoencoder):
    """``target: blend``: decode the slerp between each image's latent and its partner's and
    regress it onto their pixel blend.  ``setup.section`` is an
    :class:`~augintae_tf.models.intae.spec.IntAEConfig`; under ``target: critic``,
    :meth:`from_setup` builds a :class:`CriticIntAE`."""

    critic: keras.Model | None = None  # CriticIntAE's: none under the blend target

    @classmethod
    def from_setup(cls, setup: ModelSetup) -> "IntAE":
        if cls is IntAE and setup.section.target == "critic":  # an IntAEConfig has the field
            return CriticIntAE.from_setup(setup)
        return cls(*encoder_and_generator(setup), setup, name=setup.section.name.replace("-", "_"))

    @staticmethod
    def partners(images, seed) -> tf.Tensor:
        """This step's roll offset (sub-seed 3; 0 is alpha, 1 and 2 are augmentations)."""
        return partner_offset(tf.shape(images)[0], sub_seed(seed, 3))

    def training_batch(self, images, seed):
        """(decoded interpolation, pixel blend of the two images)."""
        views = self.augment(images, seed, 1)
        z = self.encode(views, training=True)
        alpha = self.alphas(images, seed)
        offset = self.partners(images, seed)
        prediction = self.decode(slerp(z, tf.roll(z, offset, axis=0), alpha), training=True)
        return prediction, blend(views, tf.roll(views, offset, axis=0), alpha)


class CriticIntAE(IntAE):
    """``target: critic``: ACAI (module doc), with ``critic``, a one-output encoder-architecture
    network (as augintae-adv's discriminator), and its own ``critic_optimizer``."""

    optimizer_names = ("optimizer", "critic_optimizer")

    def __init__(self, encoder: keras.Model, generator: keras.Model, setup: ModelSetup,
                 critic: keras.Model, **kwargs):
        super().__init__(encoder, generator, setup, **kwargs)
        self.critic = critic
        self.critic_loss_tracker = keras.metrics.Mean(name="critic_loss")
        self.fool_tracker = keras.metrics.Mean(name="critic_fool_loss")

    @classmethod
    def from_setup(cls, setup: ModelSetup) -> "CriticIntAE":
        m = setup.section
        critic = build_encoder(setup.backbone, setup.image_size, setup.channels, 1, m.width,
                               name="critic", dtype=setup.dtype)
        zero_output_layer(critic)
        return cls(*encoder_and_generator(setup), setup, critic, name=m.name.replace("-", "_"))

    @property
    def metrics(self):
        return [self.recon_tracker, self.critic_loss_tracker, self.fool_tracker]

    def networks(self) -> dict[str, keras.Model]:
        return {**super().networks(), "critic": self.critic}

    def compile(self, optimizer=None, critic_optimizer=None, **kwargs):
        """Both optimizers are required instances (mixed_float16 wraps ``critic_optimizer`` in a
        LossScaleOptimizer as Keras wraps ``optimizer``); both are built on their own variables
        at once, so ``fit`` never builds ``optimizer`` on the critic's too."""
        check_optimizer(optimizer, "optimizer")
        check_optimizer(critic_optimizer, "critic_optimizer")
        super().compile(optimizer=optimizer, **kwargs)
        self.critic_optimizer = loss_scaled(self, critic_optimizer, kwargs,
                                            "critic_loss_scale_optimizer")
        self._build_optimizers()

    def _build_optimizers(self) -> None:
        if not self.optimizer.built:
            self.optimizer.build(self.generator_variables)
        if not self.critic_optimizer.built:
            self.critic_optimizer.build(self.critic.trainable_variables)

    def build_for_training(self) -> None:
        self.require_compiled()
        images = tf.zeros([2, *self.setup.image_shape])
        self(images, training=False)
        self.critic(images, training=False)
        self._build_optimizers()

    def training_batch(self, images, seed):
        """(reconstruction, augmented image): the pixel term of L_AE."""
        views = self.augment(images, seed, 1)
        return self.decode(self.encode(views, training=True), training=True), views

    def critic_batch(self, images, seed) -> dict[str, tf.Tensor]:
        """One forward pass of ACAI (module doc): views, reconstruction, interpolation, alpha,
        the critic's scores and the losses; runs under the tape."""
        section = self.setup.section
        views = self.augment(images, seed, 1)
        z = self.encode(views, training=True)
        alpha = critic_alphas(sub_seed(seed, 0), tf.shape(images)[0])
        offset = self.partners(images, seed)
        reconstruction = self.decode(z, training=True)
        mix = self.decode(slerp(z, tf.roll(z, offset, axis=0), alpha), training=True)
        gamma = section.critic_gamma
        near_real = gamma * views + (1.0 - gamma) * reconstruction
        # One critic call on both halves, as augintae-adv's discriminator: one pass per step.
        scores = tf.cast(self.critic(tf.concat([mix, near_real], axis=0), training=True),
                         tf.float32)
        mix_scores, real_scores = tf.split(scores, 2, axis=0)
        recon = pixel_loss(reconstruction, views, self.pixel_loss_kind)
        critic_loss, fool = critic_losses(mix_scores, alpha, real_scores)
        return {"views": views, "reconstruction": reconstruction, "mix": mix, "alpha": alpha,
                "mix_scores": mix_scores, "real_scores": real_scores, "recon_loss": recon,
                "critic_loss": critic_loss, "fool_loss": fool,
                "ae_loss": autoencoder_loss(recon, fool, section.critic_weight)}

    def train_step(self, data):
        images = images_of(data)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape(persistent=True) as tape:
            out = self.critic_batch(images, self.step_seed())
            # apply_gradients sums replicas: each contributes 1/N of its mean (Autoencoder.train_step).
            scaled_ae = self.optimizer.scale_loss(out["ae_loss"] / replicas)
            scaled_critic = self.critic_optimizer.scale_loss(out["critic_loss"] / replicas)
        generator_variables = self.generator_variables
        critic_variables = self.critic.trainable_variables
        ae_gradients = tape.gradient(scaled_ae, generator_variables)
        critic_gradients = tape.gradient(scaled_critic, critic_variables)
        del tape
        self.optimizer.apply_gradients(zip(ae_gradients, generator_variables))
        self.critic_optimizer.apply_gradients(zip(critic_gradients, critic_variables))
        update_average(self, self.step_counter.value)
        self.step_counter.assign_add(1)
        self.recon_tracker.update_state(out["recon_loss"])
        self.critic_loss_tracker.update_state(out["critic_loss"])
        self.fool_tracker.update_state(out["fool_loss"])
        return self._critic_logs()

    def _critic_logs(self) -> dict[str, tf.Tensor]:
        """Every tracker, plus ``loss`` = the pixel reconstruction loss (as augintae-adv logs)."""
        logs = {metric.name: metric.result() for metric in self.metrics}
        logs["loss"] = logs["recon_loss"]
        return step_outputs(logs)

