"""benchmarks/flops.py: FLOPs counted from a traced graph, against hand-computed counts."""
import sys
from pathlib import Path

import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from flops import count_flops, graph_flops  # noqa: E402  (a benchmark's module, not the package's)


def traced(fn, *specs):
    return tf.function(fn).get_concrete_function(*specs).graph


def test_matmul_and_transposes():
    a, b = tf.TensorSpec([3, 5]), tf.TensorSpec([7, 5])
    assert graph_flops(traced(lambda x, y: tf.matmul(x, y, transpose_b=True), a, b)) == 2 * 3 * 7 * 5
    at = tf.TensorSpec([5, 3])
    assert graph_flops(traced(lambda x, y: tf.matmul(x, y, transpose_a=True, transpose_b=True),
                              at, b)) == 2 * 3 * 7 * 5


def test_dead_code_is_not_counted_but_work_feeding_a_variable_update_is():
    """A product whose result reaches nothing is pruned before it runs, so it costs nothing; one
    that only feeds a variable assignment (a stateful op) runs and counts."""
    a, b = tf.TensorSpec([3, 5]), tf.TensorSpec([5, 7])
    dead = traced(lambda x, y: (tf.matmul(x, y), tf.matmul(x, y * 2.0))[0], a, b)
    assert graph_flops(dead) == 2 * 3 * 5 * 7
    sink = tf.Variable(tf.zeros([3, 7]))

    def update(x, y):
        sink.assign(tf.matmul(x, y))
        return tf.reduce_sum(x)

    assert graph_flops(traced(update, a, b)) == 2 * 3 * 5 * 7


def test_convolution_forward_and_both_gradients():
    """A 3x3 SAME convolution, batch 2, 8x8x3 -> 8x8x4: forward 2*N*H*W*C_out*9*C_in; its input
    and kernel gradients each cost the same again (the rule the backward count relies on)."""
    forward = 2 * (2 * 8 * 8 * 4) * 9 * 3
    kernel = tf.Variable(tf.random.normal([3, 3, 3, 4]))

    def step(x, keep_output=True):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.nn.conv2d(x, kernel, 1, "SAME")
        gradients = tape.gradient(y, [x, kernel])
        return (y, gradients) if keep_output else gradients

    x = tf.TensorSpec([2, 8, 8, 3])
    assert graph_flops(traced(lambda v: tf.nn.conv2d(v, kernel, 1, "SAME"), x)) == forward
    assert graph_flops(traced(step, x)) == 3 * forward
    # A linear op's gradients do not need its output: unused, the forward is dead code
    assert graph_flops(traced(lambda v: step(v, keep_output=False), x)) == 2 * forward


def test_transposed_convolution_counts_as_the_convolution_it_inverts():
    """conv2d_transpose 7x7x8 -> 14x14x2 (4x4, stride 2): 2 * |input| * 16 * C_out."""
    kernel = tf.Variable(tf.random.normal([4, 4, 2, 8]))  # [h, w, out, in]
    fn = lambda v: tf.nn.conv2d_transpose(v, kernel, [1, 14, 14, 2], 2, "SAME")
    assert graph_flops(traced(fn, tf.TensorSpec([1, 7, 7, 8]))) == 2 * (7 * 7 * 8) * 16 * 2


def test_train_step_of_a_dense_model():
    """Dense 6 -> 5 -> 3 with an MSE loss: forward 2B(6*5 + 5*3), the same for the kernel
    gradients, and the second layer's input gradient 2B*5*3 (the first layer's is not needed)."""
    import keras

    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5), keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    batch = 4
    x, y = tf.zeros([batch, 6]), tf.zeros([batch, 3])
    spec = (tf.TensorSpec(x.shape), tf.TensorSpec(y.shape))
    graph = tf.function(model.train_step).get_concrete_function(spec).graph
    forward = 2 * batch * (6 * 5 + 5 * 3)
    assert graph_flops(graph) == 2 * forward + 2 * batch * 5 * 3


def forward_flops(net, n: int) -> int:
    """Hand count of one forward pass of ``n`` images through a Functional net's kernels."""
    import keras

    total = 0
    for layer in net.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):
            _, h, w, c_in = layer.input.shape
            kh, kw, c_out, _ = layer.kernel.shape
            total += 2 * n * h * w * c_in * kh * kw * c_out
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw, c_in, _ = layer.kernel.shape
            total += 2 * n * h * w * c_out * kh * kw * c_in
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * n * layer.kernel.shape[0] * layer.kernel.shape[1]
    return total


def test_count_flops_of_the_augintae_step():
    """The whole AugIntAE step (both views through the encoder, one decode, backward): three
    times the forward, as the hand count from the layer shapes gives it, less the first
    convolution's input gradient (the gradient of the images: traced, but nothing uses it, so
    it never runs)."""
    from types import SimpleNamespace

    import keras

    from augintae_tf.training import build
    from tests.conftest import tiny_config

    cfg = tiny_config()
    model = build(cfg, steps=10)
    n, size = 4, cfg.data.image_size
    counted = count_flops(model, tf.zeros([n, size, size, cfg.data.channels]))
    forward = forward_flops(model.encoder, 2 * n) + forward_flops(model.generator, n)
    conv = next(layer for layer in model.encoder.layers if isinstance(layer, keras.layers.Conv2D))
    first = forward_flops(SimpleNamespace(layers=[conv]), 2 * n)
    assert forward > 0 and 0 < first < forward / 10
    assert counted == 3 * forward - first


def test_a_function_counts_at_each_call_site():
    """A tf.function called twice inside the step costs twice (a layer reused on two batches)."""
    kernel = tf.Variable(tf.ones([4, 6]))
    inner = tf.function(lambda x: tf.matmul(x, kernel))
    graph = traced(lambda x: inner(x) + inner(2.0 * x), tf.TensorSpec([3, 4]))
    assert graph_flops(graph) == 2 * (2 * 3 * 6 * 4)


def test_conditional_counts_the_costlier_branch_or_the_share_given():
    """then: two 5x5 products of [2, 5] (2 * 2*2*5*5), else: one; p = 1/4 averages them."""
    kernel = tf.Variable(tf.ones([5, 5]))
    one = 2 * 2 * 5 * 5

    def step(x, turn):
        return tf.cond(turn, lambda: tf.matmul(tf.matmul(x, kernel), kernel),
                       lambda: tf.matmul(x, kernel))

    graph = traced(step, tf.TensorSpec([2, 5]), tf.TensorSpec([], tf.bool))
    assert graph_flops(graph) == 2 * one
    assert graph_flops(graph, branch_share=0.25) == round(0.25 * 2 * one + 0.75 * one)
    assert graph_flops(graph, branch_share=0.0) == one


def test_count_flops_of_a_step_on_labelled_sets():
    """A train step on ``(sets [B, n, d], labels [B])`` (DAGAN's and the statistician's layout):
    the sets are flattened to B*n rows of a Dense d -> 3; forward 2*B*n*d*3, and the kernel
    gradient the same again (the input needs none)."""
    import keras

    class SetModel(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(3, use_bias=False)

        def train_step(self, data):
            sets, labels = data
            with tf.GradientTape() as tape:
                rows = tf.reshape(sets, [-1, sets.shape[-1]])
                loss = tf.reduce_mean(tf.square(self.dense(rows))) + 0.0 * tf.reduce_sum(
                    tf.cast(labels, tf.float32))
            grads = tape.gradient(loss, self.dense.trainable_variables)
            return {"loss": loss, "norm": tf.linalg.global_norm(grads)}

    model = SetModel()
    model.dense.build((None, 7))
    batch = (tf.zeros([4, 5, 7]), tf.zeros([4], tf.int64))
    assert count_flops(model, batch) == 2 * (2 * 4 * 5 * 7 * 3)
