"""FLOPs of a traced train step, counted from its graph, and a CPU's nominal peak.

Counted: matrix products and convolutions, forward and backward, as 2 x multiply-adds:
``MatMul``/``BatchMatMul*`` 2·M·N·K; ``Conv2D`` 2·|output|·kh·kw·c_in; ``Conv2DBackpropInput``
(also the forward of a transposed convolution) and ``Conv2DBackpropFilter`` 2·|out_backprop|·kh·kw·c_in
of the convolution they differentiate.  Element-wise ops, normalisation, the augmentation's
gathers and the optimizer update are left out (a few % of the total for these backbones), so the
count is a lower bound of the work and the achieved fraction is a lower bound too.  Only live ops
count (:func:`live_ops`): the traced graph also holds dead code that never runs.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from augintae_tf import cpu

CONV_BACKPROP = ("Conv2DBackpropInput", "Conv2DBackpropFilter")


def _shape(tensor) -> list[int] | None:
    dims = tensor.shape.as_list() if tensor.shape.rank is not None else None
    return None if dims is None or any(d is None for d in dims) else dims


def op_flops(op) -> int:
    """FLOPs of one graph op (0 for the op types not counted, or unknown shapes)."""
    kind = op.type
    if kind == "MatMul":
        a, b = _shape(op.inputs[0]), _shape(op.inputs[1])
        if a is None or b is None:
            return 0
        m, k = (a[1], a[0]) if op.get_attr("transpose_a") else (a[0], a[1])
        n = b[0] if op.get_attr("transpose_b") else b[1]
        return 2 * m * n * k
    if kind.startswith("BatchMatMul"):
        out, a = _shape(op.outputs[0]), _shape(op.inputs[0])
        if out is None or a is None:
            return 0
        k = a[-2] if op.get_attr("adj_x") else a[-1]
        return 2 * int(np.prod(out)) * k
    if kind == "Conv2D":
        out, kernel = _shape(op.outputs[0]), _shape(op.inputs[1])
        if out is None or kernel is None:
            return 0
        return 2 * int(np.prod(out)) * kernel[0] * kernel[1] * kernel[2]
    if kind in CONV_BACKPROP:
        grad = _shape(op.inputs[2])  # out_backprop: the differentiated convolution's output
        # the kernel: an input of BackpropInput, the output (its gradient) of BackpropFilter
        kernel = _shape(op.inputs[1] if kind == "Conv2DBackpropInput" else op.outputs[0])
        c_in = None if kernel is None else kernel[2]
        taps = None if kernel is None else kernel[0] * kernel[1]
        if grad is None or c_in is None or taps is None:
            return 0
        return 2 * int(np.prod(grad)) * taps * c_in
    return 0


# Ops that run a function of the graph's library: the attributes naming it.  A function is
# counted once per call site (a layer called twice costs twice), not once per definition.
CALLS = {"PartitionedCall": ("f",), "StatefulPartitionedCall": ("f",),
         "While": ("body",), "StatelessWhile": ("body",)}
CONDITIONALS = ("If", "StatelessIf")


def _called_graph(graph, op, attr: str):
    """The body of the function ``op`` calls through attribute ``attr`` (None if unknown)."""
    name = op.get_attr(attr).name
    while graph is not None:
        function = graph._get_function(name)  # noqa: SLF001  (TF has no public lookup)
        if function is not None:
            return getattr(function, "graph", None)
        graph = getattr(graph, "outer_graph", None)
    return None


def live_ops(graph) -> set:
    """The ops of ``graph`` that run: those the graph's outputs or a stateful op (a variable
    assignment, an optimizer update) depend on, through inputs and control inputs.  The rest is
    dead code that Grappler prunes before anything runs; a tape's gradients of losses nobody
    applies are the usual case (an adversarial step traced 92 matmuls and convolutions and ran
    38 of them)."""
    roots = [tensor.op for tensor in graph.outputs]
    roots += [op for op in graph.get_operations() if op.op_def is not None and op.op_def.is_stateful]
    live, stack = set(), roots
    while stack:
        op = stack.pop()
        if op not in live:
            live.add(op)
            stack.extend(tensor.op for tensor in op.inputs)
            stack.extend(op.control_inputs)
    return live


def graph_flops(graph, branch_share: float | None = None) -> int:
    """Sum of :func:`op_flops` over the live ops of ``graph`` (:func:`live_ops`), each called
    function counted at its call sites.

    A conditional (``tf.cond``) counts ``p * then + (1 - p) * else`` with ``p = branch_share``: the
    average step of a model whose ``then`` branch runs on a fraction p of the steps (wgan-gp's and
    DAGAN's generator update, 1 / critic steps); ``None`` counts the costlier branch.  A loop's
    body counts once (its trip count is not in the graph)."""
    total = 0.0
    live = live_ops(graph)
    for op in graph.get_operations():
        if op not in live:
            continue
        total += op_flops(op)
        for attr in CALLS.get(op.type, ()):
            body = _called_graph(graph, op, attr)
            total += 0 if body is None else graph_flops(body, branch_share)
        if op.type in CONDITIONALS:
            then, other = (_called_graph(graph, op, a) for a in ("then_branch", "else_branch"))
            then, other = (0 if g is None else graph_flops(g, branch_share) for g in (then, other))
            total += max(then, other) if branch_share is None else \
                branch_share * then + (1.0 - branch_share) * other
    return int(round(total))


def count_flops(model, batch, branch_share: float | None = None) -> int:
    """FLOPs of ``model.train_step`` on one batch shaped like ``batch`` (traced, not run): a
    tensor, or any nest of them (``(images, labels)``, DAGAN's and the Neural Statistician's
    ``(sets [B, n, S, S, C], labels)``); ``branch_share``: :func:`graph_flops`."""
    spec = tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype), batch)
    graph = tf.function(model.train_step).get_concrete_function(spec).graph
    return graph_flops(graph, branch_share)


def matmul_gflops(n: int = 2048, reps: int = 5, dtype: str = "float32") -> float:
    """GFLOP/s of an ``n`` x ``n`` matmul in ``dtype`` (2 n^3 per product), ``reps`` timed after
    one untimed: the ceiling TensorFlow's best-tuned kernel reaches on this machine now (a bf16
    step's ceiling is the ``bfloat16`` one: twice float32's where the CPU has native bf16)."""
    a = tf.cast(tf.random.uniform((n, n)), dtype)
    product = tf.function(lambda x: tf.linalg.matmul(x, x))
    float(tf.reduce_sum(tf.cast(product(a), tf.float32)))
    start = time.perf_counter()
    for _ in range(reps):
        out = product(a)
    float(tf.reduce_sum(tf.cast(out, tf.float32)))
    return 2 * n ** 3 * reps / (time.perf_counter() - start) / 1e9


def clock_ghz() -> float | None:
    """The first processor's clock from /proc/cpuinfo ("cpu MHz"), else None."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1]) / 1000
    except (OSError, ValueError):
        pass
    return None


def flops_per_cycle() -> int:
    """float32 FLOPs one core retires per cycle with two FMA pipes of its widest vector: 64 with
    AVX-512, 32 with AVX2+FMA, 16 with AVX alone, 8 otherwise (an upper bound: some CPUs run
    AVX-512 on 256-bit pipes)."""
    ext = set(cpu.vector_extensions() or [])
    if "avx512f" in ext:
        return 64
    if "avx2" in ext and "fma" in ext:
        return 32
    return 16 if "avx" in ext else 8


def nominal_peak_gflops() -> float:
    """Logical CPUs x clock x :func:`flops_per_cycle` (an upper bound: logical CPUs that are
    SMT siblings share one core's pipes)."""
    return (os.cpu_count() or 1) * (clock_ghz() or 2.0) * flops_per_cycle()
