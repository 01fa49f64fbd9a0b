"""VAE baseline (``--model vae``, appendix A.1): "VAE encoders have output dimensionality twice the
above, as they predict both a mean and variance for each coordinate."

- **Encoder**: the backbone encoder with ``2 * latent_dim`` outputs, split into the posterior mean
  ``mu`` and log-variance ``logvar``; the generator is the backbone generator, fed ``z`` directly
  (no L2 normalisation: the prior is N(0, I)).
- **Loss** (per image, then the batch mean): ``||x - G(z)||^2`` summed over pixels plus
  ``beta * KL(N(mu, exp(logvar)) || N(0, I))`` summed over coordinates, with the reparameterised
  ``z = mu + exp(logvar / 2) * eps``.  The sum over pixels is a Gaussian likelihood of fixed
  variance; a per-pixel mean would weigh the KL ~H*W*C times more and collapse the posterior.
  ``recon_loss`` (and ``loss``) log the per-pixel MSE, comparable with the other models.
- **Training images**: one augmentation of each image (sub-seed 1), the data distribution every
  other model trains on; ``eps`` is sub-seed 4.
- **Few-shot**: slerp between the seeds' posterior means.  The AE family slerps unit latents; here
  the direction is slerped the same way and the norm interpolated linearly,
  ``z = slerp(mu_a/|mu_a|, mu_b/|mu_b|, alpha) * (alpha |mu_a| + (1 - alpha) |mu_b|)``: a linear
  blend of two means would cut through the low-norm middle of the Gaussian, where the decoder
  rarely saw a code, while the prior's mass lies on a shell of radius ~sqrt(D) (the same reason
  the AE family interpolates on the sphere).  ``sample(num)`` decodes N(0, I) draws.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from augintae_tf.capabilities import Capability
from augintae_tf.distribute import step_outputs
from augintae_tf.latent import l2_normalize, slerp
from augintae_tf.augment import sub_seed
from augintae_tf.models.autoencoder import Autoencoder
from augintae_tf.models.contract import images_of
from augintae_tf.models.losses import pixel_mse
from augintae_tf.models.build import ModelSetup
from augintae_tf.nets import build_encoder, build_generator


def kl_divergence(mu, logvar) -> tf.Tensor:
    """``KL(N(mu, exp(logvar)) || N(0, I))`` per example ``[B]``:
    ``0.5 * sum(exp(logvar) + mu^2 - 1 - logvar)``."""
    mu, logvar = tf.cast(mu, tf.float32), tf.cast(logvar, tf.float32)
    return 0.5 * tf.reduce_sum(tf.exp(logvar) + tf.square(mu) - 1.0 - logvar, axis=-1)


def norm_slerp(z_a, z_b, alpha) -> tf.Tensor:
    """Slerp of the directions, linear interpolation of the norms (module docstring)."""
    z_a, z_b = tf.cast(z_a, tf.float32), tf.cast(z_b, tf.float32)
    alpha = tf.reshape(tf.cast(alpha, tf.float32), [-1, 1])
    norm_a = tf.norm(z_a, axis=-1, keepdims=True)
    norm_b = tf.norm(z_b, axis=-1, keepdims=True)
    direction = slerp(l2_normalize(z_a), l2_normalize(z_b), alpha)
    return direction * (alpha * norm_a + (1.0 - alpha) * norm_b)


class VAE(Autoencoder):
    """Encoder (mean, log-variance) + generator; ``setup.section`` is a ``VAEConfig`` (beta)."""

    capabilities = frozenset({Capability.LATENT, Capability.FEWSHOT, Capability.SAMPLE})
    # Its latent is Gaussian, not on the unit sphere: only its own slerp of posterior means
    # (norm_slerp), and no latent-stats stage.
    samplers = ("slerp",)
    stages = ()

    def __init__(self, encoder: keras.Model, generator: keras.Model, setup: ModelSetup, **kwargs):
        super().__init__(encoder, generator, setup, **kwargs)
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        self.elbo_tracker = keras.metrics.Mean(name="vae_loss")

    @classmethod
    def from_setup(cls, setup: ModelSetup) -> "VAE":
        m = setup.section
        args = (setup.backbone, setup.image_size, setup.channels)
        encoder = build_encoder(*args, 2 * m.latent_dim, m.width, name="encoder",
                                dtype=setup.dtype)
        generator = build_generator(*args, m.latent_dim, m.width, name="generator",
                                    dtype=setup.dtype)
        return cls(encoder, generator, setup, name="vae")

    @property
    def metrics(self):
        return [self.recon_tracker, self.kl_tracker, self.elbo_tracker]

    def posterior(self, images, training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        """(mu, logvar), each float32 ``[B, D]``."""
        out = tf.cast(self.encoder(images, training=training), tf.float32)
        return tf.split(out, 2, axis=-1)

    def encode(self, images, training: bool = False) -> tf.Tensor:
        """The posterior mean (not normalised: the prior is N(0, I))."""
        return self.posterior(images, training)[0]

    def interpolate_latents(self, z_a, z_b, alpha, training: bool = False) -> tf.Tensor:
        return self.decode(norm_slerp(z_a, z_b, alpha), training)

    def sample(self, num, seed) -> tf.Tensor:
        """``num`` images decoded from N(0, I) draws (stream ``[seed, 5]``)."""
        shape = tf.stack([tf.cast(num, tf.int32), self.setup.section.latent_dim])
        z = tf.random.stateless_normal(shape, tf.stack([tf.cast(seed, tf.int64),
                                                        tf.constant(5, tf.int64)]))
        return self.decode(z)

    def losses_of(self, x, seed, training: bool = True) -> dict[str, tf.Tensor]:
        """``loss`` (the batch mean of the per-image objective), ``recon`` (pixel MSE) and
        ``kl`` (batch mean) for clean images ``x``."""
        mu, logvar = self.posterior(x, training)
        eps = tf.random.stateless_normal(tf.shape(mu), sub_seed(seed, 4))
        prediction = self.decode(mu + tf.exp(0.5 * logvar) * eps, training)
        sse = tf.reduce_sum(tf.square(prediction - tf.cast(x, tf.float32)), axis=[1, 2, 3])
        kl = kl_divergence(mu, logvar)
        beta = float(self.setup.section.beta)
        return {"loss": tf.reduce_mean(sse + beta * kl), "recon": pixel_mse(prediction, x),
                "kl": tf.reduce_mean(kl)}

    def train_step(self, data):
        seed = self.step_seed()
        x = self.augment(images_of(data), seed, 1)
        with tf.GradientTape() as tape:
            parts = self.losses_of(x, seed)
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled = self.optimizer.scale_loss(parts["loss"] / replicas)
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        self.step_counter.assign_add(1)
        self.recon_tracker.update_state(parts["recon"])
        self.kl_tracker.update_state(parts["kl"])
        self.elbo_tracker.update_state(parts["loss"])
        recon = self.recon_tracker.result()
        return step_outputs({"recon_loss": recon, "kl_loss": self.kl_tracker.result(),
                             "vae_loss": self.elbo_tracker.result(), "loss": recon})
