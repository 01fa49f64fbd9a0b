"""DAGAN (Antoniou, Storkey and Edwards 2017, arXiv 1711.04340): a generator that turns a seed
image and noise into another image of the seed's class, trained against a critic of same-class
pairs.  Unwritten details follow the authors' code (github.com/AntreasAntoniou/DAGAN:
``dagan_architectures.py``, ``dagan_networks_wgan.py``, ``experiment_builder.py``), read, not
copied.

- **Generator** ``G(x, z)`` (:mod:`augintae_tf.nets.pairs`): a U-Net.  The encoder keeps every
  level's feature map; the decoder upsamples from the deepest one and concatenates, at each
  level, the encoder's map of that level and finally the seed image itself (the skip
  connections), with ``z ~ N(0, I)`` (``noise_dim`` 100) projected to small maps concatenated
  into the first three decoder stages.  ``encoder`` and ``generator`` (the decoder) are the two
  networks; ``model.skips: false`` zeroes every skip (the seed and all maps but the deepest),
  an ablation.
- **Critic** ``D(x, y)``: the pair channel-concatenated, layer-normalised convolutions.  Real:
  ``(x, x')`` with ``x'`` another real image of ``x``'s class (the training data are same-class
  pairs of distinct images, :func:`augintae_tf.data.sets.make_set_dataset` with ``set_size`` 2);
  fake: ``(x, G(x, z))``.  WGAN-GP: critic loss ``E[D(x, G(x, z))] - E[D(x, x')] + lambda *
  GP``, generator loss ``-E[D(x, G(x, z))]`` (no reconstruction term: nothing ties ``G(x, z)``
  to ``x`` but the critic, which asks for a *different* image of the same class).
- **Gradient penalty** (:func:`~augintae_tf.models.two_player.gradient_penalty`): the seed
  channel fixed, ``y_hat = eps * x' + (1 - eps) * G(x, z)``, ``eps ~ U(0, 1)`` per pair,
  ``mean((||dD/dy_hat|| - 1)^2)`` with the norm over the whole image (the authors' code reduces
  one axis only; Gulrajani et al. take the whole norm).  ``lambda = 10``.
- **Schedule**: every train step is one critic update on a fresh batch of pairs; every
  ``critic_updates``-th step the encoder and decoder are updated too: every step by default
  (1:1, measured below), ``model.critic_updates: 5`` the authors' 5:1.
  Constant learning rate ``train.lr``, Adam with the authors' betas (0, 0.9).
- **Few-shot**: each requested image picks one of the K seeds (the first index of
  :func:`~augintae_tf.latent.sample_seed_pairs`, the project's one sampler) and fresh noise
  (stream ``[seed, 4]``), so a seed gives the same images in the CLI, evaluation and the export.
- Not done: the authors' random 90-degree rotations of training pairs (omniglot characters;
  a rotated digit is another digit) and their dropout.

Why the model this replaced drew training classes (issue 41).  It was the AugIntAE paper's own
re-implementation (its appendix A.5): the project's backbone encoder squeezed the seed into an
FC code, noise was concatenated to it, and the backbone generator decoded from that vector
alone; same pairs, same pair critic (2 x channels in), same WGAN-GP and 5:1 schedule.  Checked
one by one:

- the pairing and the critic's input were right: the data layer pairs distinct images of one
  class, and the critic's score depends on the seed channel (tests/test_fewshot_baselines.py);
- the noise's weight is not it: with 1 noise dimension instead of 32 the old model still turned
  every seed of an unseen class into a training class (tests/test_dagan_seed_class.py's set);
- the FC code is: the old generator could only draw what its decoder had learnt to draw from a
  code, so a seed of a class it did not learn became the nearest learnt class (0 of 40 images of
  the unseen class, 40 of 40 on the training classes), and on real digits 88.5 % of its images
  from novel digits were judged a training digit.  This U-Net keeps the seed spatial (its
  feature maps and the seed itself reach the decoder): 40 of 40 on the unseen class; so does
  the U-Net with its skips zeroed (its deepest map is still a spatial map, 3x3 there);
- the schedule decides how far training gets: on real digits at 32,000 images seen (32 pairs a
  batch, 500 critic updates) the 5:1 schedule gives the U-Net 100 generator updates and 51 %
  of its images from held-out training-class seeds are judged their digit (the old FC model:
  85.5 %); with one generator update per critic update (``model.critic_updates: 1``, 500
  updates) 87 %.  Figures: benchmarks/RESULTS.md, "DAGAN as its paper describes it".
"""
from __future__ import annotations

import keras
import tensorflow as tf

from augintae_tf.augment import sub_seed
from augintae_tf.capabilities import Capability
from augintae_tf.distribute import step_outputs
from augintae_tf.latent import sample_seed_pairs
from augintae_tf.models.contract import ModelContract
from augintae_tf.models.build import ModelSetup
from augintae_tf.models.two_player import TwoPlayer, gradient_penalty
from augintae_tf.nets.pairs import build_pair_critic, build_unet_decoder, build_unet_encoder


def wasserstein_losses(real_scores, fake_scores) -> tuple[tf.Tensor, tf.Tensor]:
    """(critic loss without the penalty, generator loss): ``E[D(fake)] - E[D(real)]``,
    ``-E[D(fake)]``, float32."""
    real_scores, fake_scores = tf.cast(real_scores, tf.float32), tf.cast(fake_scores, tf.float32)
    return tf.reduce_mean(fake_scores) - tf.reduce_mean(real_scores), -tf.reduce_mean(fake_scores)


def pairs_of(data) -> tuple[tf.Tensor, tf.Tensor]:
    """(seeds, reals) ``[B, S, S, C]`` from a batch of same-class sets ``[B, 2, S, S, C]``."""
    images, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    images = tf.cast(images, tf.float32)
    return images[:, 0], images[:, 1]


class DAGAN(TwoPlayer, ModelContract):
    """Seed encoder + generator (``optimizer``) and a pair critic (``d_optimizer``); trains on
    labelled pairs (``batches = "sets"``, ``set_size`` 2).  ``discriminator`` is the critic."""

    capabilities = frozenset({Capability.FEWSHOT})
    batches = "sets"
    extra_plots = {"critic.png": ("d_loss", "gp", "w_distance")}

    def __init__(self, encoder: keras.Model, generator: keras.Model, critic: keras.Model,
                 setup: ModelSetup, **kwargs):
        super().__init__(dtype=setup.dtype, **kwargs)
        self.encoder, self.generator, self.discriminator, self.setup = (encoder, generator,
                                                                        critic, setup)
        self.step_counter = self.add_step_counter()
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("g_loss", "d_loss", "gp", "w_distance")}

    @classmethod
    def from_setup(cls, setup: ModelSetup) -> "DAGAN":
        m, dtype = setup.section, setup.dtype
        args = (setup.image_size, setup.channels)
        return cls(build_unet_encoder(*args, m.width, name="encoder", dtype=dtype),
                   build_unet_decoder(*args, m.noise_dim, m.width, name="generator", dtype=dtype),
                   build_pair_critic(*args, m.width, name="critic", dtype=dtype),
                   setup, name="dagan")

    def optimizer_options(self) -> dict:
        """Both players' Adam betas (DAGAN's code: 0 and 0.9)."""
        return {"beta_1": self.setup.section.beta_1, "beta_2": self.setup.section.beta_2}

    def serving_networks(self) -> dict[str, keras.Model]:
        return {"encoder": self.encoder, "generator": self.generator}

    @property
    def metrics(self):
        return list(self.trackers.values())

    # --- generation ------------------------------------------------------------------------
    def noise(self, num, seed) -> tf.Tensor:
        return tf.random.stateless_normal(tf.stack([tf.cast(num, tf.int32),
                                                    self.setup.section.noise_dim]), seed)

    def generate_from(self, seeds, noise, training: bool = False) -> tf.Tensor:
        """``G(seed, noise)``: the U-Net's encoder maps, the noise injected into the decoder
        (nets/pairs.py), float32.  With ``model.skips`` false the decoder gets zeros instead of
        the seed and every map but the deepest (the ablation of the skip connections)."""
        seeds = tf.cast(seeds, tf.float32)
        features = list(self.encoder(seeds, training=training))
        if not self.setup.section.skips:
            seeds = tf.zeros_like(seeds)
            features[:-1] = [tf.zeros_like(f) for f in features[:-1]]
        return tf.cast(self.generator([seeds, *features, noise], training=training), tf.float32)

    def call(self, images, training: bool = False):
        """One image per seed image with zero noise (the generator's mode; builds the model)."""
        images = tf.cast(images, tf.float32)  # Keras casts call inputs to the policy's dtype
        zeros = tf.zeros(tf.stack([tf.shape(images)[0], self.setup.section.noise_dim]))
        return self.generate_from(images, zeros, training)

    def fewshot(self, seed_images, num, seed, batch_size: int | None = None,
                sampler: str | None = None, scale: float | None = None) -> tf.Tensor:
        """``num`` images, each from a random one of the K seeds and fresh noise (module doc)."""
        self.check_sampler(sampler)  # its own way only (no latent to sample)
        first, _, _ = sample_seed_pairs(tf.shape(seed_images)[0], num, seed)
        noise = self.noise(num, tf.stack([tf.cast(seed, tf.int64), tf.constant(4, tf.int64)]))
        chosen = tf.gather(tf.convert_to_tensor(seed_images, tf.float32), first)
        if batch_size is None or not tf.executing_eagerly() or int(num) <= batch_size:
            return self.generate_from(chosen, noise)
        return tf.concat([self.generate_from(chosen[i:i + batch_size], noise[i:i + batch_size])
                          for i in range(0, int(num), batch_size)], axis=0)

    # --- training --------------------------------------------------------------------------
    def critic_scores(self, seeds, others) -> tf.Tensor:
        """``D(seed, other)`` ``[B, 1]`` float32 on the channel-concatenated pair."""
        pairs = tf.concat([tf.cast(seeds, tf.float32), tf.cast(others, tf.float32)], axis=-1)
        return tf.cast(self.discriminator(pairs, training=True), tf.float32)

    def build_for_training(self) -> None:
        self.require_compiled()
        images = tf.zeros([2, *self.setup.image_shape])
        self(images)
        self.critic_scores(images, images)
        self._build_optimizers()

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Everything is built by :meth:`build_for_training`; Keras' own symbolic build would
        call the model on a batch of pairs, which is not its input."""
        if not self.built or not self.optimizer.built or not self.d_optimizer.built:
            raise ValueError("build_for_training() must run before fit()")

    # The steps have no tensor-dependent Python control flow, so autograph need not convert
    # them (it re-reads the source file to convert; once the file was edited under a running
    # session it converted the wrong lines: "tf__generator_step() missing ... 'seed'").
    @tf.autograph.experimental.do_not_convert
    def critic_step(self, seeds, reals, seed) -> dict[str, tf.Tensor]:
        """One critic update (applied); returns its loss, penalty and Wasserstein estimate."""
        m, replicas = self.setup.section, self._replicas()
        fake = tf.stop_gradient(self.generate_from(seeds, self.noise(tf.shape(seeds)[0],
                                                                     sub_seed(seed, 4)), True))
        eps = tf.random.stateless_uniform(tf.shape(seeds)[:1], sub_seed(seed, 5))
        variables = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            real_scores, fake_scores = (self.critic_scores(seeds, reals),
                                        self.critic_scores(seeds, fake))
            w_loss, _ = wasserstein_losses(real_scores, fake_scores)
            gp = gradient_penalty(lambda x: self.critic_scores(seeds, x), reals, fake, eps)
            d_loss = w_loss + m.gp_weight * gp
            scaled = self.d_optimizer.scale_loss(d_loss / replicas)
        self.d_optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        return {"d_loss": d_loss, "gp": gp, "w_distance": -w_loss}

    @tf.autograph.experimental.do_not_convert
    def generator_step(self, seeds, seed) -> tf.Tensor:
        """One encoder + generator update (applied); returns ``-E[D(seed, G(seed, noise))]``."""
        variables = self.generator_variables
        with tf.GradientTape() as tape:
            fake = self.generate_from(seeds, self.noise(tf.shape(seeds)[0], sub_seed(seed, 6)),
                                      training=True)
            _, g_loss = wasserstein_losses(tf.zeros([1]), self.critic_scores(seeds, fake))
            scaled = self.optimizer.scale_loss(g_loss / self._replicas())
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        return g_loss

    def train_step(self, data):
        seeds, reals = pairs_of(data)
        seed = self.step_seed()
        logs = self.critic_step(seeds, reals, seed)
        n = self.setup.section.critic_updates
        update = tf.equal(self.step_counter.value % n, n - 1)
        def generator_update():
            return self.generator_step(seeds, seed)

        def no_update():
            return tf.constant(0.0, tf.float32)

        g_loss = tf.cond(update, generator_update, no_update)
        self.trackers["g_loss"].update_state(g_loss, sample_weight=tf.cast(update, tf.float32))
        for name, value in logs.items():
            self.trackers[name].update_state(value)
        self.step_counter.assign_add(1)
        return self._train_logs()

    def _train_logs(self) -> dict[str, tf.Tensor]:
        logs = {name: tracker.result() for name, tracker in self.trackers.items()}
        logs["loss"] = logs["d_loss"]
        return step_outputs(logs)
