"""GAIA: an autoencoder generator against an autoencoder discriminator, sigmoid-balanced."""
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from augintae_tf.run import model_state
from augintae_tf.models import build_model
from augintae_tf.models.gaia.model import (GAIA, _apply_with_lr_factor, gaia_balance,
                                     pairwise_squared_distances, structure_loss)
from conftest import run_python, small_model_config

SIZE, LATENT, WIDTH, BATCH = 12, 8, 0.25, 8
LOG_KEYS = {"recon_loss", "g_loss", "d_loss", "d_real_error", "d_recon_error", "d_interp_error",
            "structure_loss", "d_lr_scale", "d_fake_weight", "g_interp_weight", "loss"}


def tiny_model(compiled=True, lr=1e-3, dtype="float32", **compile_kwargs):
    model = build_model(small_model_config("gaia"), width=WIDTH, dtype=dtype)
    if compiled:
        model.compile(keras.optimizers.Adam(lr), keras.optimizers.Adam(lr), **compile_kwargs)
    return model


def images(n=BATCH, seed=0):
    return np.random.default_rng(seed).uniform(size=(n, SIZE, SIZE, 1)).astype("float32")


# --- pure functions --------------------------------------------------------------------------
def test_pairwise_squared_distances_match_numpy():
    x = np.random.default_rng(0).normal(size=(5, 3, 4)).astype("float32")
    flat = x.reshape(5, -1)
    expected = ((flat[:, None] - flat[None]) ** 2).sum(-1)
    got = pairwise_squared_distances(tf.constant(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    assert np.all(np.diag(got) == 0)


def test_structure_loss_is_zero_for_scaled_copies_and_positive_otherwise():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(8, 6, 6, 1)).astype("float32")
    flat = x.reshape(8, -1)
    # Latents whose pairwise distances are 0.3x the pixel distances: rotate (orthonormal
    # columns), scale and translate the flattened images.
    q, _ = np.linalg.qr(rng.normal(size=(36, 36)))
    z = (0.3 * flat @ q + 5.0).astype("float32")
    assert float(structure_loss(tf.constant(x), tf.constant(z))) == pytest.approx(0.0, abs=1e-6)
    unrelated = rng.normal(size=(8, 4)).astype("float32")
    assert float(structure_loss(tf.constant(x), tf.constant(unrelated))) > 1e-3
    # A constant batch (all distances 0) stays finite.
    assert np.isfinite(float(structure_loss(tf.zeros([4, 6, 6, 1]), tf.zeros([4, 3]))))


def test_gaia_balance_factors():
    even = gaia_balance(0.2, 0.2, 0.2)
    assert float(even["d_lr"]) == pytest.approx(0.5) and float(even["g_lr"]) == pytest.approx(0.5)
    assert float(even["g_interp_weight"]) == pytest.approx(0.5)
    winning = gaia_balance(0.05, 0.3, 0.6)  # D reconstructs real well, fakes badly: slow D down
    assert float(winning["d_lr"]) < 0.05 and float(winning["g_lr"]) > 0.95
    assert float(winning["d_fake_weight"]) == pytest.approx(0.9)  # GAIA's clip
    assert float(gaia_balance(0.3, 0.1, 0.1)["d_fake_weight"]) < 0.1
    # G weights whichever of its two errors is larger more.
    assert float(gaia_balance(0.2, 0.1, 0.3)["g_interp_weight"]) > 0.95


def test_learning_rate_factor_scales_the_adam_step_and_is_restored():
    def step(factor):
        variable = keras.Variable([1.0, 2.0])
        optimizer = keras.optimizers.Adam(0.1)
        optimizer.build([variable])
        _apply_with_lr_factor(optimizer, [tf.constant([0.5, -0.3])], [variable], factor)
        assert float(optimizer.learning_rate.numpy()) == pytest.approx(0.1)
        return variable.numpy() - np.array([1.0, 2.0])

    np.testing.assert_allclose(step(0.25), 0.25 * step(1.0), rtol=1e-5)


# --- the model -------------------------------------------------------------------------------
def test_networks_optimizers_and_registry():
    model = tiny_model()
    assert model.optimizer_names == ("optimizer", "d_optimizer")
    model.build_for_training()
    d_encoder = model.discriminator.get_layer("d_encoder")
    assert d_encoder.output_shape == (None, LATENT)
    assert model.discriminator.output_shape == (None, SIZE, SIZE, 1)
    assert len(model.optimizer.variables) == 2 + 2 * len(model.generator_variables)
    assert len(model.d_optimizer.variables) == 2 + 2 * len(model.discriminator.trainable_variables)
    assert isinstance(build_model(small_model_config("gaia")), GAIA)
    with pytest.raises(ValueError, match="constant learning rate"):
        schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, 10, 0.5)
        tiny_model(compiled=False).compile(keras.optimizers.Adam(schedule),
                                           keras.optimizers.Adam(1e-3))
    with pytest.raises(ValueError, match="d_optimizer"):
        tiny_model(compiled=False).compile(keras.optimizers.Adam(1e-3))


@pytest.mark.parametrize("jit", [False, True])
def test_one_epoch_changes_both_autoencoders_with_finite_losses(jit):
    model = tiny_model(jit_compile=jit)
    nets = (model.encoder, model.generator, model.discriminator.get_layer("d_encoder"),
            model.discriminator.get_layer("d_generator"))
    before = [[w.numpy().copy() for w in net.trainable_weights] for net in nets]
    history = model.fit(images(16), batch_size=BATCH, epochs=1, verbose=0, shuffle=False).history
    logs = {key: values[0] for key, values in history.items()}
    assert set(logs) == LOG_KEYS and all(np.isfinite(v) for v in logs.values()), logs
    assert 0 < logs["d_lr_scale"] < 1 and 0 <= logs["d_fake_weight"] <= 0.9
    for net, old in zip(nets, before):
        assert any(not np.array_equal(o, w.numpy()) for o, w in zip(old, net.trainable_weights))
    # The balanced learning rates are per update only: the configured rate is back afterwards.
    for optimizer in (model.optimizer, model.d_optimizer):
        assert float(optimizer.learning_rate.numpy()) == pytest.approx(1e-3)
        assert int(optimizer.iterations.numpy()) == 2
    assert int(model.step_counter.numpy()) == 2
    val = model.evaluate(images(seed=3), batch_size=BATCH, verbose=0, return_dict=True)
    assert set(val) == {"recon_loss", "loss"}
    assert model.interpolate(images(2), images(2, seed=1), 0.5).shape == (2, SIZE, SIZE, 1)


def test_mixed_float16_wraps_both_optimizers_and_keeps_the_learning_rates():
    model = tiny_model(jit_compile=False, dtype="mixed_float16")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer)
    history = model.fit(images(), batch_size=BATCH, epochs=1, verbose=0).history
    assert all(np.isfinite(v[0]) for v in history.values()), history
    for optimizer in (model.optimizer, model.d_optimizer):
        assert float(optimizer.learning_rate.numpy()) == pytest.approx(1e-3)


def test_resume_restores_both_optimizers(tmp_path):
    model = tiny_model(jit_compile=False)
    model.build_for_training()
    model.fit(images(), batch_size=BATCH, epochs=1, verbose=0)
    path = model_state.save(tmp_path, model, epoch=1, state={})
    restored = tiny_model()
    restored.build_for_training()
    model_state.restore(path, restored)
    for name in ("optimizer", "d_optimizer"):
        saved, loaded = getattr(model, name), getattr(restored, name)
        assert int(loaded.iterations.numpy()) == 1
        for s, l in zip(saved.variables, loaded.variables):
            np.testing.assert_array_equal(l.numpy(), s.numpy())
    x = images(2)
    np.testing.assert_allclose(restored.discriminator(x).numpy(), model.discriminator(x).numpy(),
                               atol=1e-6)


MIRRORED = textwrap.dedent("""
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from augintae_tf.config import Config
    from augintae_tf.models import build_model
    cfg = Config(); cfg.data.image_size, cfg.model.latent_dim, cfg.model.name = 8, 4, "gaia"
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model = build_model(cfg, width=0.125)
        model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), jit_compile=False)
        model.build_for_training()
    x = np.random.default_rng(0).uniform(size=(16, 8, 8, 1)).astype("float32")
    logs = model.fit(x, batch_size=8, epochs=1, verbose=0).history
    assert all(np.isfinite(v[0]) for v in logs.values()), logs
    for opt in (model.optimizer, model.d_optimizer):
        assert abs(float(opt.learning_rate.numpy()) - 1e-3) < 1e-9
        assert int(opt.iterations.numpy()) == 2
    print("OK")
""")


def test_mirrored_strategy_two_replicas():
    result = run_python(MIRRORED)
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr[-3000:]
