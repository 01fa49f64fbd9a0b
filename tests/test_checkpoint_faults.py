"""Checkpoints and the metrics log under faults, each reproduced: full disks, damaged checkpoints
and metrics, concurrent resumes, kill -9 during a checkpoint write. Every one must end in a
one-line error (or a warning) with nothing lost."""
import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from augintae_tf.cli.main import main
from augintae_tf.errors import RunError
from augintae_tf.inference import loaded
from augintae_tf.run import checkpoints, directory, lock, metrics_log
from conftest import TINY, killed_cli, run_python, tiny_config

CLI = "import sys; from augintae_tf.cli.main import main; main(sys.argv[1:])"
TINY_SETS = [a for key, value in TINY.items() if key != "train.epochs"
             for a in ("--set", f"{key}={value}")]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def cli(*args, env=None, timeout=300):
    return run_python(CLI, *map(str, args), env=env, timeout=timeout)


def one_line_error(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, output
    return lines[0]


def epochs_logged(run_dir: Path) -> list[int]:
    return [r["epoch"] for r in metrics_log.read_metrics(run_dir, None) if "epoch" in r]


def temporaries(run_dir: Path) -> list[str]:
    return sorted(p.name for p in run_dir.rglob("*") if ".tmp" in p.name)


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    """A private copy of the 2-epoch tiny run (checkpoints epoch-00001 and epoch-00002)."""
    return Path(shutil.copytree(tiny_run, tmp_path / "run"))


@pytest.fixture
def tmpfs(tmp_path):
    """``mount(size_kb)``: a tmpfs of that size (the tests run as root); skipped where mounting is
    not allowed: test_checkpoint_enospc_injected covers the same path with an injected OSError."""
    mounted = []

    def mount(size_kb: int, name: str = "disk") -> Path:
        point = tmp_path / name
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def resize(point: Path, size_kb: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size_kb}k", str(point)], check=True)


# ---------------------------------------------------------------- 1. full disk
def test_checkpoint_enospc_on_a_tiny_tmpfs_then_resume(tmpfs, tiny_run):
    """The issue's repro: the disk fills during the 2nd checkpoint (it was a segfault)."""
    # a full checkpoint: the newest (the older one holds weights only)
    one = sum(p.stat().st_size for p in (tiny_run / "checkpoints" / "epoch-00002").iterdir())
    disk = tmpfs(int(one * 1.6) // 1024 + 600)  # room for one checkpoint, samples and logs
    run_dir = disk / "run"
    done = cli("train", "--run-dir", run_dir, "--epochs", "3", *TINY_SETS)
    assert done.returncode == 1, done.stderr[-3000:]
    assert one_line_error(done.stderr) == (
        f"Error: no space left on device while writing checkpoint epoch 2 to "
        f"{run_dir}/checkpoints/epoch-00002; the last complete checkpoint is epoch 1 "
        f"({run_dir}/checkpoints/epoch-00001)")
    assert "Traceback" not in done.stderr and temporaries(run_dir) == []
    assert [p.name for p in checkpoints.list_checkpoints(run_dir / "checkpoints")] == ["epoch-00001"]
    resize(disk, 64 * 1024)  # space freed
    resumed = invoke("train", "--resume", "--run-dir", run_dir)
    assert resumed.exit_code == 0, resumed.output[-3000:]
    assert epochs_logged(run_dir) == [1, 2, 3]
    assert checkpoints.read_state(checkpoints.latest_checkpoint(run_dir / "checkpoints"))["epoch"] == 3


def test_checkpoint_enospc_injected_then_resume(tmp_path, monkeypatch):
    """The same fault without a tmpfs: the 2nd checkpoint's optimizers.npz write fails."""
    from augintae_tf.training import train

    write_file = checkpoints._write_file

    def fail(path, data):
        if path.name == "optimizers.npz" and path.parent.name.startswith(".tmp-epoch-00002-"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_file(path, data)

    monkeypatch.setattr(checkpoints, "_write_file", fail)
    run_dir = tmp_path / "run"
    cfg = tiny_config(**{"train.epochs": 3})
    with pytest.raises(RunError) as caught:
        train(cfg, run_dir, echo=lambda *_: None)
    assert str(caught.value) == (
        f"no space left on device while writing checkpoint epoch 2 to {run_dir}/checkpoints/"
        f"epoch-00002; the last complete checkpoint is epoch 1 ({run_dir}/checkpoints/epoch-00001)")
    assert temporaries(run_dir) == [] and epochs_logged(run_dir) == [1, 2]
    monkeypatch.undo()
    result = train(cfg, run_dir, resume=True, echo=lambda *_: None)
    assert result.epochs_done == 3 and epochs_logged(run_dir) == [1, 2, 3]


def test_metrics_append_enospc_leaves_the_log_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "metrics.jsonl"
    metrics_log.append_metrics(path, {"epoch": 1})
    before = path.read_bytes()
    real_write = os.write
    monkeypatch.setattr(metrics_log.os, "write", lambda fd, data: real_write(fd, data[:5]))  # short write
    with pytest.raises(RunError) as caught:
        metrics_log.append_metrics(path, {"epoch": 2, "loss": 0.25})
    monkeypatch.undo()
    assert str(caught.value) == f"no space left on device while writing a metrics record to {path}"
    assert path.read_bytes() == before


def test_sample_grid_and_metrics_on_a_full_tmpfs(tmpfs):
    from augintae_tf.images import save_grid

    disk = tmpfs(64)
    (disk / "filler").write_bytes(b"\0" * (64 * 1024 - 4096))
    with pytest.raises(OSError):  # really full
        (disk / "more").write_bytes(b"\0" * 8192)
    (disk / "more").unlink(missing_ok=True)
    noise = np.random.default_rng(0).random((4, 28, 28, 1)).astype(np.float32)
    with pytest.raises(RunError) as caught:
        save_grid(disk / "samples" / "epoch-001.png", [noise] * 8, upscale=4)
    assert str(caught.value) == ("no space left on device while writing an image to "
                                 f"{disk}/samples/epoch-001.png")
    with pytest.raises(RunError, match="^no space left on device while writing a metrics record"):
        metrics_log.append_metrics(disk, {"epoch": 1, "pad": "x" * 20000})
    assert temporaries(disk) == [] and (disk / "metrics.jsonl").read_bytes() == b""


# ---------------------------------------------------------------- 2. a truncated metrics line
def test_resume_after_a_truncated_metrics_line(tmp_path):
    from augintae_tf.training import train

    run_dir = tmp_path / "run"
    train(tiny_config(**{"train.epochs": 1}), run_dir, echo=lambda *_: None)
    with open(run_dir / "metrics.jsonl", "a") as handle:
        handle.write('{"epoch": 3, "ste')
    said = []
    result = train(tiny_config(**{"train.epochs": 1}), run_dir, resume=True, echo=said.append)
    assert result.epochs_done == 1 and said[-1].endswith("already finished its 1 epochs; nothing to do")
    assert any("dropped the truncated last line 2" in s for s in said), said
    assert epochs_logged(run_dir) == [1] and (run_dir / "metrics.jsonl").read_text().endswith("}\n")


def test_a_malformed_metrics_line_is_one_line_error(run_copy):
    text = (run_copy / "metrics.jsonl").read_text()
    (run_copy / "metrics.jsonl").write_text("garbage\n" + text)
    result = invoke("train", "--resume", "--run-dir", run_copy)
    assert result.exit_code == 1
    assert one_line_error(result.output).startswith(
        f"Error: {run_copy}/metrics.jsonl, line 1: not a JSON record")


# ---------------------------------------------------------------- 3. damaged checkpoints
DAMAGE = {
    "truncated weights": lambda c: (c / "model.weights.h5").write_bytes(
        (c / "model.weights.h5").read_bytes()[:1000]),
    "emptied optimizers": lambda c: (c / "optimizers.npz").write_bytes(b""),
    "deleted weights": lambda c: (c / "model.weights.h5").unlink(),
    "replaced weights": lambda c: (c / "model.weights.h5").write_bytes(
        os.urandom((c / "model.weights.h5").stat().st_size)),
    "bad state.json": lambda c: (c / "state.json").write_text("{"),
    "deleted manifest": lambda c: (c / "manifest.json").unlink(),
}
PROBLEM = {
    "truncated weights": "model.weights.h5 has 1000 bytes, the manifest says",
    "emptied optimizers": "optimizers.npz has 0 bytes, the manifest says",
    "deleted weights": "model.weights.h5 is missing",
    "replaced weights": "model.weights.h5 does not match its SHA-256 in the manifest",
    "bad state.json": "state.json is not valid JSON",
    "deleted manifest": "manifest.json is missing",
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_latest_checkpoint_falls_back_with_a_warning(run_copy, damage):
    latest = run_copy / "checkpoints" / "epoch-00002"
    DAMAGE[damage](latest)
    assert PROBLEM[damage] in checkpoints.verify(latest)
    warned = []
    run = loaded.load_run(run_copy, warn=warned.append)
    assert run.checkpoint.name == "epoch-00001"
    assert len(warned) == 1 and warned[0].startswith(f"damaged checkpoint {latest} (")
    assert PROBLEM[damage] in warned[0] and warned[0].endswith(f"using {run.checkpoint} instead")
    # The fallback is the same weights as a clean load of that checkpoint.
    clean = loaded.load_run(run_copy, run_copy / "checkpoints" / "epoch-00001")
    for a, b in zip(run.model.weights, clean.model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(RunError, match=f"^checkpoint {latest} is damaged: "):
        loaded.load_run(run_copy, latest)


def test_no_intact_checkpoint_is_one_line_for_every_command(run_copy, tmp_path):
    DAMAGE["truncated weights"](run_copy / "checkpoints" / "epoch-00002")
    DAMAGE["deleted manifest"](run_copy / "checkpoints" / "epoch-00001")
    expected = (f"Error: no intact checkpoint in {run_copy}/checkpoints: epoch-00002: "
                "model.weights.h5 has 1000 bytes, the manifest says")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for i in range(2):
        Image.fromarray(np.full((28, 28), 40 * i, np.uint8)).save(seeds / f"{i}.png")
    for args in (["generate", "--run-dir", run_copy, "--seeds", seeds, "--out", tmp_path / "g"],
                 ["train", "--resume", "--run-dir", run_copy],
                 ["export", "--run-dir", run_copy, "--out", tmp_path / "export", "--no-verify"],
                 ["compare", run_copy, "--out", tmp_path / "cmp"]):
        result = invoke(*args)
        assert result.exit_code == 1, (args, result.output)
        line = one_line_error(result.output)
        assert line.startswith(expected) and "epoch-00001: manifest.json is missing" in line, line


def test_an_edited_config_or_bad_yaml_is_one_line(run_copy):
    config = run_copy / "config.yaml"
    text = config.read_text()
    config.write_text(text.replace("latent_dim: 8", "latent_dim: 16"))
    with pytest.raises(RunError) as caught:
        loaded.load_run(run_copy)
    assert str(caught.value) == (
        f"{config} does not match the model checkpoint {run_copy}/checkpoints/epoch-00002 was "
        "saved with (model.latent_dim: 8 -> 16); restore config.yaml")
    config.write_text(text.replace("latent_dim: 8", "latent_dim: [8"))
    result = invoke("export", "--run-dir", run_copy, "--out", run_copy / "export", "--no-verify")
    assert result.exit_code == 1
    assert one_line_error(result.output).startswith(f"Error: {config} is not valid YAML (line ")


# ---------------------------------------------------------------- 4. concurrent resumes
def test_a_second_resume_exits_at_once_naming_the_pid(tmp_path):
    run_dir = tmp_path / "run"
    directory.save_config(run_dir, tiny_config(**{"train.epochs": 500}))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    first = subprocess.Popen([sys.executable, "-c", CLI, "train", "--resume", "--run-dir",
                              str(run_dir)], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (run_dir / "checkpoints").is_dir():
            time.sleep(0.2)  # the first process holds the lock and has finished an epoch
        assert (run_dir / ".lock").read_text() == f"{first.pid}\n"
        second = cli("train", "--resume", "--run-dir", run_dir)
        assert second.returncode == 1
        assert one_line_error(second.stderr) == (
            f"Error: run directory {run_dir} is in use by process {first.pid} (it holds "
            f"{run_dir}/.lock); wait for it to finish or stop it")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    epochs = epochs_logged(run_dir)
    assert epochs == list(range(1, len(epochs) + 1))  # every epoch logged once
    with lock.RunLock(run_dir):  # kill -9 left no stale lock
        pass


# ---------------------------------------------------------------- kill -9 during a checkpoint
@pytest.mark.parametrize("point", ["model.weights.h5", "manifest", "rename"])
def test_kill_during_a_checkpoint_write_then_resume(tmp_path, point):
    run_dir = tmp_path / "run"
    killed = run_python(killed_cli(f"{point}@2"), "train", "--run-dir", str(run_dir),
                        "--epochs", "3", *TINY_SETS, timeout=300)
    assert killed.returncode == -signal.SIGKILL
    stale = checkpoints.stale_temporaries(run_dir / "checkpoints")
    assert [p.name.rsplit("-", 1)[0] for p in stale] == [".tmp-epoch-00002"]
    assert [p.name for p in checkpoints.list_checkpoints(run_dir / "checkpoints")] == ["epoch-00001"]
    assert checkpoints.verify(run_dir / "checkpoints" / "epoch-00001") is None
    # resumed in this process: only the killed run needs an interpreter of its own
    resumed = invoke("train", "--resume", "--run-dir", run_dir)
    assert resumed.exit_code == 0, resumed.output[-3000:]
    assert f"removed {stale[0]}, left behind by an interrupted write" in resumed.output
    # train's default (recommended) preset trains the ae model
    assert "resuming augintae " in resumed.output and "(epoch 2/3" in resumed.output
    assert temporaries(run_dir) == [] and epochs_logged(run_dir) == [1, 2, 3]
    assert [checkpoints.verify(p) for p in checkpoints.list_checkpoints(run_dir / "checkpoints")] == [
        None, None, None]


def test_tensorboard_writer_on_a_full_disk_is_one_line(tmp_path, monkeypatch):
    """TensorBoard's writer reports ENOSPC as a ResourceExhaustedError from inside fit."""
    import keras
    import tensorflow as tf

    from augintae_tf.training import train

    class FullDiskBoard(keras.callbacks.TensorBoard):
        def on_train_begin(self, logs=None):
            raise tf.errors.ResourceExhaustedError(
                None, None, f"{self.log_dir}/train/events.out.tfevents; No space left on device")

    monkeypatch.setattr(keras.callbacks, "TensorBoard", FullDiskBoard)
    run_dir = tmp_path / "run"
    with pytest.raises(RunError) as caught:
        train(tiny_config(**{"train.epochs": 1}), run_dir, echo=lambda *_: None)
    assert str(caught.value) == f"no space left on device while writing TensorBoard logs to {run_dir}/logs"
    with lock.RunLock(run_dir):  # released on the way out
        pass
