"""Generation speed a user sees (issue 23): the cold CLI and the exported ``generate`` signature.

Every figure comes from fresh processes, ``--repeats`` of each, median:

- **cold CLI**: wall seconds of ``augintae-tf generate --run-dir R --seeds S --num N --out O``
  for N = 1 (seconds to the first image) and N = 1000 (seconds to 1,000 images), beside
  ``python -c pass``, ``augintae-tf --help`` and ``python -c "import tensorflow"``;
  ``--baseline PATH`` times a second ``augintae-tf`` (e.g. another checkout's venv) in the same
  interleaved rounds, for before/after figures under the same load;
- **where the time goes**: a fresh process (this script, ``--stages``) times what
  ``generate`` does, stage by stage: importing the CLI, importing what ``generate`` imports
  (TensorFlow with it), ``load_run`` (model build + checkpoint restore), reading the seeds, the
  first call (num 1), a steady call (num 1000), and writing 1,000 PNGs the batched way
  (``images.save_pngs``) and, interleaved, the earlier way (one ``save_png`` per file);
- **SavedModel**: the run exported (``augintae-tf export --no-verify``), then a fresh
  ``python -c`` process that imports only TensorFlow and NumPy (it asserts ``augintae_tf`` is
  not imported, as a server would load it) loads it and calls ``generate`` at num 64 and 1024:
  load seconds, first call, and images/s of the median timed call after one warm-up call. It
  runs with TensorFlow's default oneDNN setting (what a server gets) and with
  ``TF_ENABLE_ONEDNN_OPTS=1`` (what ``augintae-tf`` sets on AVX2-only CPUs).

    python benchmarks/generation_speed.py                        # trains a 20-step run first
    python benchmarks/generation_speed.py --run-dir runs/00000-glyphs-ae --repeats 5
    python benchmarks/generation_speed.py --baseline /other/checkout/.venv/bin/augintae-tf

The timings do not depend on how well the run is trained (the network is full width). Prints a
table and writes compact JSON (``--out``) with the machine (``augintae_tf.cpu.describe``) and the
load average before and after.
"""
from __future__ import annotations

import os

_USER_ONEDNN = os.environ.get("TF_ENABLE_ONEDNN_OPTS")  # before augintae_tf sets it

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SERVE_NUMS = (64, 1024)
CLI_NUMS = (1, 1000)

# The serving process: TensorFlow and NumPy only, as TF Serving or a user's script would load it.
SERVE = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np, tensorflow as tf
t1 = time.perf_counter()
assert "augintae_tf" not in sys.modules, "the serving process imported augintae_tf"
model = tf.saved_model.load(sys.argv[1])
fn = model.signatures["generate"]
seeds = tf.constant(np.load(sys.argv[2]))
t2 = time.perf_counter()
def call(num):
    start = time.perf_counter()
    out = fn(seed_images=seeds, num=tf.constant(num, tf.int32), seed=tf.constant(0, tf.int64))
    assert out["images"].numpy().shape[0] == num
    return time.perf_counter() - start
res = {"import_s": t1 - t0, "load_s": t2 - t1, "first_call_s": {}, "call_s": {}}
for num in json.loads(sys.argv[3]):
    res["first_call_s"][num] = call(num)
    res["call_s"][num] = sorted(call(num) for _ in range(int(sys.argv[4])))
from tensorflow.python.util import _pywrap_util_port
res["onednn"] = bool(_pywrap_util_port.IsMklEnabled())
print("RESULT " + json.dumps(res))
"""


def child_env(onednn: str | None = _USER_ONEDNN) -> dict:
    """The environment of a measured process: the user's own oneDNN choice (unset: each process
    decides as it would alone), TensorFlow's start-up chatter off."""
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if onednn is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = onednn
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "2"}


def run(cmd: list[str], env: dict | None = None, timeout: int = 900) -> tuple[float, str]:
    """Wall seconds of ``cmd`` and its stdout; a failure stops the benchmark with its stderr."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env or child_env(), capture_output=True, text=True,
                          timeout=timeout)
    wall = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{proc.stderr[-3000:]}")
    return wall, proc.stdout


def result_of(stdout: str) -> dict:
    return json.loads(next(line[7:] for line in stdout.splitlines() if line.startswith("RESULT ")))


def median(values) -> float:
    return float(statistics.median(values))


# ---------------------------------------------------------------- the --stages child
def stages(run_dir: str, seeds_dir: str, out_dir: str, order: int) -> None:
    """Time what ``augintae-tf generate`` does, stage by stage, in this fresh process."""
    times, clock = {}, time.perf_counter()

    def lap(name):
        nonlocal clock
        now = time.perf_counter()
        times[name] = now - clock
        clock = now

    import augintae_tf.cli.main  # noqa: F401  (what `augintae-tf --help` imports)
    lap("import_cli")
    from augintae_tf.data import load_image_files  # TensorFlow comes with it
    from augintae_tf.inference.generation import write_generation
    from augintae_tf.images import save_png
    from augintae_tf.models import build_model  # noqa: F401  (load_run imports it)
    from augintae_tf.inference.loaded import load_run
    lap("import_generate")
    run = load_run(run_dir)
    lap("load_run")
    seeds, _ = load_image_files(seeds_dir, run.config.data.image_size, run.config.data.channels)
    lap("read_seeds")
    run.generate(seeds, num=1, seed=0)
    lap("first_call_num1")
    images = run.generate(seeds, num=1000, seed=0)
    lap("steady_num1000")
    ways = [("write_1000_batched", lambda d: write_generation(d, seeds, images)),
            ("write_1000_per_file", lambda d: [save_png(Path(d) / f"{i:05d}.png", im)
                                               for i, im in enumerate(images)])]
    for name, write in ways[::-1] if order % 2 else ways:  # alternate which goes first
        folder = Path(out_dir) / name
        clock = time.perf_counter()
        write(folder)
        lap(name)
        shutil.rmtree(folder)
    print("RESULT " + json.dumps(times))


# ---------------------------------------------------------------- the measurements
def prepare(args, work: Path) -> tuple[Path, Path, Path, Path]:
    """(run dir, seed folder, seeds .npy, SavedModel version dir), training a run if needed."""
    import numpy as np

    cli = [str(Path(sys.executable).with_name("augintae-tf"))]
    run_dir = Path(args.run_dir) if args.run_dir else work / "run"
    if not args.run_dir:
        print(f"training a {args.train_steps}-step run in {run_dir} ...", flush=True)
        run(cli + ["train", "--steps", str(args.train_steps), "--run-dir", str(run_dir)])
    seeds = work / "seeds"
    run(cli + ["export-seeds", "--dataset", "glyphs", "--split", "test", "--num", "5",
               "--out", str(seeds)])
    from PIL import Image
    pixels = [np.asarray(Image.open(p), np.float32) / 255.0 for p in sorted(seeds.glob("*.png"))]
    seeds_npy = work / "seeds.npy"
    np.save(seeds_npy, np.stack(pixels)[..., None])
    wall, _ = run(cli + ["export", "--run-dir", str(run_dir), "--out", str(work / "export"),
                         "--no-verify", "--max-num", str(max(SERVE_NUMS))])
    print(f"exported in {wall:.1f} s (--no-verify)", flush=True)
    return run_dir, seeds, seeds_npy, next((work / "export").glob("[0-9]*"))


def cold_cli(args, run_dir: Path, seeds: Path, work: Path) -> dict:
    """Wall seconds per command, interleaved rounds (the load hits every variant alike)."""
    python, tool = sys.executable, str(Path(sys.executable).with_name("augintae-tf"))
    tools = {"this": tool, **({"baseline": args.baseline} if args.baseline else {})}
    commands = {"python -c pass": [python, "-c", "pass"],
                "augintae-tf --help": [tool, "--help"],
                "import tensorflow": [python, "-c", "import tensorflow"]}
    for label, exe in tools.items():
        for num in CLI_NUMS:
            commands[f"generate --num {num} ({label})"] = [
                exe, "generate", "--run-dir", str(run_dir), "--seeds", str(seeds),
                "--num", str(num), "--out", str(work / "out")]
    walls: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(args.repeats):
        names = list(commands)[::-1] if round_ % 2 else list(commands)
        for name in names:
            shutil.rmtree(work / "out", ignore_errors=True)
            walls[name].append(run(commands[name])[0])
        print(f"cold CLI round {round_ + 1}/{args.repeats} done", flush=True)
    return {name: {"median_s": median(w), "runs_s": [round(x, 3) for x in w]}
            for name, w in walls.items()}


def stage_split(args, run_dir: Path, seeds: Path, work: Path) -> dict:
    rounds = [result_of(run([sys.executable, __file__, "--stages", str(run_dir), str(seeds),
                             str(work / "stages"), str(i)])[1]) for i in range(args.repeats)]
    return {name: median(r[name] for r in rounds) for name in rounds[0]}


def serving(args, version_dir: Path, seeds_npy: Path) -> dict:
    """The SavedModel in fresh TensorFlow-only processes, oneDNN default and on, interleaved."""
    variants = {"tf_default": None, "onednn_on": "1"}
    rounds: dict[str, list[dict]] = {v: [] for v in variants}
    for round_ in range(args.repeats):
        for name, onednn in (list(variants.items())[::-1] if round_ % 2 else variants.items()):
            _, out = run([sys.executable, "-c", SERVE, str(version_dir), str(seeds_npy),
                          json.dumps(list(SERVE_NUMS)), str(args.calls)], env=child_env(onednn))
            rounds[name].append(result_of(out))
    summary = {}
    for name, results in rounds.items():
        row = {"onednn": results[0]["onednn"], "import_s": median(r["import_s"] for r in results),
               "load_s": median(r["load_s"] for r in results)}
        for num in SERVE_NUMS:
            call = median(median(r["call_s"][str(num)]) for r in results)
            row[str(num)] = {"first_call_s": median(r["first_call_s"][str(num)] for r in results),
                             "call_s": call, "images_per_s": num / call}
        summary[name] = row
    return summary


def report(cold: dict, split: dict, serve: dict) -> None:
    print("\ncold CLI (wall s, median):")
    for name, row in cold.items():
        print(f"  {name:<34} {row['median_s']:7.2f}")
    print("\nwhere `generate` spends it (fresh process, median s):")
    for name, seconds in split.items():
        print(f"  {name:<34} {seconds:7.2f}")
    print("\nSavedModel `generate` (fresh TensorFlow-only process):")
    print("  variant      oneDNN  import s  load s  " + "  ".join(
        f"num {n}: 1st s, img/s" for n in SERVE_NUMS))
    for name, row in serve.items():
        cells = "  ".join(f"{row[str(n)]['first_call_s']:13.2f} {row[str(n)]['images_per_s']:6.0f}"
                          for n in SERVE_NUMS)
        print(f"  {name:<12} {str(row['onednn']):<6} {row['import_s']:8.2f} {row['load_s']:7.2f}"
              f"  {cells}")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", help="reuse this run (default: train one)")
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per figure")
    parser.add_argument("--calls", type=int, default=5, help="timed SavedModel calls per num")
    parser.add_argument("--baseline", help="another augintae-tf executable, timed interleaved")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/generation_speed.json"))
    return parser.parse_args(argv)


def main() -> None:
    if sys.argv[1:2] == ["--stages"]:
        return stages(*sys.argv[2:5], int(sys.argv[5]))
    args = parse_args()
    from augintae_tf import cpu

    load_before, started = os.getloadavg(), time.time()
    with tempfile.TemporaryDirectory(prefix="generation-speed-") as tmp:
        work = Path(tmp)
        run_dir, seeds, seeds_npy, version_dir = prepare(args, work)
        cold = cold_cli(args, run_dir, seeds, work)
        split = stage_split(args, run_dir, seeds, work)
        serve = serving(args, version_dir, seeds_npy)
    report(cold, split, serve)
    load = {"before": [round(x, 2) for x in load_before],
            "after": [round(x, 2) for x in os.getloadavg()]}
    print(f"\nload average (1, 5, 15 min) before {load['before']}, after {load['after']}; "
          f"{time.time() - started:.0f} s")
    payload = {"machine": cpu.describe(), "load_average": load,
               "repeats": args.repeats, "cold_cli": cold, "stages_s": split, "savedmodel": serve}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, separators=(",", ":")) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
