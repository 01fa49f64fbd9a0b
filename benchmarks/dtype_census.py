"""Which ops of a train step compute in which dtype, and how many casts it pays, per precision.

The first question of a bf16 profile, answerable on any CPU (it reads the traced graph; nothing
is timed): under ``mixed_bfloat16`` the matrix products and convolutions should run in bfloat16,
while BatchNorm statistics, the losses, the augmentation and the optimizer update stay in
float32 by design; every crossing between the two is a ``Cast``.  Prints, per precision, the
matmul/conv ops by dtype, the casts by direction, activations apart from weights (and the elements they move per step), and the
float32 element-wise ops that sit between bf16 ones.

    python benchmarks/dtype_census.py                       # augintae 28x28x1, both precisions
    python benchmarks/dtype_census.py --model ae --overrides model.target=blend
"""
from __future__ import annotations

import argparse
import collections
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from profile_step import build_step  # noqa: E402  (imports augintae_tf first: oneDNN set-up)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from augintae_tf import cpu  # noqa: E402

COMPUTE = ("MatMul", "BatchMatMulV2", "Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter",
           "_FusedMatMul", "_FusedConv2D")


def _ops(graph):
    """Every op of ``graph`` and of the functions it calls (the step's gradient, loops)."""
    yield from graph.get_operations()
    for function in getattr(graph, "_functions", {}).values():
        body = getattr(function, "graph", None)
        if body is not None and body is not graph:
            yield from _ops(body)


def _elements(tensor) -> int:
    dims = tensor.shape.as_list() if tensor.shape.rank is not None else None
    return 0 if dims is None or None in dims else int(np.prod(dims))


def census(graph, batch: int) -> dict:
    """Counts of the traced step's ops by dtype: compute ops, casts, float32 element-wise ops."""
    compute, casts, cast_elems = collections.Counter(), collections.Counter(), collections.Counter()
    float32_ops = collections.Counter()
    for op in _ops(graph):
        dtype = op.outputs[0].dtype.name if op.outputs else None
        if op.type in COMPUTE:
            compute[f"{op.type}:{dtype}"] += 1
        elif op.type == "Cast":
            # activations lead with the batch (or both views'); weights and gradients do not
            dims = op.outputs[0].shape.as_list() if op.outputs[0].shape.rank else []
            kind = "activation" if dims and dims[0] in (batch, 2 * batch) else "weight/other"
            key = f"{op.inputs[0].dtype.name}->{dtype} {kind}"
            casts[key] += 1
            cast_elems[key] += _elements(op.outputs[0])
        elif dtype == "float32" and op.inputs and any(
                t.dtype == tf.bfloat16 for t in op.inputs):
            float32_ops[op.type] += 1
    return {"compute": dict(compute), "casts": dict(casts),
            "cast_elements_per_step": dict(cast_elems),
            "float32_ops_reading_bf16": dict(float32_ops)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="augintae")
    parser.add_argument("--shape", default="28x28x1")
    parser.add_argument("--precisions", default="float32,mixed_bfloat16")
    parser.add_argument("--overrides", default="model.target=blend",
                        help="dotted config overrides, comma-separated (default: the twin's target)")
    parser.add_argument("--out", default="benchmarks/results/dtype_census.json")
    args = parser.parse_args()
    overrides = dict(kv.split("=", 1) for kv in args.overrides.split(",") if kv)
    results = {}
    for precision in args.precisions.split(","):
        model, _, images, batch = build_step(args.model, args.shape, False,
                                             overrides={**overrides, "train.precision": precision})
        graph = tf.function(model.train_step).get_concrete_function(
            tf.TensorSpec(images.shape, images.dtype)).graph
        results[precision] = census(graph, batch)
        print(f"\n{args.model} {args.shape} batch {batch}, {precision}")
        for key, table in results[precision].items():
            print(f"  {key}: " + ", ".join(f"{k} {v}" for k, v in sorted(table.items())))
    payload = {"machine": cpu.describe(), "model": args.model, "shape": args.shape,
               "overrides": overrides, "results": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, separators=(",", ":")))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
