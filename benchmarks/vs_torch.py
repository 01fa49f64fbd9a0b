"""The project's AugIntAE train step beside its plain PyTorch twin, alternating, on this machine.

The twin is ``../shared/yardsticks/torch_augintae_step.py`` (same layers, augmentation ranges,
slerp and MSE; Adam 1e-3), run by ANOTHER interpreter that has torch (torch is never a dependency
of this package).  Each window runs one side in a fresh process, then the other, so both see the
same minutes of a shared machine; a window reports images/s of ``--steps`` timed steps after a
warm-up, and the table prints the TF/torch ratio per window and the median.

The TF side is built as ``augintae-tf train`` builds it (``training.build``: glyphs preset,
full-width InfoGAN backbone, batch 128, float32, fused Adam, in-memory batch).  ``--isa avx2``
restricts both sides' kernels to AVX2 (``ONEDNN_MAX_CPU_ISA``, ``ATEN_CPU_CAPABILITY``) to
emulate an AVX2-only CPU on a newer one; ``--onednn off`` gives TensorFlow's default on such a CPU.

    python benchmarks/vs_torch.py --python /path/to/torch-venv/bin/python
    python benchmarks/vs_torch.py --python ... --isa avx2 --onednn off --out benchmarks/results/vs_torch_avx2_off.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
YARDSTICK = ROOT.parent / "shared" / "yardsticks" / "torch_augintae_step.py"
ISA = {"native": {}, "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"},
       "avx512": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE", "ATEN_CPU_CAPABILITY": "avx512"}}


def tf_window(batch: int, steps: int, warmup: int, jit: bool) -> dict:
    """In this process: build the step, warm up, time ``steps`` steps; one JSON-able dict."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # profile_step (this folder) imports augintae_tf before TensorFlow: the oneDNN setup applies
    from profile_step import build_step, run_steps

    import tensorflow as tf

    from augintae_tf import cpu

    model, iterator, _, _ = build_step("augintae", "28x28x1", jit, batch=batch)
    run_steps(model, iterator, warmup)
    rate = batch * steps / run_steps(model, iterator, steps)
    return {"images_per_s": round(rate, 1), "tf": tf.__version__, "machine": cpu.describe()}


def run_side(command: list[str], env: dict) -> dict:
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command[:2])} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def side_env(args) -> tuple[dict, dict]:
    """(TF side's environment, torch side's): the same ISA limit for both."""
    base = {**os.environ, **ISA[args.isa]}
    tf_env = dict(base)
    if args.onednn != "default":
        tf_env["TF_ENABLE_ONEDNN_OPTS"] = "1" if args.onednn == "on" else "0"
    return tf_env, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=False, help="an interpreter that has torch")
    parser.add_argument("--yardstick", default=str(YARDSTICK))
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per window and side")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--isa", choices=sorted(ISA), default="native")
    parser.add_argument("--onednn", choices=("default", "on", "off"), default="default",
                        help="TensorFlow's oneDNN kernels (default: what augintae_tf sets up)")
    parser.add_argument("--jit", action="store_true", help="XLA-compile the TF step")
    parser.add_argument("--out", default="benchmarks/results/vs_torch.json")
    parser.add_argument("--tf-window", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tf_window:
        print(json.dumps(tf_window(args.batch, args.steps, args.warmup, args.jit)))
        return
    if not args.python:
        raise SystemExit("--python: the interpreter of an environment with torch is required "
                         "(e.g. python3 -m venv /tmp/t && /tmp/t/bin/pip install torch numpy)")
    if not Path(args.yardstick).is_file():
        raise SystemExit(f"--yardstick: {args.yardstick} does not exist (expected ../shared beside "
                         "the checkout)")
    tf_env, torch_env = side_env(args)
    tf_cmd = [sys.executable, __file__, "--tf-window", "--batch", str(args.batch), "--steps",
              str(args.steps), "--warmup", str(args.warmup)] + (["--jit"] if args.jit else [])
    torch_cmd = [args.python, args.yardstick, str(args.batch), str(args.steps)]
    rows, load_before = [], os.getloadavg()[0]
    print(f"{'window':>6}{'TF img/s':>10}{'torch img/s':>13}{'TF/torch':>10}", flush=True)
    for window in range(args.windows):
        tf_side = run_side(tf_cmd, tf_env)
        torch_side = run_side(torch_cmd, torch_env)
        ratio = tf_side["images_per_s"] / torch_side["images_per_s"]
        rows.append({"tf": tf_side["images_per_s"], "torch": torch_side["images_per_s"],
                     "ratio": round(ratio, 3)})
        print(f"{window + 1:>6}{rows[-1]['tf']:>10.0f}{rows[-1]['torch']:>13.0f}{ratio:>10.2f}",
              flush=True)
    median = statistics.median(r["ratio"] for r in rows)
    machine = tf_side["machine"]
    print(f"median TF/torch {median:.2f}; {machine['cpu']}, {machine['cores']} cores, isa {args.isa}, "
          f"oneDNN {machine['onednn']}; TF {tf_side['tf']}, torch {torch_side['torch']}; "
          f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}")
    payload = {"machine": machine, "isa": args.isa, "isa_env": ISA[args.isa],
               "onednn_setting": args.onednn, "jit": args.jit, "batch": args.batch,
               "steps": args.steps, "tf": tf_side["tf"], "torch": torch_side["torch"],
               "windows": rows, "median_ratio": round(median, 3)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
