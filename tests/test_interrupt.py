"""Ctrl-C keeps the work: a real Ctrl-C typed at a terminal running `augintae-tf train`, the
resume that continues it, a signal mid-epoch saving the last finished epoch from memory, and the
epoch lines a terminal shows (the same as a pipe's)."""
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from augintae_tf.errors import Terminated
from augintae_tf.run import checkpoints, interrupt, lock
from augintae_tf.training import build, callbacks, fit, train
from conftest import TINY, tiny_config
from test_checkpoint_faults import CLI, invoke, one_line_error

# TINY without its checkpoint every epoch: the default cadence (the first epoch, then every 5
# minutes) leaves the epochs a Ctrl-C interrupts without a checkpoint, as on a user's run.
SETS = [a for key, value in {**TINY, "data.limit": 64}.items()
        if key not in ("train.epochs", "train.snap") for a in ("--set", f"{key}={value}")]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def logged(run_dir: Path) -> list[tuple[int, int]]:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["epoch"], r["step"]) for r in records if "epoch" in r]


def on_a_terminal(args: list[str], epochs_before_ctrl_c: int, run_dir: Path) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal (its controlling terminal, as in a shell), type Ctrl-C
    once ``epochs_before_ctrl_c`` epochs are logged; return (exit code, everything it printed)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdin, stdout and stderr are the terminal
        os.execve(sys.executable, [sys.executable, "-c", CLI, *args], ENV)
    output, typed, deadline = b"", False, time.monotonic() + 300
    while time.monotonic() < deadline:
        if not typed and (run_dir / "metrics.jsonl").is_file() and \
                len(logged(run_dir)) >= epochs_before_ctrl_c:
            os.write(fd, b"\x03")  # Ctrl-C: the terminal sends SIGINT to the foreground job
            typed = True
        if select.select([fd], [], [], 0.05)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
    else:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert typed, output.decode(errors="replace")[-3000:]
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace").replace("\r\n", "\n")


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory, glyph_cache):
    """A 200-epoch tiny run stopped by Ctrl-C after at least 4 epochs: (run, exit code, output)."""
    run_dir = tmp_path_factory.mktemp("interrupt") / "run"
    code, output = on_a_terminal(["train", *SETS, "--epochs", "200", "--run-dir", str(run_dir)],
                                 4, run_dir)
    return run_dir, code, output


def test_ctrl_c_saves_the_last_finished_epoch_and_exits_130(interrupted):
    run_dir, code, output = interrupted
    assert code == 130, output[-3000:]
    assert "Aborted!" not in output and "Traceback" not in output
    epoch = logged(run_dir)[-1][0]  # finished before the stop (the 10 s rule: finished, not lost)
    assert epoch >= 4
    last = run_dir / "checkpoints" / f"epoch-{epoch:05d}"
    assert checkpoints.verify(last) is None
    assert checkpoints.read_state(last)["step"] == 2 * epoch  # 64 images, batches of 32
    mb = sum(p.stat().st_size for p in last.iterdir()) / 1e6
    assert "^C" in output  # typed at the terminal, which echoed it
    assert output.strip().splitlines()[-1] == (
        f"stopped by SIGINT after epoch {epoch} of 200: the last checkpoint is {last}, "
        f"{mb:.1f} MB; continue with `augintae-tf train --resume --run-dir {run_dir}`")
    # The optimizer state (twice the weights) is kept by the newest checkpoint only.
    names = [p.name for p in checkpoints.list_checkpoints(run_dir / "checkpoints")]
    assert names == ["epoch-00001", last.name]
    assert not (run_dir / "checkpoints" / "epoch-00001" / "optimizers.npz").exists()
    assert checkpoints.verify(run_dir / "checkpoints" / "epoch-00001") is None
    assert (last / "optimizers.npz").stat().st_size > (last / "model.weights.h5").stat().st_size
    assert [p.name for p in (run_dir / "samples").glob("epoch-*.png")
            if int(p.stem[6:]) > epoch] == []
    lock.RunLock(run_dir).acquire().release()  # released on the way out


def test_a_terminal_shows_the_epoch_lines_of_a_pipe_not_progress_bars(interrupted):
    _, _, output = interrupted
    lines = output.splitlines()
    assert any(line.startswith("epoch 1: loss=") for line in lines), output[-3000:]
    assert "━" not in output and "/step" not in output  # no Keras progress bar
    # 200 epochs: the first, then every 8th (about 25 lines a run), not one per epoch.
    shown = [int(line.split(":")[0].split()[1]) for line in lines if line.startswith("epoch ")]
    assert all(e == 1 or e % 8 == 0 for e in shown), shown


def test_resume_after_ctrl_c_continues_from_the_saved_epoch(interrupted, tmp_path):
    import shutil

    run_dir = Path(shutil.copytree(interrupted[0], tmp_path / "run"))
    epoch = logged(run_dir)[-1][0]
    stale = run_dir / "samples" / "epoch-150.png"  # as a killed run past its checkpoint leaves
    shutil.copy(run_dir / "samples" / "epoch-001.png", stale)
    proc = subprocess.Popen([sys.executable, "-c", CLI, "train", "--resume", "--run-dir",
                             str(run_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV)
    try:
        deadline = time.monotonic() + 300
        while len(logged(run_dir)) < epoch + 2 and proc.poll() is None:
            assert time.monotonic() < deadline, "the resumed run logged no new epoch"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)  # the same path as Ctrl-C: 143 instead of 130
        out, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 143, err[-3000:]
    assert f"resuming augintae on glyphs in {run_dir} (epoch {epoch + 1}/200" in out
    records = logged(run_dir)
    assert records == [(e, 2 * e) for e in range(1, len(records) + 1)]  # continued, no restart
    assert len(records) >= epoch + 2 and not stale.exists()
    assert f"removed 1 sample grid of epochs after {epoch} from {run_dir / 'samples'}" in out
    assert err.strip().splitlines()[-1].startswith(
        f"stopped by SIGTERM after epoch {records[-1][0]} of 200: the last checkpoint is "
        f"{run_dir / 'checkpoints' / f'epoch-{records[-1][0]:05d}'}")


def test_a_signal_mid_epoch_saves_the_last_finished_epoch_from_memory(tmp_path, monkeypatch):
    """Epochs too long to finish (FINISH_S 0 here): SIGINT in epoch 3 stops at once and the
    copy of epoch 2 kept in memory is checkpointed, weights and optimizers exactly; resume
    restores them and continues at epoch 3."""
    monkeypatch.setattr(interrupt, "FINISH_S", 0.0)
    cfg = tiny_config(**{"train.snap": None, "train.epochs": 4})  # 128 images: 4 steps/epoch
    at_epoch_2 = {}
    log_end, log_batch = callbacks.MetricsLog.on_epoch_end, callbacks.MetricsLog.on_train_batch_end

    def on_epoch_end(self, epoch, logs=None):
        log_end(self, epoch, logs)
        if epoch == 1:
            at_epoch_2["weights"] = [v.numpy().copy() for v in self.model.weights]
            at_epoch_2["optimizer"] = [v.numpy().copy() for v in self.model.optimizer.variables]

    def on_train_batch_end(self, batch, logs=None):
        log_batch(self, batch, logs)
        if self.epoch == 2 and batch == 1:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(callbacks.MetricsLog, "on_epoch_end", on_epoch_end)
    monkeypatch.setattr(callbacks.MetricsLog, "on_train_batch_end", on_train_batch_end)
    with pytest.raises(Terminated) as stopped:
        train(cfg, tmp_path / "run", echo=lambda *_: None)
    assert stopped.value.signum == signal.SIGINT and stopped.value.epochs == 4
    run_dir = stopped.value.run_dir
    names = [p.name for p in checkpoints.list_checkpoints(run_dir / "checkpoints")]
    assert names == ["epoch-00001", "epoch-00002"] and logged(run_dir) == [(1, 4), (2, 8)]
    saved = np.load(run_dir / "checkpoints" / "epoch-00002" / "optimizers.npz")
    for i, value in enumerate(at_epoch_2["optimizer"]):
        np.testing.assert_array_equal(saved[f"optimizer/{i:05d}"], value)

    model = build(cfg, steps=4)  # what --resume restores: the saved epoch, exactly
    assert fit._resume_point(cfg, run_dir, model, True, lambda *_: None)[0] == 2
    for variable, value in zip(model.optimizer.variables, at_epoch_2["optimizer"]):
        np.testing.assert_array_equal(variable.numpy(), value)
    for variable, value in zip(model.weights, at_epoch_2["weights"]):
        np.testing.assert_array_equal(variable.numpy(), value)
    assert int(model.optimizer.iterations.numpy()) == 8

    monkeypatch.undo()
    result = train(cfg, run_dir, resume=True, echo=lambda *_: None)
    assert result.epochs_done == 4 and logged(run_dir) == [(e, 4 * e) for e in range(1, 5)]
    assert not (run_dir / "checkpoints" / "epoch-00002" / "optimizers.npz").exists()


def test_weights_only_checkpoints_load_for_inference_and_resume_warns(tmp_path):
    """An older checkpoint holds weights only: generate/evaluate/export load it; resume from
    it (the newest is damaged) restores the weights and step and says the moments restart."""
    from augintae_tf.inference.loaded import load_run

    cfg = tiny_config(**{"train.epochs": 3})
    run_dir = tmp_path / "run"
    train(cfg, run_dir, echo=lambda *_: None)
    folder = run_dir / "checkpoints"
    sizes = {p.name: sum(f.stat().st_size for f in p.iterdir()) for p in folder.iterdir()}
    assert sorted(sizes) == ["epoch-00001", "epoch-00002", "epoch-00003"]
    assert max(sizes["epoch-00001"], sizes["epoch-00002"]) < sizes["epoch-00003"] / 2
    run = load_run(run_dir, folder / "epoch-00002", warn=None)
    assert run.checkpoint.name == "epoch-00002"
    (folder / "epoch-00003" / "optimizers.npz").write_bytes(b"damaged")
    warnings = []
    model = build(cfg, steps=4)
    assert fit._resume_point(cfg, run_dir, model, True, warnings.append)[0] == 2
    assert int(model.optimizer.iterations.numpy()) == 8
    assert (f"warning: {folder / 'epoch-00002'} holds weights only (the optimizer state is kept "
            "in the newest checkpoint): the optimizers' moments start from zero") in warnings
    assert warnings[0].startswith(f"warning: damaged checkpoint {folder / 'epoch-00003'} (")


def test_resume_of_a_folder_whose_start_failed_says_there_is_nothing_to_resume(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()  # e.g. a full disk: the start was undone before config.yaml was written
    result = invoke("train", "--resume", "--run-dir", run_dir)
    assert result.exit_code == 1
    assert one_line_error(result.output) == (
        f"Error: nothing to resume in {run_dir}: no run started there (it has no config.yaml); "
        f"start one with `augintae-tf train --run-dir {run_dir}` and your data options")
    assert list(run_dir.iterdir()) == []


def test_a_second_ctrl_c_while_saving_changes_nothing(tmp_path, monkeypatch):
    """SIGINT in epoch 2 (short epochs: it is finished, then saved); a second SIGINT arrives
    while its checkpoint is being written: the save completes, intact, and the run stops once."""
    cfg = tiny_config(**{"train.snap": None, "train.epochs": 4})
    log_batch, write_file = callbacks.MetricsLog.on_train_batch_end, checkpoints._write_file
    lines = []

    def on_train_batch_end(self, batch, logs=None):
        log_batch(self, batch, logs)
        if self.epoch == 1 and batch == 0:
            os.kill(os.getpid(), signal.SIGINT)

    def _write_file(path, data):
        if path.parent.name.startswith(".tmp-epoch-00002-") and path.name == "state.json":
            os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C, mid-save
        return write_file(path, data)

    monkeypatch.setattr(callbacks.MetricsLog, "on_train_batch_end", on_train_batch_end)
    monkeypatch.setattr(checkpoints, "_write_file", _write_file)
    with pytest.raises(Terminated) as stopped:
        train(cfg, tmp_path / "run", echo=lines.append)
    run_dir = stopped.value.run_dir
    assert [line for line in lines if line.startswith("SIGINT")] == [
        next(line for line in lines if line.startswith("SIGINT: finishing epoch 2 (about "))]
    assert logged(run_dir) == [(1, 4), (2, 8)]
    last = run_dir / "checkpoints" / "epoch-00002"
    assert checkpoints.verify(last) is None and checkpoints.holds(last, "optimizers.npz")
    assert [p.name for p in (run_dir / "checkpoints").iterdir() if p.name.startswith(".")] == []
    assert interrupt.pending() is None  # the second signal was dropped, not left to fire later
    line, code = interrupt.report(stopped.value)
    assert code == 130 and line.startswith(
        f"stopped by SIGINT after epoch 2 of 4: the last checkpoint is {last}, ")
