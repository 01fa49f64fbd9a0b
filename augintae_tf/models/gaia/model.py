"""GAIA (Sainburg et al., 2018): Generative Adversarial Interpolative Autoencoding, on this
project's backbones - the prior interpolative model the paper compares against.

Both players are autoencoders built with the project's builders:

- generator G = ``encoder`` + ``generator`` with the L2-normalised latent (the same networks as
  every other model here, so ``encode``/``decode``/``interpolate``/few-shot generation work as
  for AugIntAE);
- discriminator D = ``discriminator``, a second encoder/generator pair (``d_encoder``,
  ``d_generator``, latent L2-normalised too - our choice, for symmetry) in one Functional model
  mapping images to reconstructions, as in BEGAN.

One training step, with L1 errors ``e(a, b) = mean |a - b|`` (float32):

    x       one augmentation of each image (sub-seed 1; ours: the data distribution every other
            model trains on - GAIA trains on clean images)
    z       = encode(x);  x_g = decode(z)                                    (reconstructions)
    z_i     = slerp(z, z[partner], alpha);  x_i = decode(z_i)                (interpolations)
    e_real  = e(x, D(x))
    e_recon = e(x, D(x_g))          GAIA's code (and the blog's L_Gen) compare D(G(x)) with x,
                                    which is also what carries the pixel-reconstruction pressure
    e_interp = e(x_i, D(x_i))
    e_fake  = (e_recon + e_interp) / 2

- **Losses (GAIA text + GAIA's code).**  D minimises ``e_real - w_d * e_fake``: reconstruct real
  images well, generated ones poorly.  G minimises ``w_i * e_interp + (1 - w_i) * e_recon +
  STRUCTURE_WEIGHT * L_dist``.  GAIA's code has no separate pixel loss ``|x - G(x)|`` for the
  generator (the TF2 port computes one and never uses it); reconstruction is learned through
  ``e_recon``, so none is added here.  ``recon_loss`` is still logged: the pixel MSE of
  ``G(x)`` against ``x``, for comparison with the other models (it is not trained on).
- **Sigmoid balancing (GAIA's code).**  With ``s = SLOPE``:
  ``d_lr = sigmoid(s * (e_real - e_fake))`` and ``g_lr = 1 - d_lr`` scale the two networks'
  LEARNING RATES for this step (GAIA: ``lr_D = d_lr * lr_max``, ``lr_G = (1 - d_lr) * lr_max``).
  They are applied to the Adam learning rate itself - the optimizer's learning-rate variable is
  set to ``lr * factor`` for the update and restored right after - because Adam normalises
  gradient magnitudes: a factor on a loss or gradient largely cancels out of its step (exactly,
  for a constant factor), while a factor on the learning rate scales the step as GAIA intends.
  So a discriminator that already wins (small ``e_real``, large ``e_fake``) slows down and the
  generator speeds up; at balance each runs at half the configured rate, as in GAIA.
  The loss weights are GAIA's too: ``w_d = clip(sigmoid(s * (SIGMA * e_interp - e_real)), 0, 0.9)``
  and ``w_i = sigmoid(s * (e_interp - e_recon))``.  All four factors are constants
  (stop_gradient; GAIA's TF1 code differentiates through ``w_d``/``w_i``, which we take to be
  unintended) and, under a strategy, are computed from replica-averaged errors so every replica
  uses the same values.  Because ``e_recon`` also contains G's own reconstruction error and
  ``e_interp`` does not, early in training ``e_interp < e_recon``: ``w_i`` is small (G first
  learns to reconstruct) and ``d_lr`` is large (D first learns to autoencode) - GAIA's dynamics.
  ``SLOPE = 20`` is the value of GAIA's TF2 implementation; ``SIGMA = 0.5`` is the original
  (paper) code's.  Needs a constant learning rate (a float, as ``training.learning_rate`` gives
  adversarial models).
- **Structure consistency (GAIA text, code's normalisation).**  ``L_dist`` matches
  ``log(1 + d/mean(d))`` between pixel space (the batch ``x``) and latent space (``z``), where
  ``d`` are the pairwise squared Euclidean distances in the batch, mean-squared over all ``B^2``
  pairs (natural log and means as in GAIA's code; the text writes log2 and 1/B).  ``z`` is the
  L2-normalised latent, the space interpolation happens in.  The weight is GAIA's alpha "half the
  learning rate" taken literally as a constant: ``STRUCTURE_WEIGHT = 1e-4 / 2``, so it is a weak
  regulariser next to the adversarial errors (``--set model.structure_weight=...``).
- **Interpolations (ours).**  GAIA pairs the two halves of a batch and draws the coefficient from
  N(0.5, 0.25) (unclipped); we use the project's conventions instead - IntAE's partner pairing
  (a random roll without fixed points, sub-seed 3) and the triangular alpha in [0, 1] peaked at
  0.5 (mean of two uniforms, sd 0.20, sub-seed 0) with slerp - so the comparison with
  AugIntAE/IntAE differs only in the training objective, and interpolations stay between their
  endpoints on the sphere.
- Optimisers, mixed precision and replicas follow :mod:`augintae_tf.models.two_player`
  (``optimizer`` for G, ``d_optimizer`` for D; losses divided by the replica count and
  ``scale_loss``-d before the gradients; logged values unscaled).
"""
from __future__ import annotations

import keras
import tensorflow as tf

from augintae_tf.augment import sub_seed
from augintae_tf.models.gaia.spec import GAIAConfig
from augintae_tf.latent import slerp
from augintae_tf.models.autoencoder import Autoencoder, encoder_and_generator, partner_offset
from augintae_tf.models.contract import images_of
from augintae_tf.models.losses import pixel_mse
from augintae_tf.models.build import ModelSetup
from augintae_tf.models.two_player import TwoPlayer, replica_mean

# The constants (SLOPE, SIGMA, MAX_FAKE_WEIGHT, STRUCTURE_WEIGHT in the docstring) are the fields
# of GAIAConfig, ``model.slope`` ... in the run's config.


# --- pure functions (tested directly) ----------------------------------------------------------
def l1_error(a, b) -> tf.Tensor:
    """Mean absolute difference, float32."""
    return tf.reduce_mean(tf.abs(tf.cast(a, tf.float32) - tf.cast(b, tf.float32)))


def pairwise_squared_distances(points) -> tf.Tensor:
    """``[B, ...]`` -> ``[B, B]`` squared Euclidean distances between the flattened rows.

    Via the Gram matrix of the batch-centred rows (distances do not change under translation;
    centring keeps the cancellation small), clipped at 0, with an exact zero diagonal.
    """
    points = tf.cast(points, tf.float32)
    flat = tf.reshape(points, [tf.shape(points)[0], -1])
    flat = flat - tf.reduce_mean(flat, axis=0, keepdims=True)
    norms = tf.reduce_sum(tf.square(flat), axis=1)
    gram = tf.matmul(flat, flat, transpose_b=True)
    distances = tf.maximum(norms[:, None] + norms[None, :] - 2.0 * gram, 0.0)
    return distances * (1.0 - tf.eye(tf.shape(flat)[0], dtype=tf.float32))


def structure_loss(x, z) -> tf.Tensor:
    """GAIA's structure-consistency loss between a batch in pixel space and in latent space.

    ``mean_ij (log(1 + dx_ij / mean(dx)) - log(1 + dz_ij / mean(dz)))^2`` with ``d`` the pairwise
    squared distances: zero when the latent distances are a scaled copy of the pixel distances.
    """

    def normalised(points):
        d = pairwise_squared_distances(points)
        return d / tf.maximum(tf.reduce_mean(d), 1e-12)

    return tf.reduce_mean(tf.square(tf.math.log1p(normalised(x)) - tf.math.log1p(normalised(z))))


def gaia_balance(e_real, e_recon, e_interp, slope: float = GAIAConfig.slope,
                 sigma: float = GAIAConfig.sigma,
                 max_fake_weight: float = GAIAConfig.max_fake_weight) -> dict[str, tf.Tensor]:
    """GAIA's sigmoid balancing from the discriminator's three L1 errors (module docstring).

    ``d_lr``/``g_lr``: learning-rate factors of D and G (they sum to 1); ``d_fake_weight``: D's
    weight on the generated images' error; ``g_interp_weight``: G's weight on the interpolations'
    error (1 minus it on the reconstructions').  All are constants (stop_gradient).
    """
    e_real, e_recon, e_interp = (tf.stop_gradient(tf.cast(e, tf.float32))
                                 for e in (e_real, e_recon, e_interp))
    e_fake = 0.5 * (e_recon + e_interp)
    d_lr = tf.sigmoid(slope * (e_real - e_fake))
    return {"d_lr": d_lr, "g_lr": 1.0 - d_lr,
            "d_fake_weight": tf.clip_by_value(tf.sigmoid(slope * (sigma * e_interp - e_real)),
                                              0.0, max_fake_weight),
            "g_interp_weight": tf.sigmoid(slope * (e_interp - e_recon))}


def _apply_with_lr_factor(optimizer, gradients, variables, factor) -> None:
    """``apply_gradients`` with the learning rate multiplied by ``factor`` for this update only."""
    lr = optimizer.learning_rate
    base = tf.identity(lr.value)
    lr.assign(base * tf.cast(factor, base.dtype))
    optimizer.apply_gradients(zip(gradients, variables))
    lr.assign(base)


def autoencoder_network(encoder: keras.Model, generator: keras.Model, name: str) -> keras.Model:
    """One Functional model ``images -> generator(l2_normalise(encoder(images)))``."""
    inputs = keras.Input(encoder.input_shape[1:], name="images")
    normalize = keras.layers.UnitNormalization(axis=-1, dtype="float32", name="l2_normalize")
    z = normalize(encoder(inputs))
    return keras.Model(inputs, generator(z), name=name)


class GAIA(TwoPlayer, Autoencoder):
    """GAIA with an autoencoder discriminator (module docstring for every choice)."""

    extra_plots = {"balance.png": ("d_lr_scale", "d_fake_weight", "g_interp_weight")}

    def __init__(self, encoder: keras.Model, generator: keras.Model, discriminator: keras.Model,
                 setup: ModelSetup, **kwargs):
        super().__init__(encoder, generator, setup, **kwargs)
        # the structure-consistency loss's weight in G's loss (model.structure_weight)
        self.structure_weight = setup.section.structure_weight
        self.discriminator = discriminator
        names = ("g_loss", "d_loss", "d_real_error", "d_recon_error", "d_interp_error",
                 "structure_loss", "d_lr_scale", "d_fake_weight", "g_interp_weight")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}

    @property
    def metrics(self):
        return [self.recon_tracker, *self.trackers.values()]

    def compile(self, optimizer=None, d_optimizer=None, **kwargs):
        super().compile(optimizer, d_optimizer, **kwargs)
        for name, opt in (("optimizer", self.optimizer), ("d_optimizer", self.d_optimizer)):
            if not isinstance(opt.learning_rate, keras.Variable):
                raise ValueError(f"GAIA balances its two learning rates every step and needs a "
                                 f"constant learning rate; {name} has a schedule")

    def interpolation_batch(self, z, seed) -> tf.Tensor:
        """Latent slerps between each example and a partner (IntAE's pairing, the project's
        alpha): ``[B, D]``."""
        offset = partner_offset(tf.shape(z)[0], sub_seed(seed, 3))
        return slerp(z, tf.roll(z, offset, axis=0), self.alphas(z, seed))

    def compute_gradients(self, images, seed) -> dict[str, tf.Tensor]:
        """One step's gradients (divided by the replica count, loss-scaled), errors and balance
        factors; nothing applied.  Keys: ``generator_gradients``, ``discriminator_gradients``,
        ``recon_loss``, ``g_loss``, ``d_loss``, ``e_real``, ``e_recon``, ``e_interp``,
        ``structure_loss`` and the four :func:`gaia_balance` factors."""
        replicas = self._replicas()
        with tf.GradientTape(persistent=True) as tape:
            x = self.augment(images, seed, 1)
            z = self.encode(x, training=True)
            decoded = self.decode(tf.concat([z, self.interpolation_batch(z, seed)], axis=0),
                                  training=True)
            x_g, x_i = tf.split(decoded, 2, axis=0)
            judged = tf.cast(self.discriminator(tf.concat([x, x_g, x_i], axis=0), training=True),
                             tf.float32)
            d_x, d_xg, d_xi = tf.split(judged, 3, axis=0)
            e_real, e_recon, e_interp = l1_error(x, d_x), l1_error(x, d_xg), l1_error(x_i, d_xi)
            structure = structure_loss(x, z)
            m = self.setup.section
            balance = gaia_balance(replica_mean(e_real), replica_mean(e_recon),
                                   replica_mean(e_interp), m.slope, m.sigma, m.max_fake_weight)
            w_i, w_d = balance["g_interp_weight"], balance["d_fake_weight"]
            g_loss = w_i * e_interp + (1.0 - w_i) * e_recon + self.structure_weight * structure
            d_loss = e_real - w_d * 0.5 * (e_recon + e_interp)
            scaled_g = self.optimizer.scale_loss(g_loss / replicas)
            scaled_d = self.d_optimizer.scale_loss(d_loss / replicas)
        generator_gradients = tape.gradient(scaled_g, self.generator_variables)
        discriminator_gradients = tape.gradient(scaled_d, self.discriminator.trainable_variables)
        del tape
        return {"generator_gradients": generator_gradients,
                "discriminator_gradients": discriminator_gradients,
                "recon_loss": pixel_mse(x_g, x), "g_loss": g_loss, "d_loss": d_loss,
                "e_real": e_real, "e_recon": e_recon, "e_interp": e_interp,
                "structure_loss": structure, **balance}

    def train_step(self, data):
        step = self.compute_gradients(images_of(data), self.step_seed())
        _apply_with_lr_factor(self.optimizer, step["generator_gradients"],
                              self.generator_variables, step["g_lr"])
        _apply_with_lr_factor(self.d_optimizer, step["discriminator_gradients"],
                              self.discriminator.trainable_variables, step["d_lr"])
        self.step_counter.assign_add(1)
        self.recon_tracker.update_state(step["recon_loss"])
        for name, key in (("g_loss", "g_loss"), ("d_loss", "d_loss"), ("d_real_error", "e_real"),
                          ("d_recon_error", "e_recon"), ("d_interp_error", "e_interp"),
                          ("structure_loss", "structure_loss"), ("d_lr_scale", "d_lr"),
                          ("d_fake_weight", "d_fake_weight"),
                          ("g_interp_weight", "g_interp_weight")):
            self.trackers[name].update_state(step[key])
        return self._train_logs()

    @classmethod
    def from_setup(cls, setup: ModelSetup) -> "GAIA":
        """GAIA's generator AE and discriminator AE, both from the setup's backbone builders."""
        discriminator = autoencoder_network(*encoder_and_generator(setup, prefix="d_"),
                                            name="discriminator")
        return cls(*encoder_and_generator(setup), discriminator, setup,
                   name=setup.section.name.replace("-", "_"))
