"""FusedAdam: the same updates and variables as Keras' Adam, one ResourceApplyAdam per variable."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from augintae_tf.training.optimizers import FusedAdam
from conftest import tiny_config


def run_updates(optimizer, steps=5, jit=False):
    """``steps`` updates of two variables from fixed random gradients; the variables and slots."""
    rng = np.random.default_rng(0)
    variables = [keras.Variable(rng.normal(size=shape).astype("float32"))
                 for shape in ((3, 4), (4,))]
    gradients = [[tf.constant(rng.normal(size=v.shape).astype("float32")) for v in variables]
                 for _ in range(steps)]
    optimizer.build(variables)

    @tf.function(jit_compile=jit)
    def apply(grads):
        optimizer.apply_gradients(zip(grads, variables))

    for grads in gradients:
        apply(grads)
    return [v.numpy() for v in variables], [v.numpy() for v in optimizer.variables]


@pytest.mark.parametrize("kwargs", [
    {"learning_rate": 1e-2},
    {"learning_rate": keras.optimizers.schedules.PiecewiseConstantDecay([2], [1e-2, 1e-3]),
     "beta_1": 0.5, "epsilon": 1e-4},
    {"learning_rate": 1e-2, "amsgrad": True},  # not fused: Keras' own update
])
@pytest.mark.parametrize("jit", [False, True])
def test_fused_adam_matches_keras_adam(kwargs, jit):
    expected_vars, expected_slots = run_updates(keras.optimizers.Adam(**kwargs), jit=jit)
    fused_vars, fused_slots = run_updates(FusedAdam(**kwargs), jit=jit)
    assert len(fused_slots) == len(expected_slots)  # same variables: checkpoints are compatible
    for got, want in zip(fused_vars + fused_slots, expected_vars + expected_slots):
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-7)
    assert not np.allclose(fused_vars[0], run_updates(FusedAdam(**kwargs), steps=0)[0][0])


def test_fused_adam_uses_the_fused_kernel():
    variable = keras.Variable(np.ones((2, 2), "float32"))
    optimizer = FusedAdam(0.1)
    optimizer.build([variable])
    graph = tf.function(lambda g: optimizer.apply_gradients([(g, variable)])).get_concrete_function(
        tf.TensorSpec((2, 2), tf.float32)).graph
    assert "ResourceApplyAdam" in {op.type for op in graph.get_operations()}
    optimizer.apply_gradients([(tf.ones((2, 2)), variable)])
    # First Adam step moves every weight by lr * g / |g| (bias-corrected moments): 1 - 0.1.
    np.testing.assert_allclose(variable.numpy(), np.full((2, 2), 0.9), rtol=1e-5)


def test_fused_adam_round_trips_through_its_config():
    optimizer = FusedAdam(3e-4, beta_1=0.5)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(restored) is FusedAdam and restored.beta_1 == 0.5
    assert np.isclose(float(restored.learning_rate), 3e-4)


@pytest.mark.parametrize("name", ["augintae", "augintae-adv"])
def test_training_builds_every_optimizer_fused(name):
    from augintae_tf.training import build

    model = build(tiny_config(**{"model.name": name}), steps=10)
    optimizers = [getattr(model, attr) for attr in model.optimizer_names]
    assert len(optimizers) == (2 if name == "augintae-adv" else 1)
    assert all(isinstance(opt, FusedAdam) and opt.built for opt in optimizers)
