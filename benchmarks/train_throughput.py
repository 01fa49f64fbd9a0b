"""Train-step throughput (images/s) per model, image shape, XLA setting and precision.

Each configuration is built the way `augintae-tf train` builds it (``training.build``: paper
widths, Adam, ``jit_compile`` from the config, the precision as the global Keras policy) and runs
Keras' own compiled train function (what ``fit`` runs) on an in-memory stream of one random batch,
so no input pipeline is timed.  After ``--warmup`` steps (tracing, XLA compilation) it is timed
in ``--windows`` windows of ``--steps`` steps, each synchronised by reading the loss back; the
windows of one model and shape are interleaved across its XLA/precision variants, so a shared
machine's load slows them alike.  Reported: the median window, the augmentation alone (both views
of every image, as AugIntAE draws them) and peak memory (GPU: TensorFlow's allocator peak per
configuration; CPU: the process's resident-set peak while the configuration ran, sampled, plus
``getrusage``'s whole-run peak).

    python benchmarks/train_throughput.py            # the full matrix
    python benchmarks/train_throughput.py --quick    # augintae only, float32, fewer steps
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from augintae_tf.augment import augment  # noqa: E402
from augintae_tf.config import load_config  # noqa: E402
from augintae_tf.training import build  # noqa: E402

MODELS = ("ae", "intae", "augintae", "augintae-adv", "gaia")
SHAPES = {"28x28x1": ("glyphs", 128), "64x64x3": ("cifar10", 64)}  # preset, batch size
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
GPU = bool(tf.config.list_physical_devices("GPU"))


class RssSampler:
    """The process's peak resident set while a block runs (CPU memory has no allocator peak)."""

    def __enter__(self):
        self.peak, self._stop = _rss_mb(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss_mb())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


class Bench:
    """One configuration: a model built as training builds it, on a stream of one random batch."""

    def __init__(self, name: str, shape: str, jit: bool, precision: str):
        preset, self.batch = SHAPES[shape]
        self.row = {"model": name, "shape": shape, "batch": self.batch, "xla": jit,
                    "precision": precision}
        self.cfg = load_config(preset, {"model.name": name, "train.batch_size": self.batch,
                                        "train.jit": "on" if jit else "off",
                                        "train.precision": precision})
        keras.utils.set_random_seed(0)
        with self.policy():
            self.model = build(self.cfg, steps=1000)
        size, channels = self.cfg.data.image_size, self.cfg.data.channels
        images = np.random.default_rng(0).uniform(size=(self.batch, size, size, channels))
        dataset = tf.data.Dataset.from_tensors(images.astype(np.float32)).repeat().prefetch(2)
        self.iterator = iter(dataset)
        self.model.make_train_function()
        self.rates: list[float] = []
        self.peak_mb = 0.0

    @contextlib.contextmanager
    def policy(self):
        """Keras reads the global policy when layers are built and when the step is traced."""
        keras.mixed_precision.set_global_policy(self.cfg.train.precision)
        try:
            yield
        finally:
            keras.mixed_precision.set_global_policy("float32")

    def run(self, steps: int) -> float:
        """Seconds for ``steps`` train steps, synchronised on the last step's loss."""
        if GPU:
            tf.config.experimental.reset_memory_stats("GPU:0")
        with self.policy(), RssSampler() as rss:
            start = time.perf_counter()
            for _ in range(steps):
                logs = self.model.train_function(self.iterator)
            loss = float(logs["loss"])
            seconds = time.perf_counter() - start
        peak = (tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2 ** 20 if GPU
                else rss.peak)
        self.peak_mb = max(self.peak_mb, peak)
        if not np.isfinite(loss):
            raise RuntimeError(f"{self.row}: the loss became {loss}")
        return seconds

    def result(self) -> dict:
        median = statistics.median(self.rates)
        return {**self.row, "images_per_s": round(median, 1),
                "min_images_per_s": round(min(self.rates), 1),
                "max_images_per_s": round(max(self.rates), 1),
                "step_ms": round(1000.0 * self.batch / median, 1),
                "first_step_s": round(self.first_step_s, 2), "peak_mb": round(self.peak_mb)}


def measure_group(name: str, shape: str, variants: list[tuple[bool, str]], args) -> list[dict]:
    """Warm up every (xla, precision) variant of one model and shape, then time them round-robin."""
    steps = args.steps or (3 if shape == "28x28x1" else 2)
    benches = []
    for jit, precision in variants:
        bench = Bench(name, shape, jit, precision)
        bench.first_step_s = bench.run(1)  # tracing (+ XLA compilation)
        bench.run(args.warmup)
        benches.append(bench)
    for _ in range(args.windows):
        for bench in benches:
            bench.rates.append(steps * bench.batch / bench.run(steps))
    results = [bench.result() for bench in benches]
    del benches
    keras.backend.clear_session(free_memory=True)  # so the next group's RSS peak is its own
    return results


def measure_augmentation(shape: str, jit: bool, args) -> dict:
    """Both augmentations of every image of a batch, alone, as the train step draws them."""
    preset, batch = SHAPES[shape]
    cfg = load_config(preset)
    size, channels = cfg.data.image_size, cfg.data.channels
    images = tf.constant(np.random.default_rng(0).uniform(size=(batch, size, size, channels)),
                         tf.float32)

    @tf.function(jit_compile=jit)
    def views(x, step):
        seed = tf.random.experimental.stateless_fold_in(tf.constant([0, 0], tf.int64), step)
        return augment(x, cfg.augment, seed + 1) + augment(x, cfg.augment, seed + 2)

    step = tf.Variable(0, dtype=tf.int64)
    float(tf.reduce_sum(views(images, step)))  # trace / compile
    rates = []
    for _ in range(args.windows):
        start = time.perf_counter()
        for _ in range(10):
            step.assign_add(1)
            out = views(images, step)
        float(tf.reduce_sum(out))
        rates.append(10 * batch / (time.perf_counter() - start))
    return {"shape": shape, "batch": batch, "xla": jit, "images_per_s": round(statistics.median(rates), 1)}


def available_models(names: list[str]) -> tuple[list[str], dict[str, str]]:
    """The models ``build_model`` supports now; the others with the reason they are skipped."""
    from augintae_tf.models import build_model

    ok, skipped = [], {}
    for name in names:
        try:
            build_model(load_config("glyphs", {"model.name": name, "model.width": 0.05}))
            ok.append(name)
        except ValueError as exc:
            skipped[name] = str(exc).splitlines()[0]
    return ok, skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--precisions", default=None,
                        help="default: all on a GPU; float32,mixed_bfloat16 on a CPU (float16 "
                             "has no fast CPU kernels: Eigen fallback)")
    parser.add_argument("--jit", choices=("on", "off", "both"), default="both")
    parser.add_argument("--warmup", type=int, default=1, help="steps after the first one")
    parser.add_argument("--steps", type=int, default=None,
                        help="steps per timed window (default 3 at 28x28, 2 at 64x64)")
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--quick", action="store_true",
                        help="augintae, float32, 2 windows: a smoke run in a couple of minutes")
    parser.add_argument("--out", default="benchmarks/results/train_throughput.json")
    args = parser.parse_args()
    if args.quick:
        args.models, args.precisions, args.windows = "augintae", "float32", 2
    precisions = (args.precisions.split(",") if args.precisions
                  else list(PRECISIONS if GPU else PRECISIONS[:2]))
    models, skipped = available_models(args.models.split(","))
    jits = {"on": [True], "off": [False], "both": [False, True]}[args.jit]
    variants = [(jit, precision) for jit in jits for precision in precisions]

    load_before, started = os.getloadavg(), time.perf_counter()
    results, augmentation = [], []
    for shape in args.shapes.split(","):
        augmentation += [measure_augmentation(shape, jit, args) for jit in jits]
        for name in models:
            results += measure_group(name, shape, variants, args)
            print(f"  measured {name} {shape}", flush=True)
    load_after = os.getloadavg()
    device = (tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
              .get("device_name", "GPU") if GPU else f"{os.cpu_count()}-core CPU (no GPU)")
    whole_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"\n{device}, TF {tf.__version__}, Keras {keras.__version__}; median of {args.windows} "
          f"windows; load average {load_before[0]:.1f} -> {load_after[0]:.1f}; "
          f"{time.perf_counter() - started:.0f} s")
    memory = "peak GPU MB" if GPU else "peak RSS MB"
    print(f"{'model':<14}{'shape':<9}{'batch':>6}  {'xla':<4}{'precision':<16}{'img/s':>8}"
          f"{'min':>8}{'max':>8}{'ms/step':>9}{'1st step s':>11}{memory:>13}")
    for r in results:
        print(f"{r['model']:<14}{r['shape']:<9}{r['batch']:>6}  {'on' if r['xla'] else 'off':<4}"
              f"{r['precision']:<16}{r['images_per_s']:>8.0f}{r['min_images_per_s']:>8.0f}"
              f"{r['max_images_per_s']:>8.0f}{r['step_ms']:>9.0f}{r['first_step_s']:>11.1f}"
              f"{r['peak_mb']:>13}")
    print("\naugmentation alone (two views per image):")
    for r in augmentation:
        print(f"  {r['shape']:<9} batch {r['batch']:>4}  xla {'on ' if r['xla'] else 'off'}"
              f"{r['images_per_s']:>10.0f} img/s")
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")
    if not GPU and "mixed_float16" not in precisions:
        print("mixed_float16: GPU only (on a CPU TensorFlow falls back to slow Eigen float16 "
              "kernels; pass --precisions to time it anyway)")
    print(f"process peak RSS (getrusage): {whole_peak:.0f} MB")
    payload = {"device": device, "tensorflow": tf.__version__, "keras": keras.__version__,
               "platform": platform.platform(), "settings": vars(args),
               "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
               "results": results, "augmentation": augmentation, "skipped": skipped,
               "process_peak_rss_mb": round(whole_peak)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
