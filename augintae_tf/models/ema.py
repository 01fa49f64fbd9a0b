"""Exponential moving averages of weights: :class:`ExponentialMovingAverage` of a list of
variables, and an autoencoder's averaged encoder/generator pair for inference (``model.ema``).

    shadow <- decay * shadow + (1 - decay) * value

The shadow variables belong to whoever creates them (a second copy of the network, so they are
saved with the model's weights and a resumed run restores them); the class only pairs them with
their sources.  ``update`` is plain ``assign`` arithmetic, so it runs inside a compiled
(``tf.function`` / XLA) train step.  FastGAN samples from its averaged generator (Liu et al. 2021
average G's parameters with decay 0.999 and sample from the average).

An autoencoder with ``model.ema`` (:func:`averaged_pair`) averages after every step

    E_ema <- d * E_ema + (1 - d) * E,   G_ema <- d * G_ema + (1 - d) * G
    d = ema_decay, or with ``ema_warmup`` (default) min(ema_decay, (1 + t) / (10 + t)) at step t

(FastGAN's warm-up, :func:`warmup_decay`).  Trainable weights are averaged; BatchNorm moving
statistics, already averages, are copied.  The averaged networks are a second encoder and
generator (``ema_encoder`` / ``ema_generator``) held by the model, so every checkpoint saves them
and a resumed run restores them.  Whenever an autoencoder runs with ``training=False``
(generation, evaluation, the validation loss, export's signatures) it uses the averaged pair;
training steps use the trained pair.
"""
from __future__ import annotations

from typing import Sequence

import tensorflow as tf


def warmup_decay(decay, num_updates) -> tf.Tensor:
    """``min(decay, (1 + n) / (10 + n))`` after ``n`` updates (``tf.train.ExponentialMovingAverage``'s
    ``num_updates`` rule): early averages follow the network instead of keeping ``decay^n`` of
    its random start (0.999^555 = 0.57 after a 555-step run)."""
    n = tf.cast(num_updates, tf.float32)
    return tf.minimum(tf.cast(decay, tf.float32), (1.0 + n) / (10.0 + n))


class ExponentialMovingAverage:
    """Pairs ``shadows[i]`` with ``sources[i]`` (same shapes; checked here).

    ``averaged``: which pairs are averaged; the others (e.g. BatchNorm moving statistics, which
    are already averages) are copied on every update.  Default: all averaged.
    """

    def __init__(self, sources: Sequence[tf.Variable], shadows: Sequence[tf.Variable],
                 averaged: Sequence[bool] | None = None):
        if len(sources) != len(shadows):
            raise ValueError(f"EMA needs one shadow per variable: {len(sources)} sources, "
                             f"{len(shadows)} shadows")
        for source, shadow in zip(sources, shadows):
            if tuple(source.shape) != tuple(shadow.shape):
                raise ValueError(f"EMA shadow {shadow.name} has shape {tuple(shadow.shape)}, its "
                                 f"source {source.name} {tuple(source.shape)}")
        self.sources, self.shadows = list(sources), list(shadows)
        self.averaged = [True] * len(self.sources) if averaged is None else list(averaged)

    def update(self, decay) -> None:
        """``shadow = decay * shadow + (1 - decay) * source`` (copy where not averaged)."""
        for source, shadow, average in zip(self.sources, self.shadows, self.averaged):
            value = tf.cast(tf.convert_to_tensor(source), shadow.dtype)
            if average:
                d = tf.cast(decay, shadow.dtype)
                value = d * tf.convert_to_tensor(shadow) + (1.0 - d) * value
            shadow.assign(value)

    def copy_sources(self) -> None:
        """Set every shadow to its source (the start of training: the average begins at G)."""
        for source, shadow in zip(self.sources, self.shadows):
            shadow.assign(tf.cast(tf.convert_to_tensor(source), shadow.dtype))


def averaging_enabled(setup) -> bool:
    """``model.ema`` of the setup's section (sections without the field: off)."""
    return bool(getattr(setup.section, "ema", False))


def averaged_pair(setup, encoder, generator, encoder_and_generator):
    """``(ema_encoder, ema_generator, average)`` of an autoencoder with ``encoder`` and
    ``generator`` when ``model.ema`` is on (``(None, None, None)`` when off): the pair built by
    ``encoder_and_generator(setup, "ema_")``, set to the trained weights and never trained, and
    the :class:`ExponentialMovingAverage` that updates it."""
    if not averaging_enabled(setup):
        return None, None, None
    ema_encoder, ema_generator = encoder_and_generator(setup, "ema_")
    for net in (ema_encoder, ema_generator):
        net.trainable = False  # no gradients, no optimizer slots: only the average writes them
    sources = [*encoder.weights, *generator.weights]
    trainable = [*encoder.trainable_weights, *generator.trainable_weights]
    average = ExponentialMovingAverage(
        sources, [*ema_encoder.weights, *ema_generator.weights],
        averaged=[any(v is t for t in trainable) for v in sources])
    average.copy_sources()
    return ema_encoder, ema_generator, average


def update_average(model, step) -> None:
    """One EMA update of ``model.weight_average`` after training step ``step`` (no-op when
    ``model.ema`` is off)."""
    if model.weight_average is None:
        return
    section = model.setup.section
    decay = warmup_decay(section.ema_decay, step) if section.ema_warmup else section.ema_decay
    model.weight_average.update(decay)


def inference_networks(model, training: bool):
    """(encoder, generator) a forward pass uses: the averaged pair outside training when on
    (and ``model.use_average``)."""
    if model.ema_encoder is not None and model.use_average and not training:
        return model.ema_encoder, model.ema_generator
    return model.encoder, model.generator
