"""--model wgan-gp: config section, the gradient penalty against a direct computation, gradients,
critic updates per generator update, epochs and lr, checkpoint round trip of both optimizers."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from augintae_tf.run import model_state
from augintae_tf.config import ConfigError, TrainConfig, load_config
from augintae_tf.models.wgan_gp.spec import WGANGPConfig
from tests.conftest import build_small as built, random_images as images, small_model_config


def wgan_config(**fields):
    cfg = small_model_config("wgan-gp")
    cfg.model = WGANGPConfig(name="wgan-gp", latent_dim=8, width=0.25, **fields)
    return cfg



def test_section_has_the_papers_values_and_one_line_errors():
    m = load_config("glyphs", {"model.name": "wgan-gp"}).model
    assert (m.gp_weight, m.critic_steps, m.epoch_factor) == (10.0, 5, 2)
    assert (m.inversion_steps, m.inversion_lr, m.inversion_momentum, m.inversion_drop_every) == \
        (6400, 1e-4, 0.1, 1280)
    assert (m.refine_steps, m.refine_lr) == (1000, 0.01)
    with pytest.raises(ConfigError, match=r"^model.critic_steps: 0 is not allowed; expected an "
                                          r"integer >= 1$"):
        load_config("glyphs", {"model.name": "wgan-gp", "model.critic_steps": "0"})


def test_gradient_penalty_equals_a_direct_computation_for_a_linear_critic():
    """D(x) = <w, x> + b has gradient w at every point: GP = (||w|| - 1)^2 exactly."""
    from augintae_tf.models.two_player import gradient_penalty

    critic = keras.Sequential([keras.Input((3, 3, 1)), keras.layers.Flatten(),
                               keras.layers.Dense(1)])
    w = np.random.default_rng(2).normal(size=(9, 1)).astype(np.float32)
    critic.layers[-1].set_weights([w, np.array([0.7], np.float32)])
    real, fake = images(5, 3, 1), images(5, 3, 2)
    gp = gradient_penalty(critic, real, fake, np.linspace(0, 1, 5)).numpy()
    np.testing.assert_allclose(gp, (np.linalg.norm(w) - 1.0) ** 2, rtol=1e-5)


def test_gradient_penalty_of_a_quadratic_critic_matches_numpy():
    """D(x) = sum(x^2): gradient 2 x_hat, so GP = mean_i (2 ||x_hat_i|| - 1)^2."""
    from augintae_tf.models.two_player import gradient_penalty

    critic = lambda x, training=True: tf.reduce_sum(tf.square(x), axis=[1, 2, 3])  # noqa: E731
    real, fake, eps = images(4, 3, 3), images(4, 3, 4), np.array([0.0, 0.3, 0.6, 1.0])
    x_hat = eps[:, None, None, None] * real + (1 - eps[:, None, None, None]) * fake
    expected = np.mean((2 * np.linalg.norm(x_hat.reshape(4, -1), axis=1) - 1) ** 2)
    np.testing.assert_allclose(gradient_penalty(critic, real, fake, eps).numpy(), expected,
                               rtol=1e-5)


def test_every_trainable_variable_gets_a_gradient_and_losses_are_finite():
    model = built(wgan_config())
    seed, real = tf.constant([1, 2], tf.int64), tf.constant(images())
    with tf.GradientTape() as tape:
        parts = model.critic_losses(real, seed)
    grads = tape.gradient(parts["d_loss"], model.discriminator.trainable_variables)
    assert all(np.isfinite(float(v)) for v in parts.values()) and float(parts["gp"]) >= 0
    assert all(g is not None for g in grads)
    # The critic's output bias shifts D(real) and D(fake) alike: the Wasserstein loss and the
    # penalty cannot see it, so its gradient is exactly 0; every other variable learns.
    variables = model.discriminator.trainable_variables
    assert [v.path for v, g in zip(variables, grads) if not np.abs(g.numpy()).sum() > 0] == \
        ["out/bias"]
    with tf.GradientTape() as tape:
        loss = model.generator_loss(4, seed)
    grads = tape.gradient(loss, model.generator_variables)
    assert np.isfinite(float(loss)) and model.generator_variables == \
        model.generator.trainable_variables
    assert all(g is not None and np.abs(g.numpy()).sum() > 0 for g in grads)


@pytest.mark.parametrize("critic_steps,steps,generator_updates", [(5, 10, 2), (3, 7, 2)])
def test_critic_updates_per_generator_update_are_counted(critic_steps, steps, generator_updates):
    model = built(wgan_config(critic_steps=critic_steps))
    generator_before = [v.numpy().copy() for v in model.generator.trainable_variables]
    data = tf.data.Dataset.from_tensor_slices(images(8)).batch(4).repeat()
    history = model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0).history
    assert int(model.d_optimizer.iterations) == steps
    assert int(model.optimizer.iterations) == generator_updates
    assert all(np.isfinite(v[-1]) for v in history.values())
    assert all(not np.array_equal(b, v.numpy())
               for b, v in zip(generator_before, model.generator.trainable_variables))


def test_twice_the_epochs_constant_lr_and_capabilities():
    from augintae_tf.models.wgan_gp.model import WGANGP

    model = built(wgan_config())
    assert model.train_epochs(TrainConfig(epochs=7)) == 14
    assert WGANGP.lr_policy(TrainConfig(lr=3e-4), 100) == 3e-4
    assert model.capabilities == {"fewshot", "sample"} and model.stages == ("inversion",)
    sampled = model.sample(6, 2).numpy()
    assert sampled.shape == (6, 12, 12, 1) and np.array_equal(sampled, model.sample(6, 2).numpy())


def test_checkpoint_round_trips_both_optimizers(tmp_path):
    model = built(wgan_config(critic_steps=2))
    data = tf.data.Dataset.from_tensor_slices(images(8)).batch(4).repeat()
    model.fit(data, epochs=1, steps_per_epoch=4, verbose=0)
    ckpt = model_state.save(tmp_path, model, 1, {"step": 2})
    fresh = built(wgan_config(critic_steps=2))
    model_state.restore(ckpt, fresh)
    for name in ("optimizer", "d_optimizer"):
        saved, restored = getattr(model, name), getattr(fresh, name)
        assert len(saved.variables) > 1
        for a, b in zip(saved.variables, restored.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert (int(fresh.optimizer.iterations), int(fresh.d_optimizer.iterations)) == (2, 4)
    for a, b in zip(model.variables, fresh.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
