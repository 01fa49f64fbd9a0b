"""What the two-player (generator against discriminator or critic) models share: the
compile/build/checkpoint conventions of :class:`TwoPlayer`, the second optimizer's loss scaling,
replica means of the players' statistics, a tracker of the latest value, and the Wasserstein
gradient penalty.

Distribution and precision, for every model here: each player's loss (or output gradient) is
divided by ``num_replicas_in_sync`` (``apply_gradients`` sums the replicas) and passed through its
optimizer's ``scale_loss`` (under mixed_float16 each optimizer is a ``LossScaleOptimizer``: Keras
wraps ``optimizer`` in ``compile``, :func:`loss_scaled` the second one); logged values are
unscaled.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from augintae_tf.config.schema import TrainConfig
from augintae_tf.distribute import step_outputs
from augintae_tf.models.contract import check_optimizer


def replica_mean(value) -> tf.Tensor:
    """``value`` averaged over the replicas of the current strategy (itself with one replica)."""
    if tf.distribute.get_strategy().num_replicas_in_sync > 1:
        context = tf.distribute.get_replica_context()
        if context is not None:  # replica context (inside strategy.run)
            return context.all_reduce(tf.distribute.ReduceOp.MEAN, value)
    return value


def loss_scaled(model: keras.Model, optimizer, compile_kwargs: dict, name: str):
    """``optimizer`` wrapped in a ``LossScaleOptimizer`` named ``name`` under mixed_float16 (as
    Keras wraps a model's own ``optimizer`` in ``compile``), else as given: what a model's second
    optimizer (a discriminator's, a critic's) needs before it is stored."""
    if (compile_kwargs.get("auto_scale_loss", True) and model.dtype_policy.name == "mixed_float16"
            and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer)):
        return keras.optimizers.LossScaleOptimizer(optimizer, name=name)
    return optimizer


class LatestValue(keras.metrics.Metric):
    """A tracker whose result is the last value given to it (not a mean): e.g. the current k.

    Its variable is averaged over replicas on read; every replica writes the same value.
    """

    def __init__(self, name: str, **kwargs):
        super().__init__(name=name, **kwargs)
        self._latest = self.add_variable(shape=(), initializer="zeros", dtype="float32",
                                         aggregation="mean", name="latest")

    def update_state(self, value):
        self._latest.assign(tf.cast(value, tf.float32))

    def result(self):
        return tf.identity(self._latest.value)


def gradient_penalty(critic, real, fake, eps) -> tf.Tensor:
    """``mean_i (||d critic(x_hat)/d x_hat_i|| - 1)^2`` at ``x_hat = eps*real + (1-eps)*fake``
    (``eps`` ``[B]``; the norm over every axis but the batch); differentiable with respect to the
    critic's variables (nested tape).  ``critic`` maps images to scores ``[B]`` or ``[B, 1]``
    (wgan-gp passes its discriminator, DAGAN a closure over the pair's seed)."""
    real, fake = tf.cast(real, tf.float32), tf.cast(fake, tf.float32)
    eps = tf.reshape(tf.cast(eps, tf.float32), [-1, 1, 1, 1])
    x_hat = eps * real + (1.0 - eps) * fake
    with tf.GradientTape() as tape:
        tape.watch(x_hat)
        total = tf.reduce_sum(tf.cast(critic(x_hat), tf.float32))  # rows are independent
    grads = tape.gradient(total, x_hat)
    norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + 1e-12)
    return tf.reduce_mean(tf.square(norms - 1.0))


class TwoPlayer:
    """compile/build/checkpoint conventions of models with a generator and a discriminator.

    ``optimizer`` trains :attr:`generator_variables` (encoder + generator), ``d_optimizer`` trains
    ``self.discriminator``.  Put it before the model class in the bases (augintae-adv, gaia,
    wgan-gp, dagan).
    """

    optimizer_names = ("optimizer", "d_optimizer")
    discriminator: keras.Model

    @classmethod
    def lr_policy(cls, train: TrainConfig, steps: int) -> float:
        """A constant learning rate: adversarial training destabilises when it drops."""
        return train.lr

    def networks(self) -> dict[str, keras.Model]:
        return {**super().networks(), "discriminator": self.discriminator}

    def compile(self, optimizer=None, d_optimizer=None, **kwargs):
        """Both optimizers are required instances (Keras' default would be RMSprop).  Under
        mixed_float16 Keras wraps ``optimizer`` in a LossScaleOptimizer; ``d_optimizer`` is
        wrapped here the same way.  Both are built at once on their own variables, so ``fit``
        never builds ``optimizer`` on the discriminator's variables too."""
        check_optimizer(optimizer, "optimizer")
        check_optimizer(d_optimizer, "d_optimizer")
        super().compile(optimizer=optimizer, **kwargs)
        self.d_optimizer = loss_scaled(self, d_optimizer, kwargs, "d_loss_scale_optimizer")
        self._build_optimizers()

    @property
    def generator_variables(self) -> list:
        """What ``optimizer`` trains: the encoder's and the generator's trainable variables (also
        for DAGAN, which is not an Autoencoder)."""
        return self.encoder.trainable_variables + self.generator.trainable_variables

    def _build_optimizers(self) -> None:
        if not self.optimizer.built:
            self.optimizer.build(self.generator_variables)
        if not self.d_optimizer.built:
            self.d_optimizer.build(self.discriminator.trainable_variables)

    def build_for_training(self) -> None:
        """Create every variable (both networks, both optimizers) before restoring a checkpoint."""
        self.require_compiled()
        images = tf.zeros([2, *self.setup.image_shape])
        self(images, training=False)
        self.discriminator(images, training=False)
        self._build_optimizers()

    @staticmethod
    def _replicas() -> int:
        return tf.distribute.get_strategy().num_replicas_in_sync

    def _train_logs(self) -> dict[str, tf.Tensor]:
        """Every tracker's value, plus ``loss`` = the pixel reconstruction loss (comparable with
        the non-adversarial models and with the validation ``loss``)."""
        logs = {metric.name: metric.result() for metric in self.metrics}
        logs["loss"] = logs["recon_loss"]
        return step_outputs(logs)
