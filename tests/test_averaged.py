"""model.ema for the autoencoders: the average's arithmetic, BatchNorm copies, inference on the
averaged pair, export/serving networks, checkpoint round trip and config validation."""
import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from augintae_tf.config import ConfigError, load_config
from augintae_tf.models import build_model
from augintae_tf.config.model_table import as_section
from conftest import small_model_config

SIZE = 12


def averaged_model(name="augintae", decay=0.5, warmup=False, ema=True):
    cfg = small_model_config(name, SIZE)
    cfg.model = dataclasses.replace(as_section(cfg.model), ema=ema, ema_decay=decay,
                                    ema_warmup=warmup)
    model = build_model(cfg)
    model.compile(keras.optimizers.Adam(1e-2))
    model.build_for_training()
    return model


def batch(seed=0):
    return tf.constant(np.random.default_rng(seed).uniform(size=(4, SIZE, SIZE, 1)), tf.float32)


def trained_and_averaged(model):
    return ([v.numpy().copy() for v in [*model.encoder.weights, *model.generator.weights]],
            [v.numpy().copy() for v in [*model.ema_encoder.weights, *model.ema_generator.weights]])


@pytest.mark.parametrize("warmup", [False, True])
def test_average_follows_the_numpy_recursion(warmup):
    """shadow_0 = w_0; shadow_t = d_t shadow_{t-1} + (1 - d_t) w_t for trainable weights,
    d_t = 0.5 (or min(0.5, (1 + t) / (10 + t)) with warm-up); BatchNorm statistics copied."""
    model = averaged_model(decay=0.5, warmup=warmup)
    trainable_ids = {id(v) for v in [*model.encoder.trainable_weights,
                                     *model.generator.trainable_weights]}
    averaged = [id(v) in trainable_ids for v in [*model.encoder.weights, *model.generator.weights]]
    trained, shadow = trained_and_averaged(model)
    for w, s in zip(trained, shadow):
        np.testing.assert_array_equal(w, s)  # starts at the trained weights
    expected = shadow
    for t in range(3):
        model.train_step(batch(t))
        trained, shadow = trained_and_averaged(model)
        d = min(0.5, (1 + t) / (10 + t)) if warmup else 0.5
        expected = [d * e + (1 - d) * w if avg else w
                    for e, w, avg in zip(expected, trained, averaged)]
        for e, s in zip(expected, shadow):
            np.testing.assert_allclose(s, e, rtol=1e-5, atol=1e-6)
    assert any(not np.allclose(w, s) for w, s, avg in zip(trained, shadow, averaged) if avg)
    assert sum(not avg for avg in averaged) > 0  # BatchNorm moving statistics were among them


def test_inference_and_serving_use_the_averaged_pair_training_the_trained_one():
    model = averaged_model()
    model.train_step(batch(0))
    model.train_step(batch(1))
    x = batch(2)
    z = model.encode(x)
    np.testing.assert_allclose(z.numpy(), tf.math.l2_normalize(model.ema_encoder(x), -1).numpy(),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.decode(z).numpy(), model.ema_generator(z).numpy(), atol=1e-6)
    assert not np.allclose(model.decode(z).numpy(), model.generator(z).numpy(), atol=1e-4)
    np.testing.assert_allclose(model.decode(z, training=True).numpy(),
                               model.generator(z, training=True).numpy(), atol=1e-6)
    assert model.serving_networks() == {"encoder": model.ema_encoder,
                                        "generator": model.ema_generator}
    model.use_average = False  # the trained pair, e.g. to score both from one run
    np.testing.assert_allclose(model.decode(z).numpy(), model.generator(z).numpy(), atol=1e-6)
    model.use_average = True
    assert model.networks() == {"encoder": model.encoder, "generator": model.generator}
    # the averaged pair gets no gradients and no optimizer slots
    names = {v.path for v in model.trainable_variables}
    assert not any(v.path in names for v in model.ema_generator.weights)


def test_off_by_default_and_for_the_paper_presets():
    model = build_model(small_model_config("ae", SIZE))
    assert model.ema_encoder is None and model.ema_generator is None
    assert model.serving_networks() == {"encoder": model.encoder, "generator": model.generator}
    assert load_config("glyphs").model.ema is False


def test_checkpoint_round_trip_restores_the_average(tmp_path):
    from augintae_tf.run import checkpoints, model_state

    model = averaged_model()
    model.train_step(batch(0))
    model.train_step(batch(1))
    model_state.save(tmp_path, model, 1, {"step": 2})
    fresh = averaged_model()
    model_state.restore(checkpoints.latest_checkpoint(tmp_path), fresh)
    for a, b in zip(trained_and_averaged(model)[1], trained_and_averaged(fresh)[1]):
        np.testing.assert_array_equal(a, b)
    x = batch(3)
    np.testing.assert_allclose(fresh(x).numpy(), model(x).numpy(), atol=1e-6)


@pytest.mark.parametrize("overrides, message", [
    ({"model.ema_decay": 1.0}, "model.ema_decay: 1.0 is not allowed; expected a value in [0, 1)"),
    ({"model.ema_decay": -0.1}, "model.ema_decay: -0.1 is not allowed; expected a value in [0, 1)"),
])
def test_ema_options_are_validated(overrides, message):
    with pytest.raises(ConfigError) as info:
        load_config("recommended", overrides)
    assert str(info.value) == message


def test_export_serves_the_averaged_weights(tmp_path):
    """A run with model.ema exported: the served reconstruct/decode are the averaged pair's,
    not the trained pair's (the checkpoint holds both)."""
    from augintae_tf.run import checkpoints, model_state
    from augintae_tf.inference.export import export_run

    run = tmp_path / "run"
    run.mkdir()
    cfg = load_config("glyphs", {"data.image_size": SIZE, "model.latent_dim": 8, "model.width": 0.25,
                                 "model.ema": True, "model.ema_decay": 0.5, "model.ema_warmup": False})
    cfg.save(run / "config.yaml")
    model = build_model(cfg)
    model.compile(keras.optimizers.Adam(1e-2))
    model.build_for_training()
    for t in range(2):
        model.train_step(batch(t))
    model_state.save(run / "checkpoints", model, 1, {"step": 2})
    result = export_run(run, tmp_path / "serving", verify=False)
    served = tf.saved_model.load(str(result.path)).signatures
    x = batch(5).numpy()
    recon = served["reconstruct"](images=tf.constant(x))["images"].numpy()
    averaged = model.ema_generator(tf.math.l2_normalize(model.ema_encoder(x), -1)).numpy()
    trained = model.generator(tf.math.l2_normalize(model.encoder(x), -1)).numpy()
    np.testing.assert_allclose(recon, averaged, atol=1e-5)
    assert not np.allclose(recon, trained, atol=1e-4)
