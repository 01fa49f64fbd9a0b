"""An exponential moving average of an autoencoder's weights for inference (``model.ema``).

    E_ema <- d * E_ema + (1 - d) * E,   G_ema <- d * G_ema + (1 - d) * G   after every step
    d = ema_decay, or with ``ema_warmup`` (default) min(ema_decay, (1 + t) / (10 + t)) at step t

(:mod:`augintae_tf.models.ema`, FastGAN's average and warm-up).  Trainable weights are averaged;
BatchNorm moving statistics, already averages, are copied.  The averaged networks are a second
encoder and generator (``ema_encoder`` / ``ema_generator``) held by the model, so they are saved
in every checkpoint with the other weights and a resumed run restores them.  Whenever an
autoencoder runs with ``training=False`` (generation, evaluation, the validation loss, export's
signatures) it uses the averaged pair; training steps use the trained pair.
"""
from __future__ import annotations

from augintae_tf.models.ema import ExponentialMovingAverage, warmup_decay


def averaging_enabled(setup) -> bool:
    """``model.ema`` of the setup's section (sections without the field: off)."""
    return bool(getattr(setup.section, "ema", False))


def attach_average(model, encoder_and_generator) -> None:
    """Give ``model`` (an :class:`~augintae_tf.models.autoencoder.Autoencoder`) its averaged pair when
    ``model.ema`` is on: ``model.ema_encoder``, ``model.ema_generator`` (``None`` when off)
    built by ``encoder_and_generator(setup, prefix)`` and set to the trained weights."""
    model.ema_encoder = model.ema_generator = None
    model._weight_average = None
    model.use_average = True  # False: inference on the trained pair (e.g. to score both)
    if not averaging_enabled(model.setup):
        return
    model.ema_encoder, model.ema_generator = encoder_and_generator(model.setup, "ema_")
    for net in (model.ema_encoder, model.ema_generator):
        net.trainable = False  # no gradients, no optimizer slots: only the average writes them
    sources = [*model.encoder.weights, *model.generator.weights]
    trainable = [*model.encoder.trainable_weights, *model.generator.trainable_weights]
    model._weight_average = ExponentialMovingAverage(
        sources, [*model.ema_encoder.weights, *model.ema_generator.weights],
        averaged=[any(v is t for t in trainable) for v in sources])
    model._weight_average.copy_sources()


def update_average(model, step) -> None:
    """One EMA update after training step ``step`` (no-op when ``model.ema`` is off)."""
    if model._weight_average is None:
        return
    section = model.setup.section
    decay = warmup_decay(section.ema_decay, step) if section.ema_warmup else section.ema_decay
    model._weight_average.update(decay)


def inference_networks(model, training: bool):
    """(encoder, generator) a forward pass uses: the averaged pair outside training when on
    (and ``model.use_average``)."""
    if model.ema_encoder is not None and model.use_average and not training:
        return model.ema_encoder, model.ema_generator
    return model.encoder, model.generator
