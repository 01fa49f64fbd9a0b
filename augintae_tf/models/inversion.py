"""GAN inversion (appendix A.2): a learned inversion network, then per-image latent refinement.

1. **Inversion network** (the ``encoder`` of a wgan-gp model): trained on images sampled from
   the frozen generator (inference mode) to regress their unit latents,
   ``MSE(l2_normalize(E(G(z))), z)`` with ``z`` on the noise sphere; SGD, lr ``inversion_lr``
   (1e-4), momentum ``inversion_momentum`` (0.1), ``inversion_steps`` (6,400) iterations of
   ``inversion_batch`` latents, lr / 10 after every ``inversion_drop_every`` (1,280) iterations.
   :func:`train_periods` runs them one lr period at a time; the stage runner
   (:mod:`augintae_tf.training.stages`) saves the network after every period in ``RUN/inversion/``,
   naming the GAN checkpoint it inverted, and rerunning the stage (``augintae-tf train --stage
   inversion``) starts it over.
2. **Refinement** (:func:`refine_latents`): ``refine_steps`` (1,000) iterations of plain SGD,
   lr ``refine_lr`` (0.01), on the L1 pixel loss of every image, starting from the network's guess,
   batched over images inside one compiled ``tf.function`` (a ``tf.while_loop``).  The loss is
   the SUM over images of each image's mean absolute pixel error, so every latent's step is that
   of its own image whatever the batch size; the generator sees ``l2_normalize(z)`` (the noise
   sphere it was trained on) and the result is normalised.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

import keras
import tensorflow as tf

from augintae_tf.latent import l2_normalize

STAGE = "inversion"  # the stage name (wgan-gp's ``stages``); its folder: RunLayout.stage


class InversionStage(keras.Model):
    """The inversion network and its SGD, as one object a checkpoint saves and restores."""

    def __init__(self, inverter: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.inverter = inverter

    def optimizers(self) -> dict[str, Any]:
        return {"optimizer": getattr(self, "optimizer", None)}

    def call(self, images, training: bool = False):
        return l2_normalize(self.inverter(images, training=training))


def inversion_optimizer(section) -> keras.optimizers.SGD:
    """SGD with the lr divided by 10 after every ``inversion_drop_every`` iterations."""
    lr = keras.optimizers.schedules.ExponentialDecay(
        section.inversion_lr, decay_steps=section.inversion_drop_every, decay_rate=0.1,
        staircase=True)
    return keras.optimizers.SGD(lr, momentum=section.inversion_momentum)


def make_stage(model) -> InversionStage:
    stage = InversionStage(model.encoder, name="inversion_stage")
    stage.compile(optimizer=inversion_optimizer(model.setup.section))
    stage.optimizer.build(model.encoder.trainable_variables)
    return stage


def inversion_step_fn(stage: InversionStage, generator: keras.Model, latent_dim: int, batch: int,
                      seed: int) -> Callable[[], tf.Tensor]:
    """A compiled function doing one SGD iteration; returns the batch's latent MSE."""
    variables = stage.inverter.trainable_variables

    @tf.function
    def step():
        key = tf.random.experimental.stateless_fold_in(
            tf.constant([seed, 9], tf.int64), stage.optimizer.iterations)
        z = l2_normalize(tf.random.stateless_normal([batch, latent_dim], key))
        images = tf.stop_gradient(tf.cast(generator(z, training=False), tf.float32))
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(stage(images, training=True) - z))
        stage.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    return step


def train_periods(model, stage: InversionStage) -> Iterator[tuple[int, float]]:
    """Train ``model.encoder`` (inside ``stage``, :func:`make_stage`) to invert
    ``model.generator`` (module docstring), one lr period at a time: yields (iterations done,
    the period's mean latent MSE) after each; ``model.inverter_ready()`` once all are done."""
    m = model.setup.section
    step = inversion_step_fn(stage, model.generator, m.latent_dim, m.inversion_batch,
                             model.setup.seed)
    done = 0
    while done < m.inversion_steps:
        n = min(m.inversion_drop_every, m.inversion_steps - done)
        losses = [float(step()) for _ in range(n)]
        done += n
        yield done, sum(losses) / len(losses)
    model.inverter_ready()


def restorable_stage(model) -> InversionStage:
    """An :class:`InversionStage` around ``model.encoder``, built (Keras refuses weights for
    unbuilt layers), without an optimizer: what a saved inversion network is restored into."""
    stage = InversionStage(model.encoder, name="inversion_stage")
    stage(tf.zeros([1, *model.setup.image_shape]))
    return stage


def _refine_loop(generator: keras.Model, steps: int, lr: float):
    @tf.function(reduce_retracing=True)
    def refine(images, z0):
        def body(i, z):
            with tf.GradientTape() as tape:
                tape.watch(z)
                decoded = tf.cast(generator(l2_normalize(z), training=False), tf.float32)
                loss = tf.reduce_sum(tf.reduce_mean(tf.abs(decoded - images), axis=[1, 2, 3]))
            return i + 1, z - lr * tape.gradient(loss, z)

        _, z = tf.while_loop(lambda i, z: i < steps, body, (tf.constant(0), z0))
        return l2_normalize(z)

    return refine


_REFINERS: dict[tuple[int, int, float], Any] = {}


def refine_latents(generator: keras.Model, images, z0, steps: int, lr: float) -> tf.Tensor:
    """``steps`` plain-SGD iterations of the per-image L1 loss from ``z0`` (module docstring);
    unit latents ``[B, D]``.  The compiled loop is cached per (generator, steps, lr)."""
    key = (id(generator), int(steps), float(lr))
    if key not in _REFINERS:
        _REFINERS[key] = _refine_loop(generator, int(steps), float(lr))
    return _REFINERS[key](tf.cast(images, tf.float32), tf.cast(z0, tf.float32))


def l1_error(generator: keras.Model, images, z) -> tf.Tensor:
    """Per-image mean absolute pixel error of ``generator(z)`` against ``images``: ``[B]``."""
    decoded = tf.cast(generator(z, training=False), tf.float32)
    return tf.reduce_mean(tf.abs(decoded - tf.cast(images, tf.float32)), axis=[1, 2, 3])
