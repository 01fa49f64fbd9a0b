"""Train-step throughput of the adversarial models against AugIntAE.

Times Keras' own compiled train function (what ``fit`` runs) on an in-memory batch stream, for
each model and XLA setting: a few warm-up steps (tracing/compilation), then ``--windows`` timed
windows of ``--steps`` steps each, synchronised by reading the step's logs back to the host, the
models' windows interleaved.  Reports the median images/s over the windows (and the min/max) and
the ratio to AugIntAE, prints a table and writes JSON (with the load average, since a shared
machine skews absolute numbers).

    python benchmarks/adversarial_throughput.py                      # 28x28, batch 128, width 1
    python benchmarks/adversarial_throughput.py --jit off --windows 3 --out bench.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from augintae_tf.config import Config  # noqa: E402
from augintae_tf.models import build_model  # noqa: E402

MODELS = ("augintae", "augintae-adv", "gaia")


def make_model(name: str, size: int, latent: int, width: float, jit: bool) -> keras.Model:
    cfg = Config()
    cfg.model.name, cfg.data.image_size, cfg.model.latent_dim = name, size, latent
    cfg.model.width = width
    model = build_model(cfg)
    optimizers = {opt: keras.optimizers.Adam(1e-3) for opt in getattr(
        model, "optimizer_names", ("optimizer",))}
    model.compile(**optimizers, jit_compile=jit)
    model.build_for_training()
    return model


class Bench:
    """One model's compiled train function on an in-memory stream of ``batch``-image batches."""

    def __init__(self, name: str, size: int, latent: int, width: float, batch: int, jit: bool):
        keras.utils.set_random_seed(0)
        self.name, self.jit, self.batch = name, jit, batch
        self.model = make_model(name, size, latent, width, jit)
        images = np.random.default_rng(0).uniform(size=(4 * batch, size, size, 1)).astype("float32")
        dataset = (tf.data.Dataset.from_tensor_slices(images).repeat()
                   .batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
        self.iterator = iter(dataset)
        self.model.make_train_function()
        self.rates: list[float] = []

    def run(self, steps: int) -> float:
        """Seconds for ``steps`` train steps, synchronised on the last step's logs."""
        start = time.perf_counter()
        for _ in range(steps):
            logs = self.model.train_function(self.iterator)
        float(logs["loss"])  # wait for the device
        return time.perf_counter() - start

    def result(self) -> dict:
        median = statistics.median(self.rates)
        return {"model": self.name, "jit": self.jit, "images_per_s": median,
                "min_images_per_s": min(self.rates), "max_images_per_s": max(self.rates),
                "step_ms": 1000.0 * self.batch / median, "first_step_s": self.first_step_s,
                "windows": self.rates}


def measure(args, jit: bool) -> list[dict]:
    """Warm every model up, then time the windows round-robin (model A, B, C, A, B, C, ...), so
    that a busy or shared machine slows every model alike and the ratios stay meaningful."""
    benches = [Bench(name, args.size, args.latent, args.width, args.batch, jit)
               for name in args.models]
    for bench in benches:
        bench.first_step_s = bench.run(1)  # tracing + (XLA) compilation
        if args.warmup > 1:
            bench.run(args.warmup - 1)
    for _ in range(args.windows):
        for bench in benches:
            bench.rates.append(args.steps * args.batch / bench.run(args.steps))
    return [bench.result() for bench in benches]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--jit", choices=("on", "off", "both"), default="both")
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5, help="steps per timed window")
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--out", default="adversarial_throughput.json")
    args = parser.parse_args()

    jits = {"on": [True], "off": [False], "both": [False, True]}[args.jit]
    load_before = os.getloadavg()
    results = []
    for jit in jits:
        results += measure(args, jit)
        print(f"  measured jit={jit}", flush=True)
    load_after = os.getloadavg()

    print(f"\n{args.size}x{args.size}, batch {args.batch}, width {args.width}, "
          f"latent {args.latent}; "
          f"median of {args.windows} windows x {args.steps} steps; load average "
          f"{load_before[0]:.1f} -> {load_after[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'model':<14}{'xla':<6}{'img/s':>9}{'min':>8}{'max':>8}{'ms/step':>9}"
          f"{'vs augintae':>13}{'1st step s':>12}")
    for r in results:
        base = next((b for b in results if b["model"] == "augintae" and b["jit"] == r["jit"]), None)
        ratio = f"{r['images_per_s'] / base['images_per_s']:.2f}x" if base else "-"
        print(f"{r['model']:<14}{'on' if r['jit'] else 'off':<6}{r['images_per_s']:>9.0f}"
              f"{r['min_images_per_s']:>8.0f}{r['max_images_per_s']:>8.0f}{r['step_ms']:>9.0f}"
              f"{ratio:>13}{r['first_step_s']:>12.1f}")
    payload = {"settings": vars(args), "tensorflow": tf.__version__, "keras": keras.__version__,
               "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                           "load_average_before_after": [load_before, load_after],
                           "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]},
               "results": results}
    with open(args.out, "w") as handle:
        json.dump(payload, handle, indent=2)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
