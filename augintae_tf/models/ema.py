"""An exponential moving average of a list of variables (e.g. a generator's weights).

    shadow <- decay * shadow + (1 - decay) * value

The shadow variables belong to whoever creates them (typically a second copy of the network, so
they are saved with the model's weights and a resumed run restores them); this class only pairs
them with their sources.  ``update`` is plain ``assign`` arithmetic, so it runs inside a compiled
(``tf.function`` / XLA) train step.  Used by FastGAN to sample from the averaged generator
(Liu et al. 2021 average G's parameters with decay 0.999 and sample from the average).
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
