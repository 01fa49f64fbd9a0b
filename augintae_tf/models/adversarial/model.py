"""Adversarial AugIntAE (``augintae-adv``): AugIntAE plus an auxiliary LSGAN discriminator.

Appendix A.1 of the paper, equations 1-5:

    L_AE = L_recon + k * gamma * L_adv                                              (1)
    gamma = ||grad L_recon|| / ||grad L_adv||, computed per image                    (2)
    k_0 = 1;  k_{t+1} = clip(k_t - 0.001 * (1 - (D(x_real) - D(x_fake))), 0, 1)     (3-5)

How this module reads them:

- **Discriminator**: the encoder architecture with one output (``build_encoder(..., outputs=1)``),
  least-squares GAN.  Real images are the AugIntAE training targets of
  :meth:`AugIntAE.training_batch` (:func:`augintae_tf.augment.interpolation_batch` under
  ``model.target``: by default the image under the interpolated augmentation
  ``T(x; alpha * rho1 + (1 - alpha) * rho2)``, a real-looking image; under ``blend`` the pixel
  blend of two augmentations, the student report's reading), fake images are the decoded
  slerps ``x'``.  D minimises
  ``((D(real) - 1)^2 + D(fake)^2) / 2``; the generator's adversarial loss is
  ``L_adv = (D(fake) - 1)^2 / 2`` (batch means).  D sees real and fake in ONE call (one
  concatenated batch), so its BatchNorm statistics are those of the mixed batch (our choice: it
  is one discriminator pass per step, and D cannot tell real from fake by batch statistics).
- **gamma** (eq. 2) is taken with respect to the generated images: for image ``i``,
  ``gamma_i = ||dL_recon/dx'_i|| / ||dL_adv/dx'_i||`` and the gradient that enters the decoder and
  encoder is ``dL_recon/dx' + k * gamma_i * dL_adv/dx'`` - one backward pass through the
  generator with ``tape.gradient(x', variables, output_gradients=combined)``.  gamma is a
  constant (never differentiated); an image whose adversarial gradient is exactly zero gets
  ``gamma_i = 0`` (no NaN).  The rescaling makes both terms equally long per image, so eq. 1's
  "equally weighted" holds image by image whatever the scale of the LSGAN loss.
- **k** (eqs. 3-5) lives in the non-trainable model variable ``adv_k`` (saved with the weights,
  so a resumed run continues with its k).  The step uses the current k, then updates it from this
  step's mean D scores (on the discriminator's input before its update).  Under a
  ``tf.distribute`` strategy the mean scores are all-reduced (MEAN) first, so every replica
  computes the same new k.
- **Optimisers**: ``optimizer`` (encoder + generator) and ``d_optimizer`` (discriminator), both
  Adam at a constant learning rate (:meth:`~augintae_tf.models.two_player.TwoPlayer.lr_policy`).
- **Distribution and precision**: the generator's output gradient and the discriminator loss
  are divided by ``num_replicas_in_sync`` (``apply_gradients`` sums replicas), as in
  ``Autoencoder.train_step``; logged values are unscaled.  Under mixed_float16 each optimizer is a
  ``LossScaleOptimizer`` (Keras wraps ``optimizer``; :meth:`compile` wraps ``d_optimizer``):
  ``scale_loss`` multiplies by the dynamic scale and ``apply_gradients`` divides it out again and
  skips the step if any gradient is not finite.  For the output-gradient path:

  * ``dL_recon/dx'`` is computed in float32 straight from the float32 images: no scaling needed;
  * ``dL_adv/dx'`` flows back through the (float16) discriminator, so it is taken of
    ``optimizer.scale_loss(L_adv)``.  gamma_i * dL_adv/dx'_i equals
    ``||dL_recon/dx'_i|| * unit(dL_adv/dx'_i)``, which does not depend on that scale, so the
    combined gradient needs no unscaling (only the logged gamma is multiplied back);
  * the combined output gradient is multiplied by ``optimizer.scale_loss`` before the backward
    pass through the float16 generator - exactly as a scaled loss would be - and the generator
    optimizer unscales the variable gradients.  An overflow anywhere on this path (the
    discriminator backward included) makes those gradients non-finite, so the LossScaleOptimizer
    skips the step and lowers the scale: the same protection a plain scaled loss has.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from augintae_tf.models.adversarial.spec import AdversarialConfig
from augintae_tf.models.augintae.model import AugIntAE
from augintae_tf.models.autoencoder import encoder_and_generator
from augintae_tf.models.ema import update_average
from augintae_tf.models.contract import images_of
from augintae_tf.models.losses import pixel_loss
from augintae_tf.models.build import ModelSetup
from augintae_tf.models.two_player import LatestValue, TwoPlayer, replica_mean
from augintae_tf.nets import build_encoder


# --- pure functions (tested directly) ----------------------------------------------------------
def update_k(k, d_real, d_fake, rate: float = AdversarialConfig.k_rate) -> tf.Tensor:
    """Eqs. 4-5: ``clip(k - rate * (1 - (d_real - d_fake)), 0, 1)`` with the mean D scores.

    k falls while real and fake scores are separated by less than 1 and rises back (to at most 1)
    once the discriminator separates them by more than 1.
    """
    k, d_real, d_fake = (tf.cast(v, tf.float32) for v in (k, d_real, d_fake))
    return tf.clip_by_value(k - rate * (1.0 - (d_real - d_fake)), 0.0, 1.0)


def lsgan_losses(real_scores, fake_scores) -> tuple[tf.Tensor, tf.Tensor]:
    """(discriminator loss, generator adversarial loss) of least-squares GAN, float32 means.

    D: ``((D(real) - 1)^2 + D(fake)^2) / 2``; generator: ``(D(fake) - 1)^2 / 2``.
    """
    real_scores = tf.cast(real_scores, tf.float32)
    fake_scores = tf.cast(fake_scores, tf.float32)
    d_loss = 0.5 * (tf.reduce_mean(tf.square(real_scores - 1.0))
                    + tf.reduce_mean(tf.square(fake_scores)))
    g_loss = 0.5 * tf.reduce_mean(tf.square(fake_scores - 1.0))
    return d_loss, g_loss


def rescale_adversarial(recon_grad, adv_grad, k) -> tuple[tf.Tensor, tf.Tensor]:
    """Eqs. 1-2 per image: ``(recon_grad + k * gamma_i * adv_grad, gamma)``.

    ``recon_grad`` and ``adv_grad`` are ``[B, ...]`` gradients with respect to the generated
    images; ``gamma_i = ||recon_grad_i|| / ||adv_grad_i||`` (norms over all but the batch axis),
    0 where ``adv_grad_i`` is exactly zero.  Both results are constants (stop_gradient).
    """
    recon_grad = tf.stop_gradient(tf.cast(recon_grad, tf.float32))
    adv_grad = tf.stop_gradient(tf.cast(adv_grad, tf.float32))
    axes = list(range(1, recon_grad.shape.rank))
    recon_norm = tf.sqrt(tf.reduce_sum(tf.square(recon_grad), axis=axes))
    adv_norm = tf.sqrt(tf.reduce_sum(tf.square(adv_grad), axis=axes))
    nonzero = adv_norm > 0.0
    gamma = tf.where(nonzero, recon_norm / tf.where(nonzero, adv_norm, 1.0), 0.0)
    weight = tf.reshape(tf.cast(k, tf.float32) * gamma, [-1] + [1] * len(axes))
    return recon_grad + weight * adv_grad, gamma


# --- augintae-adv -------------------------------------------------------------------------------
class AdversarialAugIntAE(TwoPlayer, AugIntAE):
    """AugIntAE with the auxiliary LSGAN discriminator, per-image gamma and dynamic k (module doc).

    ``discriminator``: images ``[B, S, S, C]`` -> scores ``[B, 1]`` (the encoder architecture).
    ``setup.section`` is an :class:`~augintae_tf.models.adversarial.spec.AdversarialConfig` (``k_rate``).
    """

    extra_plots = {"k_gamma.png": ("adv_k", "gamma")}  # the dynamic k and the gamma rescaling

    def __init__(self, encoder: keras.Model, generator: keras.Model, discriminator: keras.Model,
                 setup: ModelSetup, **kwargs):
        super().__init__(encoder, generator, setup, **kwargs)
        self.discriminator = discriminator
        self.adv_k = self.add_weight(name="adv_k", shape=(), dtype="float32", initializer="ones",
                                     trainable=False, autocast=False,
                                     aggregation="only_first_replica")
        self.adv_tracker = keras.metrics.Mean(name="adv_loss")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.gamma_tracker = keras.metrics.Mean(name="gamma")
        self.k_tracker = LatestValue(name="adv_k")

    @property
    def metrics(self):
        return [self.recon_tracker, self.adv_tracker, self.d_loss_tracker, self.d_real_tracker,
                self.d_fake_tracker, self.gamma_tracker, self.k_tracker]

    def discriminator_scores(self, real, fake, training: bool = True
                             ) -> tuple[tf.Tensor, tf.Tensor]:
        """(D(real), D(fake)) as float32 ``[B, 1]``, from one call on the concatenated batch."""
        scores = tf.cast(self.discriminator(tf.concat([real, fake], axis=0), training=training),
                         tf.float32)
        return tf.split(scores, 2, axis=0)

    def compute_gradients(self, images, seed) -> dict[str, tf.Tensor]:
        """One step's gradients and statistics, nothing applied.

        Returns ``generator_gradients`` / ``discriminator_gradients`` (lists matching
        :attr:`generator_variables` / ``discriminator.trainable_variables``, already divided by
        the replica count and loss-scaled for their optimizers), ``output_gradient`` (the
        unscaled combined gradient with respect to the generated images), ``gamma`` ``[B]``,
        ``fake``, ``target``, and the float32 scalars ``recon_loss``, ``adv_loss``, ``d_loss``,
        ``d_real``, ``d_fake`` (mean scores).
        """
        replicas = self._replicas()
        with tf.GradientTape(persistent=True) as tape:
            fake, target = self.training_batch(images, seed)
            target = tf.stop_gradient(target)
            recon = pixel_loss(fake, target, self.pixel_loss_kind)
            real_scores, fake_scores = self.discriminator_scores(target, fake, training=True)
            d_loss, adv = lsgan_losses(real_scores, fake_scores)
            # Scaled so the backward pass through a float16 discriminator cannot underflow;
            # gamma * adv_grad does not depend on this scale (module docstring).
            scaled_adv = self.optimizer.scale_loss(adv)
            scaled_d_loss = self.d_optimizer.scale_loss(d_loss / replicas)
        recon_grad = tape.gradient(recon, fake)
        adv_grad = tape.gradient(scaled_adv, fake)
        combined, scaled_gamma = rescale_adversarial(recon_grad, adv_grad, self.adv_k.value)
        output_gradient = self.optimizer.scale_loss(combined / replicas)
        generator_gradients = tape.gradient(fake, self.generator_variables,
                                            output_gradients=output_gradient)
        discriminator_gradients = tape.gradient(scaled_d_loss,
                                                self.discriminator.trainable_variables)
        del tape
        gamma = scaled_gamma * self.optimizer.scale_loss(tf.constant(1.0, tf.float32))
        return {"generator_gradients": generator_gradients,
                "discriminator_gradients": discriminator_gradients,
                "output_gradient": combined, "gamma": gamma, "fake": fake, "target": target,
                "recon_loss": recon, "adv_loss": adv, "d_loss": d_loss,
                "d_real": tf.reduce_mean(real_scores), "d_fake": tf.reduce_mean(fake_scores)}

    def train_step(self, data):
        step = self.compute_gradients(images_of(data), self.step_seed())
        self.optimizer.apply_gradients(zip(step["generator_gradients"], self.generator_variables))
        self.d_optimizer.apply_gradients(zip(step["discriminator_gradients"],
                                             self.discriminator.trainable_variables))
        d_real, d_fake = replica_mean(step["d_real"]), replica_mean(step["d_fake"])
        new_k = update_k(self.adv_k.value, d_real, d_fake, self.setup.section.k_rate)
        self.adv_k.assign(new_k)
        update_average(self, self.step_counter.value)  # model.ema (no-op when off)
        self.step_counter.assign_add(1)
        self.recon_tracker.update_state(step["recon_loss"])
        self.adv_tracker.update_state(step["adv_loss"])
        self.d_loss_tracker.update_state(step["d_loss"])
        self.d_real_tracker.update_state(step["d_real"])
        self.d_fake_tracker.update_state(step["d_fake"])
        self.gamma_tracker.update_state(tf.reduce_mean(step["gamma"]))
        self.k_tracker.update_state(new_k)
        return self._train_logs()

    @classmethod
    def from_setup(cls, setup: ModelSetup) -> "AdversarialAugIntAE":
        """Encoder, generator and a one-output encoder-architecture discriminator."""
        m = setup.section
        discriminator = build_encoder(setup.backbone, setup.image_size, setup.channels, 1,
                                      m.width, name="discriminator", dtype=setup.dtype)
        return cls(*encoder_and_generator(setup), discriminator, setup,
                   name=m.name.replace("-", "_"))
