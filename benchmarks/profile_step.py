"""Where one train step's time goes, and what fraction of the CPU's peak it reaches.

Builds a model the way ``augintae-tf train`` does (``training.build``), runs ``--steps`` of
Keras' compiled train function on one in-memory random batch under the TensorFlow profiler, and
reads the trace (``.xplane.pb``) back: time per op type summed over the host's threads, the
share of the step's wall time the op threads were busy (the rest is host overhead and waiting),
and the step's FLOPs counted from its graph (:func:`count_flops`: matrix products and
convolutions, forward and backward) against two peaks: the CPU's nominal one (cores x clock x
FLOP/cycle of its widest FMA) and a large float32 matmul measured in the same process.

    python benchmarks/profile_step.py                      # augintae, 28x28x1, batch 128
    python benchmarks/profile_step.py --model ae --top 15 --out benchmarks/results/profile.json
    python benchmarks/profile_step.py --precision mixed_bfloat16   # on a CPU with native bf16
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from augintae_tf import cpu  # noqa: E402  (sets up oneDNN before TensorFlow is imported)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: E402

from augintae_tf.config import load_config  # noqa: E402
from flops import count_flops, matmul_gflops, nominal_peak_gflops  # noqa: E402
from augintae_tf.training import build  # noqa: E402

SHAPES = {"28x28x1": ("glyphs", 128), "64x64x3": ("cifar10", 64)}
# Trace events that enclose op events (the executor's per-step span, thread-pool fan-out): not ops.
ENCLOSING = {"Process", "ParallelFor"}


def build_step(model_name: str, shape: str, jit: bool, batch: int | None = None,
               overrides: dict | None = None):
    """The model as ``augintae-tf train`` builds it, its compiled train function, and an
    iterator over one random batch (``batch``: the shape's default when None).  ``overrides``
    (dotted config keys) go on top; a ``train.precision`` there is the model's dtype; float32
    otherwise, whatever ``auto`` would choose on this machine."""
    preset, default_batch = SHAPES[shape]
    batch = batch or default_batch
    cfg = load_config(preset, {"model.name": model_name, "train.batch_size": batch,
                               "train.jit": "on" if jit else "off", "train.precision": "float32",
                               **(overrides or {})})
    model = build(cfg, steps=1000)
    size, channels = cfg.data.image_size, cfg.data.channels
    images = np.random.default_rng(0).uniform(size=(batch, size, size, channels)).astype(np.float32)
    iterator = iter(tf.data.Dataset.from_tensors(images).repeat())
    model.make_train_function()
    return model, iterator, tf.constant(images), batch


def run_steps(model, iterator, steps: int) -> float:
    """Seconds for ``steps`` train steps, synchronised on the last loss."""
    if steps < 1:
        return 0.0
    start = time.perf_counter()
    for _ in range(steps):
        logs = model.train_function(iterator)
    float(logs["loss"])
    return time.perf_counter() - start


def op_times(logdir: str) -> dict[str, float]:
    """Seconds per op type summed over the host's op threads."""
    path = next(Path(logdir).rglob("*.xplane.pb"))
    space = xplane_pb2.XSpace.FromString(path.read_bytes())
    totals: dict[str, float] = collections.defaultdict(float)
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        names = {k: m.name for k, m in plane.event_metadata.items()}
        for line in plane.lines:
            if "tf_Compute" not in line.name and "tf_inter" not in line.name.lower() \
                    and "Eigen" not in line.name and "oneDNN" not in line.name:
                continue
            for event in line.events:
                name = names.get(event.metadata_id, "?")
                op_type = name.split(":")[-1] if ":" in name else name
                if op_type not in ENCLOSING:
                    totals[op_type] += event.duration_ps * 1e-12
    return dict(totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="augintae")
    parser.add_argument("--shape", default="28x28x1", choices=sorted(SHAPES))
    parser.add_argument("--jit", action="store_true", help="profile the XLA-compiled step")
    parser.add_argument("--precision", default="float32",
                        choices=("float32", "mixed_bfloat16", "mixed_float16"))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--out", default=None, help="write the JSON here")
    args = parser.parse_args()

    model, iterator, images, batch = build_step(args.model, args.shape, args.jit,
                                                overrides={"train.precision": args.precision})
    run_steps(model, iterator, 3)  # trace, warm up
    untraced = run_steps(model, iterator, args.steps)
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        traced = run_steps(model, iterator, args.steps)
        tf.profiler.experimental.stop()
        totals = op_times(logdir)
    flops = count_flops(model, images)
    step_s = untraced / args.steps
    achieved = flops / step_s / 1e9
    # A bf16 step's ceiling is a bf16 matmul's (twice float32's on a CPU with native bf16); the
    # nominal peak stays float32's, so the two shares read differently under bf16.
    matmul_dtype = "bfloat16" if args.precision == "mixed_bfloat16" else "float32"
    peak_nominal, peak_matmul = nominal_peak_gflops(), matmul_gflops(reps=10, dtype=matmul_dtype)
    busy = sum(totals.values()) / args.steps
    machine = cpu.describe()
    print(f"{machine['cpu']}, {machine['cores']} cores, {' '.join(machine['vector_extensions'] or [])}; "
          f"oneDNN {machine['onednn']}")
    print(f"{args.model} {args.shape} batch {batch}, xla {'on' if args.jit else 'off'}: "
          f"{step_s * 1e3:.0f} ms/step untraced ({batch / step_s:.0f} img/s), "
          f"{traced / args.steps * 1e3:.0f} ms traced")
    print(f"op time summed over threads: {busy * 1e3:.0f} ms/step "
          f"({busy / step_s / (machine['cores'] or 1):.0%} of {machine['cores']} cores' wall time)")
    print(f"FLOPs (matmul + conv, fwd + bwd): {flops / 1e9:.2f} G/step = {flops / batch / 1e6:.0f} M/image; "
          f"{achieved:.0f} GFLOP/s = {achieved / peak_nominal:.0%} of nominal peak "
          f"{peak_nominal:.0f} (float32), {achieved / peak_matmul:.0%} of a 2048^2 {matmul_dtype} "
          f"matmul's {peak_matmul:.0f}")
    print(f"\n{'op type':<40}{'ms/step':>9}{'share':>8}")
    rows = sorted(totals.items(), key=lambda kv: -kv[1])
    for name, seconds in rows[:args.top]:
        print(f"{name[:39]:<40}{seconds / args.steps * 1e3:>9.2f}{seconds / sum(totals.values()):>8.1%}")
    if args.out:
        payload = {"machine": machine, "model": args.model, "shape": args.shape, "batch": batch,
                   "xla": args.jit, "step_ms": step_s * 1e3, "flops_per_step": flops,
                   "gflops_per_s": achieved, "nominal_peak_gflops": peak_nominal,
                   "matmul_peak_gflops": peak_matmul, "matmul_peak_dtype": matmul_dtype,
                   "op_ms_per_step": {k: v / args.steps * 1e3 for k, v in rows}}
        Path(args.out).write_text(json.dumps(payload, separators=(",", ":")))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
