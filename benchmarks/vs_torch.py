"""The project's AugIntAE train step beside its plain PyTorch twin, alternating, on this machine.

The twin is ``../shared/yardsticks/torch_augintae_step.py`` (same layers, augmentation ranges,
slerp and MSE; Adam 1e-3), run by ANOTHER interpreter that has torch (torch is never a dependency
of this package).  Each window runs one side in a fresh process, then the other, so both see the
same minutes of a shared machine; a window reports images/s of ``--steps`` timed steps after a
warm-up, and the table prints the TF/torch ratio per window and the median.

The TF side is built as ``augintae-tf train`` builds it (``training.build``: glyphs preset,
full-width InfoGAN backbone, batch 128, fused Adam, in-memory batch), on the twin's target (the
pixel blend, ``model.target: blend``) so both sides do the same work.  ``--modes`` picks the
twin's MODEs (``eager``: float32, ``torch.optim.Adam``; ``fused``: float32, ``Adam(fused=True)``;
``bf16``: fused Adam + ``torch.autocast(bfloat16)``); each is set against the TF step in the same
precision (float32, or ``mixed_bfloat16`` for ``bf16``), every window running each TF precision
once and each torch mode once, in fresh processes, one after the other.  ``--isa avx2``
restricts both sides' kernels to AVX2 (``ONEDNN_MAX_CPU_ISA``, ``ATEN_CPU_CAPABILITY``) to
emulate an AVX2-only CPU on a newer one; ``--onednn off`` gives TensorFlow's default on such a CPU.

    python benchmarks/vs_torch.py --python /path/to/torch-venv/bin/python --modes eager,fused,bf16
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


MODES = ("eager", "fused", "bf16")
TF_PRECISION = {"eager": "float32", "fused": "float32", "bf16": "mixed_bfloat16"}


def tf_window(batch: int, steps: int, warmup: int, jit: bool, precision: str) -> dict:
    """In this process: build the step, warm up, time ``steps`` steps; one JSON-able dict."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # profile_step (this folder) imports augintae_tf before TensorFlow: the oneDNN setup applies
    from profile_step import build_step, run_steps

    import tensorflow as tf

    from augintae_tf import cpu

    model, iterator, _, _ = build_step("augintae", "28x28x1", jit, batch=batch, overrides={
        "model.target": "blend", "train.precision": precision})
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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=False, help="an interpreter that has torch")
    parser.add_argument("--yardstick", default=str(YARDSTICK))
    parser.add_argument("--modes", default="eager,fused",
                        help=f"the twin's MODEs, comma-separated, of {', '.join(MODES)}")
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
    parser.add_argument("--precision", default="float32", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.modes = args.modes.split(",")
    bad = [m for m in args.modes if m not in MODES]
    if bad:
        raise SystemExit(f"--modes: {bad[0]!r} is not a MODE of the twin; expected some of "
                         f"{', '.join(MODES)}")
    return args


def run_windows(args, tf_env: dict, torch_env: dict) -> tuple[list[dict], dict, dict]:
    """Per window: each TF precision the modes need, then each torch mode, in fresh processes.
    Returns (rows of {window, mode, tf, torch, ratio}, the last TF side, the last torch side)."""
    precisions = list(dict.fromkeys(TF_PRECISION[m] for m in args.modes))
    tf_base = [sys.executable, __file__, "--tf-window", "--batch", str(args.batch), "--steps",
               str(args.steps), "--warmup", str(args.warmup)] + (["--jit"] if args.jit else [])
    rows = []
    print(f"{'window':>6} {'mode':<6}{'TF img/s':>10}{'torch img/s':>13}{'TF/torch':>10}", flush=True)
    for window in range(args.windows):
        tf_rates = {}
        for precision in precisions:
            tf_side = run_side(tf_base + ["--precision", precision], tf_env)
            tf_rates[precision] = tf_side["images_per_s"]
        for mode in args.modes:
            torch_side = run_side([args.python, args.yardstick, str(args.batch), str(args.steps),
                                   mode], torch_env)
            tf_rate = tf_rates[TF_PRECISION[mode]]
            ratio = tf_rate / torch_side["images_per_s"]
            rows.append({"window": window + 1, "mode": mode, "tf_precision": TF_PRECISION[mode],
                         "tf": tf_rate, "torch": torch_side["images_per_s"], "ratio": round(ratio, 3)})
            print(f"{window + 1:>6} {mode:<6}{tf_rate:>10.0f}{torch_side['images_per_s']:>13.0f}"
                  f"{ratio:>10.2f}", flush=True)
    return rows, tf_side, torch_side


def summarise(rows: list[dict], modes: list[str]) -> dict[str, dict]:
    """Per mode: median TF and torch img/s, the median of the per-window ratios and their range."""
    out = {}
    for mode in modes:
        mine = [r for r in rows if r["mode"] == mode]
        ratios = [r["ratio"] for r in mine]
        out[mode] = {"tf_precision": TF_PRECISION[mode],
                     "tf": statistics.median(r["tf"] for r in mine),
                     "torch": statistics.median(r["torch"] for r in mine),
                     "median_ratio": round(statistics.median(ratios), 3),
                     "min_ratio": min(ratios), "max_ratio": max(ratios)}
    return out


def main() -> None:
    args = parse_args()
    if args.tf_window:
        print(json.dumps(tf_window(args.batch, args.steps, args.warmup, args.jit, args.precision)))
        return
    if not args.python:
        raise SystemExit("--python: the interpreter of an environment with torch is required "
                         "(e.g. python3 -m venv /tmp/t && /tmp/t/bin/pip install torch numpy)")
    if not Path(args.yardstick).is_file():
        raise SystemExit(f"--yardstick: {args.yardstick} does not exist (expected ../shared beside "
                         "the checkout)")
    tf_env, torch_env = side_env(args)
    load_before = os.getloadavg()[0]
    rows, tf_side, torch_side = run_windows(args, tf_env, torch_env)
    summary = summarise(rows, args.modes)
    machine = tf_side["machine"]
    print(f"\n{machine['cpu']}, {machine['cores']} cores, isa {args.isa}, native bf16 "
          f"{machine['native_bf16']}, oneDNN {machine['onednn']}, XLA {'on' if args.jit else 'off'}; "
          f"TF {tf_side['tf']}, torch {torch_side['torch']}; load average {load_before:.1f} -> "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'mode':<7}{'TF precision':<16}{'TF img/s':>10}{'torch img/s':>13}{'median TF/torch':>17}"
          f"{'range':>13}")
    for mode, m in summary.items():
        print(f"{mode:<7}{m['tf_precision']:<16}{m['tf']:>10.0f}{m['torch']:>13.0f}"
              f"{m['median_ratio']:>17.2f}{m['min_ratio']:>7.2f}-{m['max_ratio']:.2f}")
    payload = {"machine": machine, "isa": args.isa, "isa_env": ISA[args.isa],
               "onednn_setting": args.onednn, "jit": args.jit, "batch": args.batch,
               "steps": args.steps, "tf": tf_side["tf"], "torch": torch_side["torch"],
               "load_average_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
               "modes": summary, "windows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, separators=(",", ":")))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
