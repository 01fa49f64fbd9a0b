"""Races and crafted files: concurrent exports to one model base and a killed export's
leftovers, a checkpoint rotated away while it is read, crafted checkpoints, and the smaller
faults (the lock check before TensorFlow, SIGTERM naming the last checkpoint, the data.limit
message of set models). Serving inputs are in test_export.py."""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from augintae_tf.inference import export, verify

from augintae_tf.run import checkpoints, directory, lock, model_state

from augintae_tf.inference import loaded
from augintae_tf.errors import RunError
from conftest import TINY, run_python
from test_checkpoint_faults import CLI, invoke, one_line_error
from test_links_and_read_only import snapshot


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    return Path(shutil.copytree(tiny_run, tmp_path / "run"))


def dead_pid() -> int:
    """The PID of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def wait_for(condition, what: str, limit_s: float = 120.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``limit_s`` (a hang guard,
    not a timing assertion)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


# ---------------------------------------------------------------- 4. exports to one MODEL_BASE
def _finished_export(base: Path, name: str) -> Path:
    tmp = base / name
    tmp.mkdir(parents=True)
    (tmp / "saved_model.pb").write_bytes(name.encode())
    return tmp


def test_an_export_whose_version_was_taken_meanwhile_takes_the_next(tmp_path):
    base = tmp_path / "base"
    other = _finished_export(base, ".tmp-1-11")
    mine = _finished_export(base, ".tmp-1-22")
    # Both exports chose version 1 at their start; the other one renamed first.
    assert export.publish(other, base, 1, explicit=False) == 1
    assert export.publish(mine, base, 1, explicit=False) == 2
    assert (base / "1" / "saved_model.pb").read_bytes() == b".tmp-1-11"
    assert (base / "2" / "saved_model.pb").read_bytes() == b".tmp-1-22"
    explicit = _finished_export(base, ".tmp-2-33")
    with pytest.raises(RunError, match=r"^.*/base/2 already exists and versions are immutable; "
                                       r"omit --version for the next free one \(3\)$"):
        export.publish(explicit, base, 2, explicit=True)
    assert explicit.is_dir() and (base / "2" / "saved_model.pb").read_bytes() == b".tmp-1-22"


def test_a_killed_exports_folders_are_removed_and_live_ones_kept(tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    base, dead = tmp_path / "base", dead_pid()
    stale = _finished_export(base, f".tmp-3-{dead}")
    live = _finished_export(base, f".tmp-4-{os.getpid()}")
    (scratch / f"{export.VERIFY_PREFIX}{dead}-abc").mkdir()
    (scratch / f"{export.VERIFY_PREFIX}{os.getpid()}-def").mkdir()
    (base / "1").mkdir()
    removed = export.remove_stale_exports(base)
    assert sorted(p.name for p in removed) == sorted(
        [stale.name, f"{export.VERIFY_PREFIX}{dead}-abc"])
    assert sorted(p.name for p in base.iterdir()) == [live.name, "1"]
    assert [p.name for p in scratch.iterdir()] == [f"{export.VERIFY_PREFIX}{os.getpid()}-def"]


def test_the_verification_child_dies_with_its_parent_and_removes_its_folder(tmp_path):
    """The parent starts the child as verify.verify_export does (WATCHDOG + a script), then is
    killed with SIGKILL: the child must exit on its own and remove its scratch folder."""
    scratch = tmp_path / "augintae-export-x"
    scratch.mkdir()
    (scratch / "in.npz").write_bytes(b"inputs")
    child_script = verify.WATCHDOG + "import time\ntime.sleep(600)\n"
    parent = subprocess.Popen([sys.executable, "-c", (
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', sys.argv[1], str(os.getpid()), sys.argv[2]])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(600)\n"), child_script, str(scratch)], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    wait_for(lambda: not scratch.exists(), "the orphaned child to remove its folder")
    wait_for(lambda: not export.pid_alive(child) or _zombie(child), "the orphaned child to exit")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


# ---------------------------------------------------------------- 6. rotated while reading
def test_a_checkpoint_rotated_while_reading_is_restored_from_its_pinned_files(run_copy,
                                                                               monkeypatch):
    """Training (keep_checkpoints 1) removes epoch 2 while load_run restores it: the files were
    pinned open when it was chosen, so the restore reads them all the same (nothing retried)."""
    ckpts = run_copy / "checkpoints"
    real_restore, calls = model_state.restore, []
    expected = loaded.load_run(run_copy, warn=None).model.get_weights()

    def rotating_restore(checkpoint, model, **kwargs):
        calls.append(Path(checkpoint).name)
        checkpoints.discard(ckpts / "epoch-00002")  # what the rotation does, mid-read
        return real_restore(checkpoint, model, **kwargs)

    monkeypatch.setattr(model_state, "restore", rotating_restore)
    warnings: list[str] = []
    run = loaded.load_run(run_copy, warn=warnings.append)
    assert run.checkpoint == ckpts / "epoch-00002" and calls == ["epoch-00002"] and warnings == []
    assert not (ckpts / "epoch-00002").exists()
    for got, want in zip(run.model.get_weights(), expected):
        np.testing.assert_array_equal(got, want)


def test_choosing_skips_a_checkpoint_that_vanished_during_verification(run_copy, monkeypatch):
    real_verify = checkpoints.verify

    def vanishing_verify(checkpoint, *args):
        if Path(checkpoint).name == "epoch-00002":
            shutil.rmtree(checkpoint)  # rotated between listing and verifying
        return real_verify(checkpoint)

    monkeypatch.setattr(checkpoints, "verify", vanishing_verify)
    warnings: list[str] = []
    assert directory.choose_checkpoint(run_copy, warn=warnings.append).name == "epoch-00001"
    assert warnings == []  # not reported as damaged


# ---------------------------------------------------------------- 7. crafted checkpoints
def _rewrite(checkpoint: Path, name: str, data: bytes) -> None:
    """Replace one file of a checkpoint and its manifest entry: a crafted, 'intact' checkpoint."""
    (checkpoint / name).write_bytes(data)
    manifest = json.loads((checkpoint / "manifest.json").read_text())
    manifest["files"][name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (checkpoint / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("field, value, wanted", [
    ("epoch", "../../x", "an integer >= 0"), ("epoch", -1, "an integer >= 0"),
    ("step", True, "an integer >= 0"), ("format", 0, "an integer >= 1"),
    ("config", [1], "a dict")])
def test_crafted_state_json_fields_are_refused_by_type_and_range(run_copy, tmp_path, field, value,
                                                                 wanted):
    ckpt = run_copy / "checkpoints" / "epoch-00002"
    state = json.loads((ckpt / "state.json").read_text())
    _rewrite(ckpt, "state.json", json.dumps({**state, field: value}).encode())
    result = invoke("generate", "--run-dir", run_copy, "--checkpoint", ckpt, "--out",
                    tmp_path / "gen", "--seeds", run_copy / "samples")
    assert one_line_error(result.output) == (
        f"Error: checkpoint {ckpt} is damaged: state.json field {field!r} must be {wanted}, got "
        f"{json.dumps(value)}")
    warnings: list[str] = []  # without --checkpoint the older intact one is used
    assert directory.choose_checkpoint(run_copy, warn=warnings.append).name == "epoch-00001"
    assert len(warnings) == 1 and "must be" in warnings[0]


def test_an_object_array_in_optimizers_npz_is_one_line_naming_it(run_copy):
    import io

    ckpt = run_copy / "checkpoints" / "epoch-00002"
    buffer = io.BytesIO()
    np.savez(buffer, **{"optimizer/00000": np.array([{"x": 1}], dtype=object)})
    _rewrite(ckpt, "optimizers.npz", buffer.getvalue())
    before = snapshot(run_copy)
    result = invoke("train", "--resume", "--run-dir", run_copy, "--epochs", "2")
    assert one_line_error(result.output) == (
        f"Error: {ckpt}/optimizers.npz cannot be read as plain arrays (Object arrays cannot be "
        "loaded when allow_pickle=False)")
    after = snapshot(run_copy)
    assert {k: v for k, v in after.items() if not k.endswith(".lock")} == \
        {k: v for k, v in before.items() if not k.endswith(".lock")}


# ---------------------------------------------------------------- 9. smaller faults
def test_resume_of_a_locked_run_refuses_before_importing_tensorflow(tiny_run):
    script = ("import sys\nfrom augintae_tf.cli.main import main\n"
              "try:\n    main(sys.argv[1:])\nexcept SystemExit as exc:\n    code = exc.code\n"
              "print('exit', code, 'tensorflow' in sys.modules)\n")
    with lock.RunLock(tiny_run):
        done = run_python(script, "train", "--resume", "--run-dir", str(tiny_run))
    assert one_line_error(done.stderr) == (
        f"Error: run directory {tiny_run} is in use by process {os.getpid()} (it holds "
        f"{tiny_run}/.lock); wait for it to finish or stop it")
    assert done.stdout.strip().splitlines()[-1] == "exit 1 False"


def test_sigterm_names_the_last_checkpoint(tmp_path):
    run_dir = tmp_path / "run dir"  # a space: the printed command must be quoted
    sets = [a for k, v in {**TINY, "data.limit": 64}.items() if k != "train.epochs"
            for a in ("--set", f"{k}={v}")]
    proc = subprocess.Popen([sys.executable, "-c", CLI, "train", *sets, "--epochs", "200",
                             "--run-dir", str(run_dir)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    try:
        wait_for(lambda: (run_dir / "checkpoints" / "epoch-00001").is_dir() or
                 proc.poll() is not None, "the first checkpoint", 300)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    last = directory.choose_checkpoint(run_dir, warn=None)
    assert proc.returncode == 143, err
    mb = sum(f.stat().st_size for f in last.iterdir()) / 1e6
    assert err.strip().splitlines()[-1] == (
        f"stopped by SIGTERM after epoch {last.name[-5:].lstrip('0')} of 200: the last checkpoint "
        f"is {last}, {mb:.1f} MB; continue with `augintae-tf train --resume --run-dir "
        f"'{run_dir}'`")
    lock.RunLock(run_dir).acquire().release()  # the lock was released on the way out


def test_set_models_name_the_per_class_shortfall_of_data_limit(tmp_path):
    result = invoke("train", "--model", "neural-statistician", "--set", "data.limit=512",
                    "--runs-root", tmp_path / "runs")
    assert one_line_error(result.output) == (
        "Error: split 'train' of glyphs has 0 classes with at least model.set_size=5 images "
        "(0 images), fewer than one batch (--batch-size 128): its 280 classes hold 1-2 images "
        "each under data.limit=512; raise data.limit or lower model.set_size")
    assert not (tmp_path / "runs").exists()


def test_a_100_megapixel_seed_loads_without_pillows_raw_warning(tmp_path):
    import warnings

    from PIL import Image

    from augintae_tf.data import load_image_files

    path = tmp_path / "huge.png"
    Image.fromarray(np.zeros((10_000, 10_000), np.uint8)).save(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images, paths = load_image_files([path], 28, 1)
    assert images.shape == (1, 28, 28, 1) and paths == [path]
    assert [str(w.message) for w in caught if issubclass(w.category, Image.DecompressionBombWarning)] == []
