"""nets.blocks.BatchNormalization (fused) against Keras' own BatchNormalization: same outputs,
moving statistics and gradients in training; the same inference path."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from augintae_tf.nets.blocks import BN_MOMENTUM, BatchNormalization as FusedBN


@pytest.mark.parametrize("shape", [(6, 5, 4, 3), (7, 9), (1, 4)])
def test_fused_bn_matches_keras_bn(shape):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(1.5, 2.0, size=shape), tf.float32)
    fused = FusedBN(momentum=BN_MOMENTUM)
    plain = keras.layers.BatchNormalization(momentum=BN_MOMENTUM)
    fused.build(x.shape), plain.build(x.shape)
    for layer in (fused, plain):  # non-trivial gamma/beta, identical in both layers
        layer.gamma.assign(np.linspace(0.5, 1.5, shape[-1]))
        layer.beta.assign(np.linspace(-0.2, 0.3, shape[-1]))
    upstream = tf.constant(rng.normal(size=shape), tf.float32)
    results = []
    for layer in (fused, plain):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * upstream)
        grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
        results.append([y, *grads, layer.moving_mean, layer.moving_variance,
                        layer(x, training=False)])
    for got, want in zip(*results):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2e-5, atol=2e-5)
    # Against numpy too: batch statistics over every axis but the last, biased variance.
    axes = tuple(range(len(shape) - 1))
    mean, var = x.numpy().mean(axis=axes), x.numpy().var(axis=axes)
    np.testing.assert_allclose(fused.moving_mean.numpy(), (1 - BN_MOMENTUM) * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused.moving_variance.numpy(), BN_MOMENTUM + (1 - BN_MOMENTUM) * var,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(6, 5, 4, 3), (7, 9)])
def test_fused_bn_in_bfloat16_matches_keras_bn(shape):
    """Under mixed_bfloat16 the fused kernel runs on the bf16 activations (no casts around it)
    and agrees with Keras' path (float32 inside, bf16 out) to bf16's resolution."""
    rng = np.random.default_rng(1)
    x = tf.cast(rng.normal(1.5, 2.0, size=shape), tf.bfloat16)
    upstream = tf.cast(rng.normal(size=shape), tf.bfloat16)
    fused = FusedBN(momentum=BN_MOMENTUM, dtype="mixed_bfloat16")
    plain = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, dtype="mixed_bfloat16")
    results = []
    for layer in (fused, plain):
        layer.build(x.shape)
        layer.gamma.assign(np.linspace(0.5, 1.5, shape[-1]))
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.cast(y * upstream, tf.float32))
        grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
        assert y.dtype == grads[0].dtype == tf.bfloat16 and layer.gamma.dtype == "float32"
        results.append([y, *grads, layer.moving_mean, layer.moving_variance])
    graph = tf.function(lambda v: fused(v, training=True)).get_concrete_function(
        tf.TensorSpec(shape, tf.bfloat16)).graph
    assert not [op for op in graph.get_operations() if op.type == "Cast"
                and op.inputs[0].shape.rank == len(shape)], "an activation is cast around BN"
    for got, want in zip(*results):  # bf16 keeps 8 bits of mantissa: ~0.4 % relative
        np.testing.assert_allclose(np.asarray(tf.cast(got, tf.float32)),
                                   np.asarray(tf.cast(want, tf.float32)), rtol=2e-2, atol=3e-2)


def test_weights_saved_with_keras_bn_load_into_the_fused_layer(tmp_path):
    """Checkpoints from before the fused layer (Keras' BatchNormalization) still load."""
    def model(bn):
        x = keras.Input((4, 4, 2))
        return keras.Model(x, bn()(keras.layers.Conv2D(3, 3)(x)))

    old, new = model(keras.layers.BatchNormalization), model(FusedBN)
    old.layers[-1].moving_mean.assign([1.0, 2.0, 3.0])
    old.save_weights(tmp_path / "old.weights.h5")
    new.load_weights(tmp_path / "old.weights.h5")
    np.testing.assert_array_equal(new.layers[-1].moving_mean.numpy(), [1.0, 2.0, 3.0])
