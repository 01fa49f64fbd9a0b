"""Neural Statistician (Edwards and Storkey 2016): a hierarchical VAE over same-class sets.

Follows the omniglot model of the public PyTorch code the paper ran (conormdurkan/
neural-statistician, ``omniglot/omnimodel.py`` / ``omninets.py``), with one stochastic layer:

- shared encoder: the project's backbone encoder, image -> ``h`` (``hidden_dim`` units);
- statistic network ``q(c | D)``: a dense layer per element, **mean pooling over the set**, then
  ``hidden_layers`` dense layers -> ``(mu_c, logvar_c)`` (``c_dim``); pooling makes it invariant
  to the order of the set;
- inference network ``q(z | x, c)``: dense layers on ``[h, c]`` -> ``(mu_z, logvar_z)``;
- latent decoder (prior) ``p(z | c)``: dense layers on ``c`` -> ``(mu_z, logvar_z)``;
- observation decoder ``p(x | z, c)``: the backbone generator on ``[z, c]``, Bernoulli means.

Loss (their ``Statistician.loss``), per image of the batch of sets:
``recon = E log p(x | z, c)`` (Bernoulli log-likelihood, summed over pixels), ``kl = KL(q(c|D) ||
N(0, I)) + sum over the set KL(q(z|x,c) || p(z|c))``, both divided by ``sets * set_size``;
``loss = -(w * recon - kl / w)`` with ``w = 1 + alpha`` and ``alpha = 0.5^(step/anneal_steps)``
(their alpha starts at 1 and halves every epoch; here every ``anneal_steps`` steps, since a model
does not know its epoch length); logged ``vlb = recon - kl``.  Gradients are clipped element-wise
to ``[-clip, clip]`` (their ``--clip-gradients``, 0.5).  Adam at a constant ``train.lr``
(theirs: 1e-3, never dropped).

Differences from their code: the backbone conv encoder/decoder replace their 4-stage conv nets
(widths follow ``model.width``); no residual connections or BatchNorm in the dense nets; one
stochastic layer (their omniglot default); the per-step annealing above.

Few-shot (their ``sample_conditioned``): ``c`` = the mean ``mu_c`` of ``q(c | seeds)`` over the K
seeds, ``z ~ p(z | c)`` (stream ``[seed, 4]``), decode the Bernoulli means.
"""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

from augintae_tf.capabilities import Capability
from augintae_tf.distribute import step_outputs
from augintae_tf.augment import sub_seed
from augintae_tf.models.contract import ModelContract
from augintae_tf.models.build import ModelSetup
from augintae_tf.nets import build_encoder, build_generator
from augintae_tf.nets.blocks import scaled


def _mlp(x, units: int, depth: int, dtype: str):
    for _ in range(depth):
        x = layers.Dense(units, activation="relu", dtype=dtype)(x)
    return x


def _gaussian_head(x, size: int):
    """(mean, logvar) in float32."""
    return (layers.Dense(size, dtype="float32", name="out_mean")(x),
            layers.Dense(size, dtype="float32", name="out_logvar")(x))


def build_statistic_network(h_dim: int, units: int, depth: int, c_dim: int,
                            dtype: str = "float32") -> keras.Model:
    """Sets ``[B, N, h_dim]`` -> ``(mu_c, logvar_c)`` ``[B, c_dim]``; mean-pooled over N."""
    sets = keras.Input((None, h_dim), name="encodings")
    # per element (dense acts on the last axis)
    x = layers.Dense(units, activation="relu", dtype=dtype)(sets)
    # mean pooling over the set: invariant to the set's order and size
    x = layers.Lambda(lambda t: keras.ops.mean(t, axis=1), name="pool", dtype=dtype)(x)
    return keras.Model(sets, _gaussian_head(_mlp(x, units, depth, dtype), c_dim), name="statistic")


def build_inference_network(h_dim: int, c_dim: int, units: int, depth: int,
                            z_dim: int, dtype: str = "float32") -> keras.Model:
    """``(h [B, h_dim], c [B, c_dim])`` -> ``(mu_z, logvar_z)`` of ``q(z | x, c)``."""
    h, c = keras.Input((h_dim,), name="h"), keras.Input((c_dim,), name="c")
    x = layers.Concatenate(dtype=dtype)([h, c])
    return keras.Model([h, c], _gaussian_head(_mlp(x, units, depth, dtype), z_dim),
                       name="inference")


def build_prior_network(c_dim: int, units: int, depth: int, z_dim: int,
                        dtype: str = "float32") -> keras.Model:
    """``c [B, c_dim]`` -> ``(mu_z, logvar_z)`` of ``p(z | c)``."""
    c = keras.Input((c_dim,), name="c")
    return keras.Model(c, _gaussian_head(_mlp(c, units, depth, dtype), z_dim), name="prior")


def gaussian_kl(mean_q, logvar_q, mean_p, logvar_p) -> tf.Tensor:
    """``KL(N(mean_q, exp logvar_q) || N(mean_p, exp logvar_p))`` summed over the last axis."""
    return 0.5 * tf.reduce_sum(logvar_p - logvar_q + (tf.exp(logvar_q)
                                                      + tf.square(mean_q - mean_p))
                               / tf.exp(logvar_p) - 1.0, axis=-1)


def bernoulli_log_likelihood(x, mean, eps: float = 1e-6) -> tf.Tensor:
    """``sum x log p + (1 - x) log(1 - p)`` over every axis but the first."""
    mean = tf.clip_by_value(tf.cast(mean, tf.float32), eps, 1.0 - eps)
    x = tf.cast(x, tf.float32)
    ll = x * tf.math.log(mean) + (1.0 - x) * tf.math.log(1.0 - mean)
    return tf.reduce_sum(tf.reshape(ll, [tf.shape(ll)[0], -1]), axis=1)


def reparameterize(mean, logvar, seed) -> tf.Tensor:
    return mean + tf.exp(0.5 * logvar) * tf.random.stateless_normal(tf.shape(mean), seed)


class NeuralStatistician(ModelContract):
    """Encoder, statistic network, inference network, prior, decoder; trains on labelled sets
    (``batches = "sets"``, ``set_size`` 5)."""

    capabilities = frozenset({Capability.FEWSHOT})
    batches = "sets"
    extra_plots = {"elbo.png": ("vlb", "recon_ll", "kl")}

    def __init__(self, nets: dict[str, keras.Model], setup: ModelSetup, **kwargs):
        super().__init__(dtype=setup.dtype, **kwargs)
        self.encoder, self.statistic = nets["encoder"], nets["statistic"]
        self.inference, self.prior, self.decoder = nets["inference"], nets["prior"], nets["decoder"]
        self.setup = setup
        self.step_counter = self.add_step_counter()
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("loss", "vlb", "recon_ll", "kl")}

    @classmethod
    def from_setup(cls, setup: ModelSetup) -> "NeuralStatistician":
        m, dtype = setup.section, setup.dtype
        units = scaled(m.hidden_dim, m.width)
        depth = m.hidden_layers
        nets = {
            "encoder": build_encoder(setup.backbone, setup.image_size, setup.channels, units,
                                     m.width, name="encoder", dtype=dtype),
            "statistic": build_statistic_network(units, units, depth, m.c_dim, dtype),
            "inference": build_inference_network(units, m.c_dim, units, depth, m.z_dim, dtype),
            "prior": build_prior_network(m.c_dim, units, depth, m.z_dim, dtype),
            "decoder": build_generator(setup.backbone, setup.image_size, setup.channels,
                                       m.z_dim + m.c_dim, m.width, name="decoder", dtype=dtype),
        }
        return cls(nets, setup, name="neural_statistician")

    def serving_networks(self) -> dict[str, keras.Model]:
        return {"encoder": self.encoder, "statistic": self.statistic, "prior": self.prior,
                "decoder": self.decoder}

    def networks(self) -> dict[str, keras.Model]:
        return {**self.serving_networks(), "inference": self.inference}

    @classmethod
    def lr_policy(cls, train, steps: int) -> float:
        """A constant learning rate, as their code (Adam 1e-3 for 300 epochs, no drops)."""
        return train.lr

    @property
    def metrics(self):
        return list(self.trackers.values())

    # --- inference -------------------------------------------------------------------------
    def encode_sets(self, sets, training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        """Sets ``[B, N, S, S, C]`` -> (``h`` ``[B, N, hidden]``, ``mu_c``/``logvar_c`` pair)."""
        sets = tf.convert_to_tensor(sets, tf.float32)
        shape = tf.shape(sets)
        flat = tf.reshape(sets, tf.concat([[-1], shape[2:]], axis=0))
        h = tf.cast(self.encoder(flat, training=training), tf.float32)
        h = tf.reshape(h, [shape[0], shape[1], -1])
        return h, self.statistic(h, training=training)

    def decode(self, z, c, training: bool = False) -> tf.Tensor:
        """Bernoulli means ``p(x | z, c)`` as float32 images."""
        return tf.cast(self.decoder(tf.concat([z, c], axis=-1), training=training), tf.float32)

    def fewshot(self, seed_images, num, seed, batch_size: int | None = None,
                sampler: str | None = None, scale: float | None = None) -> tf.Tensor:
        """``num`` images: ``c`` = mean of ``q(c | seeds)``, ``z ~ p(z | c)``, decoded."""
        self.check_sampler(sampler)  # its own way only (no latent to sample)
        seed_images = tf.convert_to_tensor(seed_images, tf.float32)
        _, (mu_c, _) = self.encode_sets(seed_images[None])
        c = tf.repeat(mu_c, tf.cast(num, tf.int32), axis=0)
        mu_z, logvar_z = self.prior(c)
        z = reparameterize(mu_z, logvar_z,
                           tf.stack([tf.cast(seed, tf.int64), tf.constant(4, tf.int64)]))
        if batch_size is None or not tf.executing_eagerly() or int(num) <= batch_size:
            return self.decode(z, c)
        return tf.concat([self.decode(z[i:i + batch_size], c[i:i + batch_size])
                          for i in range(0, int(num), batch_size)], axis=0)

    def call(self, images, training: bool = False):
        """The images as one set: the decoder's means at ``z = mu(z | c)`` (builds the model)."""
        images = tf.cast(images, tf.float32)  # Keras casts call inputs to the policy's dtype
        _, (mu_c, _) = self.encode_sets(images[None], training)
        c = tf.repeat(mu_c, tf.shape(images)[0], axis=0)
        mu_z, _ = self.prior(c, training=training)
        return self.decode(mu_z, c, training)

    # --- training --------------------------------------------------------------------------
    def elbo_terms(self, sets, seed, training: bool = True) -> dict[str, tf.Tensor]:
        """``recon_ll`` and ``kl`` per image (module doc) for sets ``[B, N, S, S, C]``."""
        sets = tf.convert_to_tensor(sets, tf.float32)
        shape = tf.shape(sets)
        images = tf.reshape(sets, tf.concat([[-1], shape[2:]], axis=0))
        h, (mu_c, logvar_c) = self.encode_sets(sets, training)
        c = reparameterize(mu_c, logvar_c, sub_seed(seed, 4))
        c_each = tf.repeat(c, shape[1], axis=0)  # one row per image, set-major like ``images``
        mu_q, logvar_q = self.inference([tf.reshape(h, [shape[0] * shape[1], -1]), c_each],
                                        training=training)
        z = reparameterize(mu_q, logvar_q, sub_seed(seed, 5))
        mu_p, logvar_p = self.prior(c_each, training=training)
        count = tf.cast(shape[0] * shape[1], tf.float32)
        recon = tf.reduce_sum(bernoulli_log_likelihood(images, self.decode(z, c_each, training)))
        kl_c = tf.reduce_sum(gaussian_kl(mu_c, logvar_c, tf.zeros_like(mu_c),
                                         tf.zeros_like(logvar_c)))
        kl_z = tf.reduce_sum(gaussian_kl(mu_q, logvar_q, mu_p, logvar_p))
        return {"recon_ll": recon / count, "kl": (kl_c + kl_z) / count}

    def recon_weight(self) -> tf.Tensor:
        """``1 + 0.5^(step / anneal_steps)`` (1 when ``anneal_steps`` is 0)."""
        steps = self.setup.section.anneal_steps
        if not steps:
            return tf.constant(1.0, tf.float32)
        return 1.0 + tf.pow(0.5, tf.cast(self.step_counter.value, tf.float32) / steps)

    def build_for_training(self) -> None:
        self.require_compiled()
        self(tf.zeros([2, *self.setup.image_shape]))
        self.optimizer.build(self.trainable_variables)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Everything is built by :meth:`build_for_training` (a batch of sets is not what
        ``call`` takes, so Keras' own symbolic build must not run)."""
        if not self.built or not self.optimizer.built:
            raise ValueError("build_for_training() must run before fit()")

    def train_step(self, data):
        sets, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        weight = self.recon_weight()
        variables = self.trainable_variables
        with tf.GradientTape() as tape:
            terms = self.elbo_terms(sets, self.step_seed())
            loss = -(weight * terms["recon_ll"] - terms["kl"] / weight)
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled_loss = self.optimizer.scale_loss(loss / replicas)
        gradients = tape.gradient(scaled_loss, variables)
        clip = self.setup.section.clip
        if clip:  # element-wise, as their --clip-gradients (on the loss-scaled values' scale)
            limit = self.optimizer.scale_loss(tf.constant(clip, tf.float32))
            gradients = [None if g is None else tf.clip_by_value(g, -tf.cast(limit, g.dtype),
                                                                 tf.cast(limit, g.dtype))
                         for g in gradients]
        self.optimizer.apply_gradients(zip(gradients, variables))
        self.step_counter.assign_add(1)
        values = {"loss": loss, "vlb": terms["recon_ll"] - terms["kl"], **terms}
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return step_outputs({name: t.result() for name, t in self.trackers.items()})
