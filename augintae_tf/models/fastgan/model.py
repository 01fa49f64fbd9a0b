"""FastGAN ("lightweight GAN", Liu et al., ICLR 2021) for a few hundred images, as the Pegasus
report (shared/paper/lightweight-gan-pegasus.txt) describes it; networks in
:mod:`augintae_tf.nets.fastgan`.

One training step (batch of real images ``x`` in [0, 1], mapped to [-1, 1]):

    z ~ N(0, I) [B, latent_dim];  x_f = G(z)
    x_r' = DiffAugment(x_r), x_f' = DiffAugment(x_f)      (independent draws, sub-seeds 1 and 2)
    D step:  L_D = mean relu(1 - D(x_r')) + mean relu(1 + D(x_f'))            (hinge)
                   + recon_weight * (|dec_big(f8(x_r')) - down64(x_r')|^2
                                     + |dec_part(crop_q(f16(x_r'))) - up64(crop_q(x_r'))|^2)
             (squared L2 as pixel means; real images only; q one random quadrant per batch)
    G step:  L_G = -mean D(x_f')   with the updated D (as FastGAN-pytorch orders the two steps)
    EMA:     G_ema <- d * G_ema + (1 - d) * G   (trainable weights; BatchNorm statistics
             copied), the network ``sample`` and export use; d = ema_decay, or with
             ``ema_warmup`` (default) min(ema_decay, (1 + t) / (10 + t)) at step t (ours: with
             FastGAN's plain 0.999 a short run samples from a net still 0.999^t its random init).

Optimizers: ``optimizer`` (G) and ``d_optimizer`` (D and both decoders), Adam with the paper's
betas (0.5, 0.999) at a constant lr (``model.beta_1/2``; lr 2e-4 and batch 8 via
``FastGANConfig.PRESET_DEFAULTS``).  ``step_counter`` (saved with the weights) seeds every step, so
a resumed run continues its noise and augmentation streams.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from augintae_tf.augment import sub_seed
from augintae_tf.capabilities import Capability
from augintae_tf.config.schema import TrainConfig
from augintae_tf.distribute import step_outputs
from augintae_tf.latent import slerp
from augintae_tf.models.contract import ModelContract, check_optimizer, images_of
from augintae_tf.models.fastgan.diffaugment import diffaugment
from augintae_tf.models.ema import ExponentialMovingAverage, warmup_decay
from augintae_tf.models.build import ModelSetup
from augintae_tf.nets.fastgan import (DECODER_SIZE, build_decoder, build_fastgan_discriminator,
                                      build_fastgan_generator)


# --- pure functions (tested directly) ----------------------------------------------------------
def hinge_losses(real_logits, fake_logits) -> tuple[tf.Tensor, tf.Tensor]:
    """(D's hinge loss, G's loss): ``mean relu(1 - r) + mean relu(1 + f)`` and ``-mean f``."""
    real_logits = tf.cast(real_logits, tf.float32)
    fake_logits = tf.cast(fake_logits, tf.float32)
    d_loss = tf.reduce_mean(tf.nn.relu(1.0 - real_logits)) + \
        tf.reduce_mean(tf.nn.relu(1.0 + fake_logits))
    return d_loss, -tf.reduce_mean(fake_logits)


def quadrant(x, index) -> tf.Tensor:
    """Quadrant ``index`` (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right) of ``[B, H, W,
    C]`` (static even H, W); ``index`` may be a tensor (a dynamic slice, XLA-compatible)."""
    h, w = x.shape[1] // 2, x.shape[2] // 2
    index = tf.cast(index, tf.int32)
    return tf.slice(x, tf.stack([0, (index // 2) * h, (index % 2) * w, 0]),
                    tf.stack([-1, h, w, -1]))


def reconstruction_targets(real, index) -> tuple[tf.Tensor, tf.Tensor]:
    """(whole image resized to 64x64, quadrant ``index`` resized to 64x64): the decoders' targets
    (area resizing when shrinking, bilinear when enlarging)."""
    def to_size(x):
        method = "area" if x.shape[1] > DECODER_SIZE else "bilinear"
        return tf.image.resize(x, (DECODER_SIZE, DECODER_SIZE), method=method)
    return to_size(real), to_size(quadrant(real, index))


def noise(num, seed, dim: int) -> tf.Tensor:
    """Standard normal noise ``[num, dim]`` from an integer seed (scalar, int or tensor)."""
    seed = tf.stack([tf.cast(seed, tf.int64), tf.constant(13, tf.int64)])
    return tf.random.stateless_normal(tf.stack([tf.cast(num, tf.int32), dim]), seed,
                                      alg="philox")


class FastGAN(ModelContract):
    """Generator, its EMA copy, discriminator and two decoders; capability ``sample``."""

    capabilities = frozenset({Capability.SAMPLE})
    optimizer_names = ("optimizer", "d_optimizer")

    def __init__(self, generator, ema_generator, discriminator, decoder_big, decoder_part,
                 setup: ModelSetup, **kwargs):
        super().__init__(dtype=setup.dtype, **kwargs)
        self.generator, self.ema_generator = generator, ema_generator
        self.discriminator = discriminator
        self.decoder_big, self.decoder_part = decoder_big, decoder_part
        self.setup = setup
        self.noise_dim = setup.section.latent_dim
        self.step_counter = self.add_step_counter()
        self.trackers = {name: keras.metrics.Mean(name=name) for name in
                         ("d_loss", "g_loss", "recon_loss", "d_real", "d_fake")}
        self._ema = ExponentialMovingAverage(
            generator.weights, ema_generator.weights,
            averaged=[any(v is t for t in generator.trainable_weights) for v in generator.weights])
        self._ema.copy_sources()

    @classmethod
    def from_setup(cls, setup: ModelSetup) -> "FastGAN":
        m, s, c, dtype = setup.section, setup.image_size, setup.channels, setup.dtype
        nets = [build_fastgan_generator(s, c, m.latent_dim, m.width, m.spectral_norm, name=name,
                                        dtype=dtype)
                for name in ("generator", "ema_generator")]
        disc = build_fastgan_discriminator(s, c, m.width, m.spectral_norm, dtype=dtype)
        _, f16, f8 = disc.outputs
        big = build_decoder(f8.shape[-1], c, m.width, m.spectral_norm, name="decoder_big",
                            dtype=dtype)
        part = build_decoder(f16.shape[-1], c, m.width, m.spectral_norm, name="decoder_part",
                             dtype=dtype)
        return cls(*nets, disc, big, part, setup, name="fastgan")

    @classmethod
    def lr_policy(cls, train: TrainConfig, steps: int) -> float:
        """Constant, as in FastGAN."""
        return train.lr

    def optimizer_options(self) -> dict:
        return {"beta_1": self.setup.section.beta_1, "beta_2": self.setup.section.beta_2}

    def networks(self) -> dict[str, keras.Model]:
        return {"generator": self.generator, "discriminator": self.discriminator,
                "decoder_big": self.decoder_big, "decoder_part": self.decoder_part}

    def serving_networks(self) -> dict[str, keras.Model]:
        return {"generator": self.ema_generator}

    @property
    def metrics(self):
        return list(self.trackers.values())

    # --- inference -------------------------------------------------------------------------
    def generate_from_noise(self, z, training: bool = False, averaged: bool = True) -> tf.Tensor:
        """Noise ``[B, latent_dim]`` -> float32 images in [0, 1] (EMA generator by default)."""
        net = self.ema_generator if averaged else self.generator
        return (tf.cast(net(z, training=training), tf.float32) + 1.0) / 2.0

    def call(self, z, training: bool = False):
        return self.generate_from_noise(z, training)

    def sample(self, num, seed) -> tf.Tensor:
        """``num`` images from the averaged generator, a deterministic function of ``seed``."""
        return self.generate_from_noise(noise(num, seed, self.noise_dim))

    def interpolate_noise(self, z_a, z_b, alpha) -> tf.Tensor:
        """Images along the slerp from noise ``z_a`` (alpha = 1) to ``z_b`` (alpha = 0) at the
        norms' linear blend (slerp keeps Gaussian noise at a typical radius)."""
        alpha = tf.cast(alpha, tf.float32)
        na, nb = tf.norm(z_a, axis=-1, keepdims=True), tf.norm(z_b, axis=-1, keepdims=True)
        a = tf.reshape(alpha, [-1, 1]) if alpha.shape.rank else alpha
        z = slerp(z_a / na, z_b / nb, alpha) * (a * na + (1.0 - a) * nb)
        return self.generate_from_noise(z)

    # --- building ----------------------------------------------------------------------------
    def compile(self, optimizer=None, d_optimizer=None, **kwargs):
        check_optimizer(optimizer, "optimizer")
        check_optimizer(d_optimizer, "d_optimizer")
        super().compile(optimizer=optimizer, **kwargs)
        self.d_optimizer = d_optimizer

    @property
    def d_variables(self) -> list:
        return (self.discriminator.trainable_variables + self.decoder_big.trainable_variables
                + self.decoder_part.trainable_variables)

    def build_for_inference(self) -> None:
        self(tf.zeros([1, self.noise_dim]))  # through __call__, so Keras marks the model built
        self.generate_from_noise(tf.zeros([1, self.noise_dim]), averaged=False)

    def build_for_training(self) -> None:
        self.require_compiled()
        self.build_for_inference()
        self.discriminator(tf.zeros([1, *self.setup.image_shape]))
        if not self.optimizer.built:
            self.optimizer.build(self.generator.trainable_variables)
        if not self.d_optimizer.built:
            self.d_optimizer.build(self.d_variables)

    # --- training ----------------------------------------------------------------------------
    def augment(self, images, seed, index: int) -> tf.Tensor:
        probabilities = self.setup.section.diffaugment_probabilities()
        return diffaugment(images, sub_seed(seed, index), probabilities)

    def discriminator_loss(self, real_aug, fake_aug, seed) -> dict[str, tf.Tensor]:
        """Hinge + decoder reconstruction losses (module docstring) on augmented batches."""
        real_logits, f16, f8 = self.discriminator(real_aug, training=True)
        fake_logits, _, _ = self.discriminator(fake_aug, training=True)
        hinge, _ = hinge_losses(real_logits, fake_logits)
        index = tf.random.stateless_uniform([], sub_seed(seed, 3), 0, 4, dtype=tf.int32)
        target_big, target_part = reconstruction_targets(real_aug, index)
        rec_big = self.decoder_big(f8, training=True)
        rec_part = self.decoder_part(quadrant(f16, index), training=True)
        recon = (tf.reduce_mean(tf.square(rec_big - target_big))
                 + tf.reduce_mean(tf.square(rec_part - target_part)))
        return {"loss": hinge + self.setup.section.recon_weight * recon, "hinge": hinge,
                "recon": recon, "d_real": tf.reduce_mean(real_logits),
                "d_fake": tf.reduce_mean(fake_logits)}

    def compute_step(self, images, seed) -> dict[str, tf.Tensor]:
        """Update D, then compute G's gradients against the updated D (nothing applied to G)."""
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        real = images * 2.0 - 1.0
        z = tf.random.stateless_normal([tf.shape(images)[0], self.noise_dim], sub_seed(seed, 0))
        real_aug = self.augment(real, seed, 1)
        with tf.GradientTape() as g_tape:
            fake = tf.cast(self.generator(z, training=True), tf.float32)
            fake_aug = self.augment(fake, seed, 2)
        # D's update is recorded by no tape; G's gradient is then taken in two parts by the
        # chain rule: dL_G/dx_f' through the updated D, then back through DiffAugment and G.
        with tf.GradientTape() as d_tape:
            d = self.discriminator_loss(real_aug, tf.stop_gradient(fake_aug), seed)
            scaled_d = d["loss"] / replicas  # apply_gradients sums the replicas' gradients
        d_grads = d_tape.gradient(scaled_d, self.d_variables)
        self.d_optimizer.apply_gradients(zip(d_grads, self.d_variables))
        with tf.GradientTape() as out_tape:
            out_tape.watch(fake_aug)
            g_logits, _, _ = self.discriminator(fake_aug, training=True)
            _, g_loss = hinge_losses(g_logits, g_logits)
            scaled_g = g_loss / replicas
        output_gradient = out_tape.gradient(scaled_g, fake_aug)
        g_grads = g_tape.gradient(fake_aug, self.generator.trainable_variables,
                                  output_gradients=output_gradient)
        return {**d, "g_loss": g_loss, "d_grads": d_grads, "g_grads": g_grads, "fake": fake}

    def train_step(self, data):
        step = self.compute_step(images_of(data), self.step_seed())
        self.optimizer.apply_gradients(zip(step["g_grads"], self.generator.trainable_variables))
        decay = self.setup.section.ema_decay
        if self.setup.section.ema_warmup:
            decay = warmup_decay(decay, self.step_counter.value)
        self._ema.update(decay)
        self.step_counter.assign_add(1)
        values = {"d_loss": step["loss"], "g_loss": step["g_loss"], "recon_loss": step["recon"],
                  "d_real": step["d_real"], "d_fake": step["d_fake"]}
        for name, value in values.items():
            self.trackers[name].update_state(value)
        logs = {name: t.result() for name, t in self.trackers.items()}
        logs["loss"] = logs["d_loss"]
        return step_outputs(logs)

    def test_step(self, data):
        logs = {name: t.result() for name, t in self.trackers.items()}
        logs["loss"] = logs["d_loss"]
        return step_outputs(logs)
