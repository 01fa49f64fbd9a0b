"""WGAN-GP baseline (``--model wgan-gp``, appendix A.1) with GAN inversion (A.2).

- **Generator**: the backbone generator fed L2-normalised Gaussian noise of ``latent_dim``
  ("WGAN-GPs ... receive L2-normalized noise samples"); ``sample(num, seed)`` decodes such noise.
- **Critic**: the encoder architecture with 1 output (BatchNorm included: "the same architectures").
  Real and fake images go through it in ONE call (as augintae-adv's discriminator), so the batch
  statistics cannot tell them apart.
- **Losses** (Gulrajani et al. 2017): critic ``mean D(fake) - mean D(real) + gp_weight * GP`` with
  ``GP = mean_i (||grad_x D(x_hat_i)|| - 1)^2`` at ``x_hat = eps * real + (1 - eps) * fake``,
  ``eps ~ U(0, 1)`` per image; generator ``-mean D(fake)``.  ``wasserstein`` logs
  ``mean D(real) - mean D(fake)``.
- **Schedule**: each train step (one batch of real images: one augmentation each, sub-seed 1) is
  one critic update; every ``critic_steps``-th step (counted by ``d_optimizer.iterations``) also
  updates the generator ("update the generator only once per five discriminator updates"), so an
  epoch is one pass of the critic over the data.  ``train_epochs`` is ``train.epochs *
  epoch_factor`` (default 2: "WGAN-GPs train for twice as long"); the lr is constant (adversarial).
  ``optimizer`` trains the generator, ``d_optimizer`` the critic.
- **Inversion** (:mod:`augintae_tf.models.inversion`): the ``encoder`` attribute is the inversion network
  (encoder architecture, ``latent_dim`` outputs, L2-normalised); it is trained after the GAN by
  the ``inversion`` stage, with its own checkpoint in ``RUN/inversion/``.  ``encode`` = inversion
  network + per-image refinement; ``call`` (the reconstruction ``evaluate`` and ``reconstruct``
  use) decodes that; few-shot = encode the seeds, slerp on the sphere, generate.  The model has no
  ``latent`` capability: its latent space is the GAN's noise sphere, reached only by inversion.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from augintae_tf.capabilities import Capability
from augintae_tf.config.schema import TrainConfig
from augintae_tf.distribute import step_outputs
from augintae_tf.errors import RunError
from augintae_tf.latent import l2_normalize
from augintae_tf.augment import sub_seed
from augintae_tf.models import inversion
from augintae_tf.models.autoencoder import Autoencoder, encoder_and_generator
from augintae_tf.models.contract import images_of
from augintae_tf.models.build import ModelSetup
from augintae_tf.models.two_player import TwoPlayer, gradient_penalty
from augintae_tf.nets import build_encoder


def sphere_noise(num, latent_dim: int, seed) -> tf.Tensor:
    """``[num, latent_dim]`` L2-normalised Gaussian draws (stateless, shape-[2] ``seed``)."""
    shape = tf.stack([tf.cast(num, tf.int32), latent_dim])
    return l2_normalize(tf.random.stateless_normal(shape, seed))


class WGANGP(TwoPlayer, Autoencoder):
    """Generator + critic (``discriminator``) + inversion network (``encoder``); module docstring.
    ``setup.section`` is a ``WGANGPConfig``."""

    capabilities = frozenset({Capability.FEWSHOT, Capability.SAMPLE})
    stages = ("inversion",)
    # no local samplers: its latents come from the inversion (with 1,000 refinement steps per
    # image), too slow for the latent-stats stage's thousands of training images
    samplers = ("slerp", "convex")
    extra_plots = {"wgan.png": ("wasserstein", "gp")}

    def __init__(self, encoder, generator, discriminator, setup: ModelSetup, **kwargs):
        super().__init__(encoder, generator, setup, **kwargs)
        self.discriminator = discriminator
        self.inversion_ready = False  # set once the inversion stage trained or restored it
        self.refine_steps = setup.section.refine_steps  # evaluate's "inverted only" sets 0
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.gp_tracker = keras.metrics.Mean(name="gp")
        self.w_tracker = keras.metrics.Mean(name="wasserstein")

    @classmethod
    def from_setup(cls, setup: ModelSetup) -> "WGANGP":
        m = setup.section
        critic = build_encoder(setup.backbone, setup.image_size, setup.channels, 1, m.width,
                               name="critic", dtype=setup.dtype)
        inverter, generator = encoder_and_generator(setup)
        return cls(inverter, generator, critic, setup, name="wgan_gp")

    def train_epochs(self, train: TrainConfig) -> int:
        return train.epochs * self.setup.section.epoch_factor

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.gp_tracker, self.w_tracker]

    @property
    def generator_variables(self) -> list:
        """What ``optimizer`` trains: the generator only (the inversion stage has its own SGD)."""
        return self.generator.trainable_variables

    # --- inference ----------------------------------------------------------------------------
    def build_for_inference(self) -> None:
        images = tf.zeros([1, *self.setup.image_shape])
        self.encoder(images)
        self.discriminator(images)
        self.generator(tf.zeros([1, self.setup.section.latent_dim]))
        self.built = True  # without calling self (which would run the inversion)

    def build_for_training(self) -> None:
        self.require_compiled()
        self.build_for_inference()
        self._build_optimizers()

    def sample(self, num, seed) -> tf.Tensor:
        """``num`` images from the noise sphere (stream ``[seed, 5]``)."""
        seed = tf.stack([tf.cast(seed, tf.int64), tf.constant(5, tf.int64)])
        return self.decode(sphere_noise(num, self.setup.section.latent_dim, seed))

    def inverter_ready(self) -> None:
        """The inversion stage trained or restored ``encoder``
        (:func:`augintae_tf.models.inversion.train_periods`, the run's saved network):
        :meth:`invert` may run from now on."""
        self.inversion_ready = True

    def invert(self, images) -> tf.Tensor:
        """The inversion network's unit latents (no refinement)."""
        if not self.inversion_ready:
            raise RunError("this wgan-gp run has no trained inversion network; run `augintae-tf "
                           "train --stage inversion --run-dir RUN`")
        return l2_normalize(self.encoder(images, training=False))

    def encode(self, images, training: bool = False) -> tf.Tensor:
        """Inversion network, then ``refine_steps`` of per-image latent refinement."""
        z = self.invert(images)
        if self.refine_steps <= 0:
            return z
        m = self.setup.section
        return inversion.refine_latents(self.generator, tf.cast(images, tf.float32), z,
                                        self.refine_steps, m.refine_lr)

    def call(self, images, training: bool = False):
        return self.decode(self.encode(images))

    def reconstructs(self) -> bool:
        """Images in, images out through the inversion (``call``), though not ``LATENT``: its
        latent comes from an optimisation, not an encoder the export could serve."""
        return True

    def reconstruction_variants(self) -> dict:
        """The generalization study's extra row: the inversion network alone (no refinement)."""
        return {"_inverted": lambda images: self.decode(self.invert(images))}

    # --- training -----------------------------------------------------------------------------
    def critic_losses(self, real, seed) -> dict[str, tf.Tensor]:
        """The critic's loss and its parts for one batch (no update)."""
        m = self.setup.section
        batch = tf.shape(real)[0]
        fake = self.generator(sphere_noise(batch, m.latent_dim, sub_seed(seed, 5)), training=True)
        fake = tf.cast(fake, tf.float32)
        scores = tf.cast(self.discriminator(tf.concat([real, fake], 0), training=True), tf.float32)
        d_real, d_fake = tf.split(scores, 2, axis=0)
        eps = tf.random.stateless_uniform(tf.reshape(batch, [1]), sub_seed(seed, 6))
        gp = gradient_penalty(lambda x: self.discriminator(x, training=True), real, fake, eps)
        wasserstein = tf.reduce_mean(d_real) - tf.reduce_mean(d_fake)
        return {"d_loss": -wasserstein + m.gp_weight * gp, "gp": gp, "wasserstein": wasserstein}

    def generator_loss(self, batch, seed) -> tf.Tensor:
        noise = sphere_noise(batch, self.setup.section.latent_dim, sub_seed(seed, 7))
        fake = self.generator(noise, training=True)
        return -tf.reduce_mean(tf.cast(self.discriminator(fake, training=True), tf.float32))

    def critic_update(self, real, seed) -> dict[str, tf.Tensor]:
        variables = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            parts = self.critic_losses(real, seed)
            scaled = self.d_optimizer.scale_loss(parts["d_loss"] / self._replicas())
        self.d_optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        return parts

    def generator_update(self, batch, seed) -> tf.Tensor:
        variables = self.generator_variables
        with tf.GradientTape() as tape:
            loss = self.generator_loss(batch, seed)
            scaled = self.optimizer.scale_loss(loss / self._replicas())
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        self.g_loss_tracker.update_state(loss)
        return loss

    def train_step(self, data):
        seed = self.step_seed()
        real = self.augment(images_of(data), seed, 1)
        parts = self.critic_update(real, seed)
        # d_optimizer.iterations now counts this update too: every critic_steps-th one is followed
        # by a generator update.
        turn = tf.equal(self.d_optimizer.iterations % self.setup.section.critic_steps, 0)
        tf.cond(turn, lambda: self.generator_update(tf.shape(real)[0], seed),
                lambda: tf.constant(0.0))
        self.step_counter.assign_add(1)
        self.d_loss_tracker.update_state(parts["d_loss"])
        self.gp_tracker.update_state(parts["gp"])
        self.w_tracker.update_state(parts["wasserstein"])
        logs = {metric.name: metric.result() for metric in self.metrics}
        logs["loss"] = logs["d_loss"]
        return step_outputs(logs)

    def test_step(self, data):
        """The critic's Wasserstein estimate on held-out images (no reconstruction: inverting a
        batch is the evaluation's job)."""
        parts = self.critic_losses(tf.cast(images_of(data), tf.float32), self.step_seed())
        self.w_tracker.update_state(parts["wasserstein"])
        return step_outputs({"wasserstein": self.w_tracker.result(),
                             "loss": -self.w_tracker.result()})
