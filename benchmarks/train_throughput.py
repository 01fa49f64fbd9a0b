"""Train-step throughput (images/s) per model, image shape, XLA setting and precision.

Each configuration is built the way `augintae-tf train` builds it (``training.build``: paper
widths, the fused Adam, ``jit_compile`` from the config, the model built in the precision;
``--adam keras,fused`` adds Keras' own unfused Adam as a baseline variant) and runs
Keras' own compiled train function (what ``fit`` runs) on an in-memory stream of one random batch,
so no input pipeline is timed.  After a first step (tracing, XLA compilation; its time is
reported) and ``--warmup`` more, it is timed in ``--windows`` windows of ``--steps`` steps, each
synchronised by reading the loss back; the windows of one model and shape are interleaved across
its XLA/precision variants, so a shared machine's load slows them alike.  Reported: the median
window, the augmentation alone (both views of every image, as AugIntAE draws them), and memory:
per configuration TensorFlow's allocator peak up to its first step above what was allocated
before it was built (weights, optimizer slots, one step's activations; TF keeps these statistics
for the CPU too), and per model and shape the process's peak resident set (``getrusage``).

Every model and shape runs in a fresh process: TensorFlow keeps the variables captured by a
traced train function alive after the model is gone (~170 MB per 64x64 model), so one process
for the whole matrix grows past 14 GB and its memory figures would mean nothing.

Against the FLOP bound (issue 23): every row also has the step's FLOPs per image (matrix products
and convolutions, forward and backward, counted from the traced step: ``flops.py``), the
achieved GFLOP/s (img/s x FLOPs/image) and their share of the CPU's nominal float32 peak
(``flops.nominal_peak_gflops``) and of a 2048x2048 float32 matmul timed in the same process right
after the model's windows (the ceiling TensorFlow reaches on this machine under its current load).
``--models all`` runs every registered model at the shapes it supports, float32 and XLA off
unless ``--precisions``/``--jit`` say otherwise (per-model shapes, batches and data layouts:
``benchmarks/throughput_models.py``).

    python benchmarks/train_throughput.py            # the full matrix
    python benchmarks/train_throughput.py --quick    # augintae only, float32, fewer steps
    python benchmarks/train_throughput.py --models all   # every model against its FLOP bound
    python benchmarks/train_throughput.py --precisions float32 --adam keras,fused   # Adam before/after
    python benchmarks/train_throughput.py --vs-torch /path/to/torch-venv/bin/python  # benchmarks/vs_torch.py

Runs on any CPU: where TensorFlow keeps no allocator statistics (oneDNN off) memory is "n/a";
every JSON records the CPU model, its vector extensions, native bf16 and oneDNN
(``augintae_tf.cpu.describe``).  Where the step's time goes: ``benchmarks/profile_step.py``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from augintae_tf import cpu
from throughput_models import SHAPES, all_pairs, branch_share, example_batch, preset_and_batch

MODELS = ("ae", "intae", "augintae", "augintae-adv", "gaia")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")

if "--group" in sys.argv:  # only the measuring processes (see run_group) pay for TensorFlow
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf

    from augintae_tf.augment import augment
    from augintae_tf.config import load_config
    from flops import count_flops, matmul_gflops, nominal_peak_gflops
    from augintae_tf.training.optimizers import FusedAdam
    from augintae_tf.training import build

    ADAMS = {"fused": FusedAdam, "keras": keras.optimizers.Adam}

    GPU = bool(tf.config.list_physical_devices("GPU"))
    DEVICE = "GPU:0" if GPU else "CPU:0"


def allocator_stats_reset() -> bool:
    """Reset TensorFlow's allocator statistics of the step's device; False where this build
    keeps none (TF 2.21 keeps them for the CPU only with oneDNN on: "Cannot reset memory stats
    for device 'CPU:0'" otherwise), so memory is then reported as n/a."""
    try:
        tf.config.experimental.reset_memory_stats(DEVICE)
        return True
    except (ValueError, tf.errors.OpError):
        return False


def allocator_mb(key: str) -> float:
    """TensorFlow's allocator statistics ("current" or "peak") of the step's device."""
    return tf.config.experimental.get_memory_info(DEVICE)[key] / 2 ** 20


def device_name() -> str:
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
    return f"{os.cpu_count()}-core {cpu.cpu_model()} (no GPU)"


def versions() -> str:
    return f"TF {tf.__version__}, Keras {keras.__version__}"


class Bench:
    """One configuration: a model built as training builds it, on a stream of one random batch."""

    def __init__(self, name: str, shape: str, jit: bool, precision: str, adam: str = "fused"):
        preset, self.batch = preset_and_batch(name, shape)
        self.row = {"model": name, "shape": shape, "batch": self.batch, "xla": jit,
                    "precision": precision, "adam": adam}
        self.cfg = load_config(preset, {"model.name": name, "train.batch_size": self.batch,
                                        "train.jit": "on" if jit else "off",
                                        "train.precision": precision})
        keras.utils.set_random_seed(0)
        # This configuration's memory: weights, optimizer slots and one step's activations and
        # workspace, i.e. the allocator peak up to its first step above what was allocated before.
        self.stats = allocator_stats_reset()
        self.baseline_mb = allocator_mb("current") if self.stats else None
        self.model = build(self.cfg, steps=1000, adam=ADAMS[adam])  # in train.precision
        data, self.images = example_batch(self.model, self.cfg, self.batch)
        self.row["images"] = self.images  # per step: a batch of sets holds B // n * n
        self.iterator = iter(tf.data.Dataset.from_tensors(data).repeat().prefetch(2))
        self.model.make_train_function()
        self.rates: list[float] = []
        self.first_step_s = self.run(1)  # tracing (+ XLA compilation)
        self.peak_mb = allocator_mb("peak") - self.baseline_mb if self.stats else None
        self.flops = count_flops(self.model, tf.nest.map_structure(tf.constant, data),
                                 branch_share(self.cfg)) / self.images

    def run(self, steps: int) -> float:
        """Seconds for ``steps`` train steps, synchronised on the last step's loss."""
        if steps < 1:
            return 0.0
        start = time.perf_counter()
        for _ in range(steps):
            logs = self.model.train_function(self.iterator)
        loss = float(logs["loss"])
        seconds = time.perf_counter() - start
        if not np.isfinite(loss):
            raise RuntimeError(f"{self.row}: the loss became {loss}")
        return seconds

    def result(self, matmul: float) -> dict:
        """The row; ``matmul``: the same process's 2048^2 matmul GFLOP/s."""
        median = statistics.median(self.rates)
        achieved = median * self.flops / 1e9
        return {**self.row, "images_per_s": round(median, 2), "mflops_per_image": round(self.flops / 1e6, 1),
                "gflops_per_s": round(achieved, 1),
                "pct_nominal": round(100 * achieved / nominal_peak_gflops(), 1),
                "matmul_gflops": round(matmul, 1), "pct_matmul": round(100 * achieved / matmul, 1),
                "min_images_per_s": round(min(self.rates), 1),
                "max_images_per_s": round(max(self.rates), 1),
                "step_ms": round(1000.0 * self.images / median, 1),
                "first_step_s": round(self.first_step_s, 2), "peak_mb": None if self.peak_mb is None else round(self.peak_mb),
                "windows": [round(r, 1) for r in self.rates]}


def measure_group(name: str, shape: str, variants: list[tuple[bool, str, str]], args) -> list[dict]:
    """Warm up every (xla, precision, adam) variant of one model and shape, then time them
    round-robin."""
    steps = args.steps or (2 if shape == "28x28x1" else 1)
    benches = [Bench(name, shape, *variant) for variant in variants]
    for bench in benches:
        bench.run(args.warmup)
    for _ in range(args.windows):
        for bench in benches:
            bench.rates.append(steps * bench.images / bench.run(steps))
    matmul = matmul_gflops()  # after the windows: the ceiling under the load they ran in
    return [bench.result(matmul) for bench in benches]


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
    return {"shape": shape, "batch": batch, "xla": jit,
            "images_per_s": round(statistics.median(rates), 1)}


def measure_in_process(args) -> dict:
    """One model and shape (``--group MODEL:SHAPE``): its variants, and the augmentation alone
    when ``--augmentation``; the caller reads the JSON line this prints."""
    from augintae_tf.models import build_model

    name, shape = args.group.split(":")
    out = {"device": device_name(), "gpu": GPU, "machine": cpu.describe(), "versions": versions(), "results": [],
           "augmentation": [], "skipped": None, "nominal_peak_gflops": round(nominal_peak_gflops(), 1)}
    try:  # the adversarial models may not be registered yet
        build_model(load_config(preset_and_batch(name, shape)[0],
                                {"model.name": name, "model.width": 0.05}))
    except ValueError as exc:
        out["skipped"] = str(exc).splitlines()[0]
        return out
    jits = {"on": [True], "off": [False], "both": [False, True]}[args.jit]
    precisions = args.precisions.split(",") if args.precisions else \
        list(PRECISIONS if GPU else PRECISIONS[:2])
    if args.augmentation:
        out["augmentation"] = [measure_augmentation(shape, jit, args) for jit in jits]
    variants = [(j, p, a) for j in jits for p in precisions for a in args.adam.split(",")]
    out["results"] = measure_group(name, shape, variants, args)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def run_group(name: str, shape: str, augmentation: bool, args) -> dict:
    """:func:`measure_in_process` in a fresh interpreter (see the module docstring)."""
    command = [sys.executable, __file__, "--group", f"{name}:{shape}", "--jit", args.jit,
               "--warmup", str(args.warmup), "--windows", str(args.windows), "--adam", args.adam]
    for option in ("precisions", "steps"):
        if getattr(args, option) is not None:
            command += [f"--{option}", str(getattr(args, option))]
    proc = subprocess.run(command + (["--augmentation"] if augmentation else []),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{name} {shape} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(args, groups: list[dict], seconds: float, load: tuple[float, float]) -> dict:
    """Print the table; return the JSON payload."""
    results = [r for g in groups for r in g["results"]]
    augmentation = [r for g in groups for r in g["augmentation"]]
    skipped = {g["name"]: g["skipped"] for g in groups if g["skipped"]}
    device = groups[0]["device"]
    print(f"\n{device}, {groups[0]['versions']}; median of {args.windows} windows; load average "
          f"{load[0]:.1f} -> {load[1]:.1f}; {seconds:.0f} s")
    machine = groups[0]["machine"]
    print(f"vector extensions: {' '.join(machine['vector_extensions'] or ['unknown'])}; native bf16: "
          f"{machine['native_bf16']}; oneDNN: {machine['onednn']} (TF default here: "
          f"{machine['onednn_default']}, {cpu.ONEDNN_ENV}={machine['onednn_env']})")
    print(f"{'model':<20}{'shape':<9}{'batch':>6}  {'xla':<4}{'precision':<16}{'adam':<7}{'img/s':>8}"
          f"{'min':>8}{'max':>8}{'ms/step':>9}{'1st step s':>11}{'step MB':>9}")
    for r in results:
        print(f"{r['model']:<20}{r['shape']:<9}{r['batch']:>6}  {'on' if r['xla'] else 'off':<4}"
              f"{r['precision']:<16}{r['adam']:<7}{r['images_per_s']:>8.3g}{r['min_images_per_s']:>8.3g}"
              f"{r['max_images_per_s']:>8.3g}{r['step_ms']:>9.0f}{r['first_step_s']:>11.1f}"
              f"{'n/a' if r['peak_mb'] is None else r['peak_mb']:>9}")
    bound_table(groups)
    print("\naugmentation alone (two views per image):")
    for r in augmentation:
        print(f"  {r['shape']:<9} batch {r['batch']:>4}  xla {'on ' if r['xla'] else 'off'}"
              f"{r['images_per_s']:>10.0f} img/s")
    print("\nprocess peak RSS (getrusage) per model and shape, MB: " + ", ".join(
        f"{g['name']} {g['shape']} {g['peak_rss_mb']}" for g in groups if not g["skipped"]))
    print("step MB: TensorFlow allocator peak of one configuration (weights, optimizer slots, "
          "one step's activations)")
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")
    if not groups[0]["gpu"] and not args.precisions:
        print("mixed_float16: GPU only (on a CPU TensorFlow falls back to slow Eigen float16 "
              "kernels; pass --precisions to time it anyway)")
    return {"device": device, "machine": groups[0]["machine"], "versions": groups[0]["versions"],
            "platform": platform.platform(),
            "settings": vars(args), "seconds": round(seconds), "load_average_before_after": [round(x, 2) for x in load],
            "results": results, "augmentation": augmentation, "skipped": skipped,
            "peak_rss_mb": {f"{g['name']} {g['shape']}": g.get("peak_rss_mb") for g in groups}}


def bound_table(groups: list[dict]) -> None:
    """FLOPs per image, achieved GFLOP/s and their share of the nominal peak and of the matmul
    ceiling measured in each model's process."""
    measured = [g for g in groups if not g["skipped"]]
    if not measured:
        return
    print(f"\nagainst the FLOP bound: nominal float32 peak {measured[0]['nominal_peak_gflops']:.0f} "
          "GFLOP/s (cores x clock x FLOP/cycle); matmul: a 2048^2 float32 matmul in each process")
    print(f"{'model':<20}{'shape':<9}{'batch':>6}  {'xla':<4}{'precision':<16}{'img/s':>8}"
          f"{'MFLOP/img':>11}{'GFLOP/s':>9}{'% peak':>8}{'matmul':>8}{'% mm':>7}")
    for g in measured:
        for r in g["results"]:
            print(f"{r['model']:<20}{r['shape']:<9}{r['batch']:>6}  {'on' if r['xla'] else 'off':<4}"
                  f"{r['precision']:<16}{r['images_per_s']:>8.3g}{r['mflops_per_image']:>11.0f}"
                  f"{r['gflops_per_s']:>9.1f}{r['pct_nominal']:>7.1f}%{r['matmul_gflops']:>8.0f}"
                  f"{r['pct_matmul']:>6.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS),
                        help="comma-separated names, or all: every registered model at the shapes "
                             "it supports (float32, XLA off unless --precisions / --jit)")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--precisions", default=None,
                        help="default: all on a GPU; float32,mixed_bfloat16 on a CPU (float16 "
                             "has no fast CPU kernels: Eigen fallback)")
    parser.add_argument("--jit", choices=("on", "off", "both"), default=None,
                        help="default: both (off with --models all)")
    parser.add_argument("--adam", default="fused",
                        help="optimizer update: fused (what training uses), keras (Keras' unfused "
                             "Adam, the baseline), or keras,fused to time both interleaved")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed steps after the first (tracing/compiling) one")
    parser.add_argument("--steps", type=int, default=None,
                        help="steps per timed window (default 2 at 28x28, 1 at 64x64)")
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--quick", action="store_true",
                        help="augintae, float32, 2 windows: a smoke run in about a minute")
    parser.add_argument("--out", default="benchmarks/results/train_throughput.json")
    parser.add_argument("--vs-torch", metavar="PYTHON", default=None,
                        help="instead: the augintae step beside its PyTorch twin run by PYTHON "
                             "(benchmarks/vs_torch.py, which takes more options)")
    parser.add_argument("--group", help=argparse.SUPPRESS)  # internal: MODEL:SHAPE in-process
    parser.add_argument("--augmentation", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.group:
        print(json.dumps(measure_in_process(args)))
        return
    if args.vs_torch:
        script = str(Path(__file__).with_name("vs_torch.py"))
        os.execv(sys.executable, [sys.executable, script, "--python", args.vs_torch])
    if args.quick:
        args.models, args.precisions, args.windows = "augintae", "float32", 2
    if args.models == "all":
        from augintae_tf.config.model_table import model_names

        args.models = ",".join(model_names())
        args.precisions = args.precisions or "float32"
        args.jit = args.jit or "off"
    args.jit = args.jit or "both"

    load_before, started = os.getloadavg(), time.perf_counter()
    groups = []
    for name, shape in all_pairs(args.models.split(","), args.shapes.split(",")):
        # The augmentation alone is timed once per shape, by the first model that runs.
        todo = not any(g["augmentation"] for g in groups if g["shape"] == shape)
        group = run_group(name, shape, augmentation=todo, args=args)
        groups.append({"name": name, "shape": shape, **group})
        print(f"  measured {name} {shape}", flush=True)
    payload = report(args, groups, time.perf_counter() - started,
                     (load_before[0], os.getloadavg()[0]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, separators=(",", ":")))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
