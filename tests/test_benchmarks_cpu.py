"""The throughput benchmarks run on a CPU whatever TensorFlow offers there."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_train_throughput_runs_without_allocator_statistics(tmp_path):
    """With oneDNN off (TensorFlow's default on AVX2-only CPUs) TF keeps no CPU allocator
    statistics; the benchmark reports memory as n/a instead of crashing, and records the CPU."""
    out = tmp_path / "tt.json"
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "benchmarks/train_throughput.py", "--models", "ae",
                           "--shapes", "28x28x1", "--precisions", "float32", "--jit", "off",
                           "--windows", "1", "--steps", "1", "--warmup", "0", "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    payload = json.loads(out.read_text())
    (row,) = payload["results"]
    assert row["model"] == "ae" and row["images_per_s"] > 0 and row["peak_mb"] is None
    # against the FLOP bound: achieved GFLOP/s = img/s x FLOPs/image (rounded fields)
    assert row["mflops_per_image"] > 0 and row["matmul_gflops"] > 0
    assert abs(row["gflops_per_s"] - row["images_per_s"] * row["mflops_per_image"] / 1e3) \
        <= 0.01 * row["gflops_per_s"] + 0.1
    assert "against the FLOP bound" in proc.stdout
    machine = payload["machine"]
    assert machine["onednn"] is False and machine["onednn_env"] == "0"
    assert set(machine) == {"cpu", "cores", "vector_extensions", "native_bf16", "onednn_default",
                            "onednn_env", "onednn"}
    assert "n/a" in proc.stdout and "oneDNN: False" in proc.stdout


def test_vs_torch_needs_an_interpreter_with_torch():
    proc = subprocess.run([sys.executable, "benchmarks/vs_torch.py"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("--python: the interpreter of an environment with torch is "
                                   "required (e.g. python3 -m venv /tmp/t && /tmp/t/bin/pip "
                                   "install torch numpy)")


def test_vs_torch_refuses_a_mode_the_twin_does_not_have():
    proc = subprocess.run([sys.executable, "benchmarks/vs_torch.py", "--modes", "fused,compiled"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("--modes: 'compiled' is not a MODE of the twin; expected some "
                                   "of eager, fused, bf16")


def test_every_model_gets_its_shapes_batch_and_data_layout():
    """--models all: FastGAN only at its own 64 px and batch 8; set models get ``(sets, labels)``
    of ``B // n`` sets of n images."""
    from types import SimpleNamespace

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from throughput_models import all_pairs, branch_share, example_batch, preset_and_batch

    pairs = all_pairs(["ae", "fastgan"], ["28x28x1", "64x64x3"])
    assert pairs == [("ae", "28x28x1"), ("ae", "64x64x3"), ("fastgan", "64x64x3")]
    assert preset_and_batch("fastgan", "64x64x3") == ("cifar10", 8)
    assert preset_and_batch("dagan", "28x28x1") == ("glyphs", 128)
    cfg = SimpleNamespace(data=SimpleNamespace(image_size=6, channels=1),
                          model=SimpleNamespace(name="neural-statistician", set_size=5))
    (sets, labels), images = example_batch(SimpleNamespace(batches="sets"), cfg, 12)
    assert sets.shape == (2, 5, 6, 6, 1) and labels.shape == (2,) and images == 10
    plain, images = example_batch(SimpleNamespace(batches="images"), cfg, 12)
    assert plain.shape == (12, 6, 6, 1) and images == 12
    assert branch_share(cfg) is None
    cfg.model = SimpleNamespace(name="wgan-gp", critic_steps=5)
    assert branch_share(cfg) == 0.2
