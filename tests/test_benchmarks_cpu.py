"""The throughput benchmarks run on a CPU whatever TensorFlow offers there (issue 15)."""
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
