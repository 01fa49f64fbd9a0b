"""FastGAN on this machine: train-step images/s at 64 and 128 px, and a stated-budget run.

    python benchmarks/fastgan.py throughput [--widths 0.25,1.0] [--steps 6]
    python benchmarks/fastgan.py budget --epochs 20 --out runs/fastgan-glyphs300

``throughput``: each (size, width) is built the way ``augintae-tf train`` builds it
(``training.build``: FastGAN's Adam betas, batch 8, ``jit_compile`` auto) and runs Keras'
compiled train function on one random RGB batch held in memory (no input pipeline): one
first step (tracing/compilation, reported), one warm-up step, then ``--steps`` timed steps.
``budget``: ``augintae-tf train --model fastgan`` on the first 300 glyph training images at
64x64 for ``--epochs`` epochs (width 0.25), then ``evaluate`` (the ``samples`` metric: Fréchet
distance in 8x8-pixel features of 1000 samples against the held-out validation glyphs, beside
the floor of the training images against the same held-out set).  Results as JSON on stdout and
in ``benchmarks/results/fastgan.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
RESULTS = Path(__file__).with_name("results") / "fastgan.json"


def throughput(sizes, widths, steps: int) -> list[dict]:
    import numpy as np
    import tensorflow as tf

    from augintae_tf.config import load_config
    from augintae_tf.training import build

    rows = []
    for size in sizes:
        for width in widths:
            cfg = load_config("cifar10", {"model.name": "fastgan", "data.image_size": str(size),
                                          "model.width": str(width)})
            model = build(cfg, 10)
            batch = tf.constant(np.random.default_rng(0).uniform(
                size=(cfg.train.batch_size, size, size, 3)), tf.float32)
            data = tf.data.Dataset.from_tensors(batch).repeat()
            model.make_train_function()
            step = model.train_function
            iterator = iter(data)
            start = time.perf_counter()
            float(step(iterator)["d_loss"])
            first = time.perf_counter() - start
            float(step(iterator)["d_loss"])
            start = time.perf_counter()
            for _ in range(steps):
                logs = step(iterator)
            float(logs["d_loss"])
            seconds = time.perf_counter() - start
            params = {k: v.count_params() for k, v in model.networks().items()}
            rows.append({"size": size, "width": width, "batch": cfg.train.batch_size,
                         "images_per_s": round(cfg.train.batch_size * steps / seconds, 2),
                         "first_step_s": round(first, 1), "timed_steps": steps,
                         "parameters": params})
            print(json.dumps(rows[-1]), flush=True)
            tf.keras.backend.clear_session()
    return rows


def budget(out: str, epochs: int, limit: int, width: float) -> dict:
    from augintae_tf.config import load_config
    from augintae_tf.evaluation.evaluate_run import evaluate
    from augintae_tf.training import train

    cfg = load_config("glyphs", {"model.name": "fastgan", "data.image_size": "64",
                                 "data.limit": str(limit), "model.width": str(width),
                                 "train.epochs": str(epochs)})
    start = time.perf_counter()
    result = train(cfg, out, echo=lambda line: print(line, flush=True))
    wall = time.perf_counter() - start
    record = evaluate(out, metrics="samples", num_images=1000, progress=False)
    last = result.history[-1]
    return {"run": str(out), "images": limit, "size": 64, "width": width, "epochs": epochs,
            "steps": last["step"], "train_wall_s": round(wall, 1),
            "median_images_per_s": sorted(r["images_per_s"] for r in result.history)[
                len(result.history) // 2],
            "final": {k: last[k] for k in ("d_loss", "g_loss", "recon_loss", "d_real", "d_fake")},
            "fd_px8_samples": record["fd_px8_samples"], "fd_px8_floor": record["fd_px8_floor"],
            "grid": str(Path(out) / "samples" / f"epoch-{epochs:03d}.png"),
            "progress": str(Path(out) / "samples" / "progress.png")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["throughput", "budget"])
    parser.add_argument("--sizes", default="64,128")
    parser.add_argument("--widths", default="0.25,1.0")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--out", default="runs/fastgan-glyphs300")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--width", type=float, default=0.25)
    args = parser.parse_args()
    if args.what == "throughput":
        result = throughput([int(s) for s in args.sizes.split(",")],
                            [float(w) for w in args.widths.split(",")], args.steps)
    else:
        result = budget(args.out, args.epochs, args.limit, args.width)
        print(json.dumps(result, indent=1))
    from augintae_tf import atomic

    # read just before writing: the two parts may run at the same time
    saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    saved["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(),
                        "load_average": os.getloadavg(), "python": sys.version.split()[0]}
    saved[args.what] = result
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(RESULTS, json.dumps(saved, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
