"""The three paper models on tiny networks: training steps, seeds, inference API, registry."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from augintae_tf.models import build_model
from augintae_tf.models.contract import derive_seed
from augintae_tf.augment import blend
from augintae_tf.models.autoencoder import partner_offset
from augintae_tf.config.model_table import as_section
from conftest import blobs, small_model_config

SIZE, LATENT, WIDTH, BATCH = 12, 8, 0.25, 8


def tiny_model(name="augintae", size=SIZE, lr=1e-3, target=None, dtype="float32",
               **compile_kwargs):
    cfg = small_model_config(name, size)
    if target is not None:  # model.target of the model's own section
        cfg.model = as_section(cfg.model)
        cfg.model.target = target
    model = build_model(cfg, width=WIDTH, dtype=dtype)
    optimizers = {name: keras.optimizers.Adam(lr) for name in model.optimizer_names}
    model.compile(**optimizers, **compile_kwargs)
    return model


def images(n=BATCH, size=SIZE, seed=0):
    return np.random.default_rng(seed).uniform(size=(n, size, size, 1)).astype("float32")


@pytest.mark.parametrize("name,jit,target", [
    ("augintae", False, None), ("ae", True, None), ("intae", True, None),
    ("augintae", True, "blend"), ("intae", False, "blend")])
def test_one_training_step_updates_both_networks(name, jit, target):
    model = tiny_model(name, jit_compile=jit, target=target)
    before = [[w.numpy().copy() for w in net.trainable_weights]
              for net in (model.encoder, model.generator)]
    data = tf.data.Dataset.from_tensor_slices((images(), np.zeros(BATCH))).batch(BATCH)
    history = model.fit(data, epochs=1, verbose=0, shuffle=False).history
    assert np.isfinite(history["recon_loss"][0]) and history["loss"] == history["recon_loss"]
    for net, old in zip((model.encoder, model.generator), before):
        assert any(not np.array_equal(o, w.numpy()) for o, w in zip(old, net.trainable_weights))
    assert int(model.step_counter.numpy()) == 1


def test_fit_with_jit_compile_reduces_reconstruction_loss():
    keras.utils.set_random_seed(0)
    model = tiny_model(size=16, lr=3e-3, jit_compile=True)
    assert model.jit_compile is True  # Keras silently falls back to False for unsupported models
    data = tf.data.Dataset.from_tensor_slices(blobs(64, 16)).batch(BATCH)  # images, no labels
    losses = model.fit(data, epochs=4, verbose=0, shuffle=False).history["recon_loss"]
    assert all(np.isfinite(losses)) and losses[-1] < 0.6 * losses[0], losses
    assert int(model.step_counter.numpy()) == 4 * 64 // BATCH


def test_test_step_reports_plain_reconstruction_error():
    model = tiny_model()
    x = images(16)
    logs = model.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    expected = np.mean((model(x).numpy() - x) ** 2)
    assert set(logs) == {"recon_loss", "loss"}
    np.testing.assert_allclose(logs["recon_loss"], expected, rtol=1e-5)
    assert int(model.step_counter.numpy()) == 0  # evaluation draws no random numbers


def test_inference_api_call_decode_and_interpolation_endpoints():
    model = tiny_model()
    a, b = tf.constant(images(4, seed=1)), tf.constant(images(4, seed=2))
    z = model.encode(a)
    assert z.dtype == tf.float32 and z.shape == (4, LATENT)
    np.testing.assert_allclose(np.linalg.norm(z.numpy(), axis=-1), 1.0, atol=1e-5)
    decoded = model.decode(z).numpy()
    assert decoded.min() >= 0.0 and decoded.max() <= 1.0
    np.testing.assert_allclose(model(a).numpy(), decoded, atol=1e-6)
    np.testing.assert_allclose(model.interpolate(a, b, 1.0).numpy(), decoded, atol=1e-5)
    np.testing.assert_allclose(model.interpolate(a, b, tf.zeros([4])).numpy(),
                               model.decode(model.encode(b)).numpy(), atol=1e-5)


@pytest.mark.parametrize("name", ["augintae", "ae", "intae"])
def test_training_targets_are_alpha_blends(name):
    cfg = small_model_config(name)
    cfg.model = as_section(cfg.model)
    cfg.model.target = "blend"  # ae/augintae: both targets are the image here (test_targets.py)
    cfg.augment.rotation = cfg.augment.translation = cfg.augment.shear = 0.0
    cfg.augment.scale_min = cfg.augment.scale_max = 1.0  # identity: the targets become predictable
    model = build_model(cfg, width=WIDTH)
    x, seed = tf.constant(images()), derive_seed(0, 5, 0)
    prediction, target = model.training_batch(x, seed)
    assert prediction.shape == target.shape == x.shape and prediction.dtype == tf.float32
    if name == "intae":  # two different images, blended with the per-example alpha
        offset = model.partners(x, seed)
        expected = blend(x, tf.roll(x, offset, axis=0), model.alphas(x, seed))
        np.testing.assert_allclose(target.numpy(), expected.numpy(), atol=1e-6)
    else:  # two views of the same image: the blend of identical views is the image itself
        np.testing.assert_allclose(target.numpy(), x.numpy(), atol=1e-6)


def test_two_views_of_a_batch_differ():
    model = build_model(small_model_config("augintae"), width=WIDTH)
    x, seed = tf.constant(images()), derive_seed(0, 0, 0)
    assert not np.allclose(model.augment(x, seed, 1).numpy(), model.augment(x, seed, 2).numpy())


def test_steps_and_replicas_draw_different_alphas():
    """The seeds alone; under a real MirroredStrategy: tests/test_distribute.py."""
    model = build_model(small_model_config("augintae"), width=WIDTH)
    x = tf.zeros([BATCH, SIZE, SIZE, 1])
    draws = [model.alphas(x, derive_seed(0, step, replica)).numpy()
             for step, replica in [(0, 0), (0, 1), (1, 0), (1, 1)]]
    for i in range(4):
        for j in range(i):
            assert not np.allclose(draws[i], draws[j])
    np.testing.assert_array_equal(draws[0], model.alphas(x, derive_seed(0, 0, 0)).numpy())
    np.testing.assert_array_equal(draws[0], model.alphas(x, model.step_seed()).numpy())


def test_partner_offset_never_pairs_an_image_with_itself():
    offsets = {int(partner_offset(4, tf.constant([s, 0], tf.int64))) for s in range(50)}
    assert offsets == {1, 2, 3}


def test_weights_save_the_rng_step_and_optimizer_can_be_built_first(tmp_path):
    model = tiny_model()
    model.build_for_training()
    assert len(model.optimizer.variables) > 2  # Adam slots exist before any training step
    model.step_counter.assign(41)
    model.save_weights(tmp_path / "model.weights.h5")
    restored = tiny_model()
    restored.build_for_training()
    restored.load_weights(tmp_path / "model.weights.h5")
    assert int(restored.step_counter.numpy()) == 41
    assert len(restored.optimizer.variables) == len(model.optimizer.variables)
    x = images(2)
    np.testing.assert_allclose(restored(x).numpy(), model(x).numpy(), atol=1e-6)


def test_mixed_float16_step_uses_loss_scaling():
    model = tiny_model(dtype="mixed_float16")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)  # wrapped by compile
    history = model.fit(images(), batch_size=BATCH, epochs=1, verbose=0).history
    assert np.isfinite(history["recon_loss"][0])
    assert model.decode(model.encode(images(2))).dtype == tf.float32


def test_compile_and_registry_errors():
    with pytest.raises(ValueError, match="optimizer"):
        build_model(small_model_config("augintae"), width=WIDTH).compile(None)
    with pytest.raises(ValueError, match="compile"):
        build_model(small_model_config("augintae"), width=WIDTH).build_for_training()
    with pytest.raises(ValueError, match="unknown"):
        build_model(small_model_config("no-such-model"), width=WIDTH)


def test_pixel_losses_match_numpy():
    from augintae_tf.models.losses import pixel_loss

    rng = np.random.default_rng(0)
    x, y = rng.random((2, 4, 4, 1), np.float32), rng.random((2, 4, 4, 1), np.float32)
    l1, l2 = np.mean(np.abs(x - y)), np.mean((x - y) ** 2)
    assert float(pixel_loss(x, y, "l2")) == pytest.approx(l2, rel=1e-6)
    assert float(pixel_loss(x, y, "l1")) == pytest.approx(l1, rel=1e-6)
    assert float(pixel_loss(x, y, "l1+l2")) == pytest.approx(l1 + l2, rel=1e-6)
    with pytest.raises(ValueError, match="pixel loss must be l2, l1, l1\\+l2 or bce, got 'l3'"):
        pixel_loss(x, y, "l3")


def test_bce_pixel_loss_matches_the_logit_form():
    """bce on sigmoid(z) equals the logit form mean(softplus(z) - y z) (an independent formula,
    no clipping involved for moderate logits), soft targets included."""
    from augintae_tf.models.losses import pixel_loss

    rng = np.random.default_rng(1)
    z = rng.normal(scale=3.0, size=(3, 5, 5, 1))
    y = np.where(rng.random(z.shape) < 0.3, rng.random(z.shape), (rng.random(z.shape) < 0.5) * 1.0)
    reference = np.mean(np.logaddexp(0.0, z) - y * z)
    p = (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
    assert float(pixel_loss(p, y.astype(np.float32), "bce")) == pytest.approx(reference, rel=1e-5)


def test_bce_pixel_loss_clips_saturated_predictions():
    """p = 0 or 1 exactly: finite, clipped to [1e-7, 1 - 1e-7] (in float32: 1 - 1.19e-7)."""
    from augintae_tf.models.losses import pixel_loss

    p = np.array([0.0, 1.0, 0.0, 1.0], np.float32).reshape(1, 2, 2, 1)
    y = np.array([1.0, 0.0, 0.0, 1.0], np.float32).reshape(1, 2, 2, 1)
    low, high = np.float64(np.float32(1e-7)), np.float64(np.float32(1 - 1e-7))
    expected = (-np.log(low) - np.log(1 - high) - np.log(1 - low) - np.log(high)) / 4
    assert float(pixel_loss(p, y, "bce")) == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("backbone, size", [("infogan", 28), ("dcgan", 64)])
def test_resize_upsampling_generator_has_no_transposed_convolutions(backbone, size):
    import keras

    from augintae_tf.nets import build_generator

    paper = build_generator(backbone, size, 3, 8, width=0.25)
    resize = build_generator(backbone, size, 3, 8, width=0.25, upsampling="resize")
    kinds = lambda model: [type(layer).__name__ for layer in model.layers]  # noqa: E731
    assert "Conv2DTranspose" in kinds(paper) and "Conv2DTranspose" not in kinds(resize)
    assert kinds(resize).count("UpSampling2D") == kinds(paper).count("Conv2DTranspose")
    images = resize(np.zeros((2, 8), np.float32))
    assert images.shape == (2, size, size, 3)
    values = keras.ops.convert_to_numpy(images)
    assert values.min() >= 0 and values.max() <= 1


def test_pixel_loss_option_trains_the_model_on_l1(monkeypatch):
    from augintae_tf.models import autoencoder, build_model

    cfg = small_model_config("ae")
    cfg.model.pixel_loss = "l1"
    model = build_model(cfg)
    assert model.pixel_loss_kind == "l1"
    seen = []
    original = autoencoder.pixel_loss
    monkeypatch.setattr(autoencoder, "pixel_loss", lambda p, t, kind="l2": seen.append(kind) or original(p, t, kind))
    import keras
    model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=True)
    model.fit(np.random.default_rng(0).random((4, 12, 12, 1), np.float32), batch_size=4, epochs=1, verbose=0)
    assert seen == ["l1"]
