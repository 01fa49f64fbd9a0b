"""augintae_tf.run and augintae_tf.atomic as units: atomic writes, the metrics log, the lock,
the run config. (Whole-run faults are in test_checkpoint_faults.py.)"""
import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import augintae_tf
from augintae_tf import atomic
from augintae_tf.run import directory, lock, metrics_log
from augintae_tf.errors import RunError
from conftest import tiny_config


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


def test_atomic_write_replaces_and_an_error_keeps_the_old_file(tmp_path):
    path = tmp_path / "a.json"
    atomic.write_json(path, {"x": 1})
    assert json.loads(path.read_text()) == {"x": 1}
    with pytest.raises(ZeroDivisionError):
        with atomic.atomic_path(path) as tmp:
            tmp.write_text("half")
            1 / 0
    assert json.loads(path.read_text()) == {"x": 1} and leftovers(tmp_path) == []
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~atomic._UMASK)  # not mkstemp's 0600


def test_atomic_write_turns_enospc_into_one_line(tmp_path):
    path = tmp_path / "grid.png"
    with pytest.raises(RunError) as caught:
        with atomic.atomic_path(path, what="an image"):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert str(caught.value) == f"no space left on device while writing an image to {path}"
    assert list(tmp_path.iterdir()) == []


def test_is_no_space_sees_wrapped_and_tensorflow_errors():
    import tensorflow as tf

    try:
        try:
            raise OSError(errno.ENOSPC, "full")
        except OSError as inner:
            raise ValueError("h5py failed") from inner
    except ValueError as outer:
        assert atomic.is_no_space(outer)
    tb = tf.errors.ResourceExhaustedError(None, None, "logs/events.out; No space left on device")
    assert atomic.is_no_space(tb) and not atomic.is_no_space(OSError(errno.EACCES, "denied"))


def test_read_metrics_drops_a_truncated_last_line_with_a_warning(tmp_path):
    path = tmp_path / "metrics.jsonl"
    partial = '{"epoch": 3, "ste'
    path.write_text('{"epoch": 1, "loss": 0.5}\n{"epoch": 2, "loss": 0.4}\n' + partial)
    warned = []
    assert metrics_log.read_metrics(path, warned.append) == [{"epoch": 1, "loss": 0.5},
                                                      {"epoch": 2, "loss": 0.4}]
    assert warned == [f"{path}: dropped the truncated last line 3 ('{{\"epoch\": 3, \"ste'...)"]
    # The next append cuts the partial line instead of gluing the record onto it.
    metrics_log.append_metrics(path, {"epoch": 3, "loss": 0.3}, warned.append)
    assert path.read_text().splitlines()[-1] == '{"epoch": 3, "loss": 0.3}'
    assert [r["epoch"] for r in metrics_log.read_metrics(path, None)] == [1, 2, 3]
    assert warned[-1] == f"{path}: dropped a truncated last line ({len(partial)} bytes) before appending"


def test_read_metrics_names_file_and_line_of_any_other_bad_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 1}\nnot json\n{"epoch": 3}\n')
    with pytest.raises(RunError, match=rf"^{path}, line 2: not a JSON record \(.*\); fix or delete"):
        metrics_log.read_metrics(path)
    path.write_text('{"epoch": 1}\n[1, 2]\n')
    with pytest.raises(RunError, match=r", line 2: not a JSON record \(not a JSON object\)"):
        metrics_log.read_metrics(path)


APPENDER = """
import sys
from pathlib import Path
from augintae_tf.run.metrics_log import append_metrics
for i in range(300):
    append_metrics(sys.argv[1], {"writer": int(sys.argv[2]), "i": i, "pad": "x" * 2000}, None)
"""


def test_concurrent_appends_never_interleave(tmp_path):
    path = tmp_path / "metrics.jsonl"
    procs = [subprocess.Popen([sys.executable, "-c", APPENDER, str(path), str(w)]) for w in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    records = metrics_log.read_metrics(path)
    assert len(records) == 900
    for writer in range(3):
        assert [r["i"] for r in records if r["writer"] == writer] == list(range(300))


def test_truncate_metrics_keeps_earlier_epochs_and_eval_lines(tmp_path):
    lines = [{"epoch": 1}, {"epoch": 2}, {"eval": {"fid": 3.0}}, {"epoch": 3}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert metrics_log.truncate_metrics(tmp_path, 2) == lines[:3]
    assert metrics_log.read_metrics(tmp_path) == lines[:3]


HOLDER = """
import sys, time
from augintae_tf.run.lock import RunLock
RunLock(sys.argv[1]).acquire()
print("locked", flush=True)
time.sleep(120)
"""


def test_lock_refuses_a_second_holder_and_dies_with_its_process(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunError) as caught:
            lock.RunLock(tmp_path).acquire()
        assert str(caught.value) == (f"run directory {tmp_path} is in use by process {holder.pid} "
                                     f"(it holds {tmp_path / '.lock'}); wait for it to finish or "
                                     "stop it")
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # kill -9: no chance to clean up
        holder.wait()
    with lock.RunLock(tmp_path) as held:  # the kernel released it: never a stale lock
        assert (tmp_path / ".lock").read_text() == f"{os.getpid()}\n" and held.fd is not None


def test_read_config_errors_name_the_file_line_and_column(tmp_path):
    with pytest.raises(RunError, match="is not a run directory"):
        directory.read_config(tmp_path)
    (tmp_path / "config.yaml").write_text("model:\n  name: augintae\n  latent_dim: [8\n")
    with pytest.raises(RunError, match=r"config.yaml is not valid YAML \(line 4, column 1\): "):
        directory.read_config(tmp_path)
    (tmp_path / "config.yaml").write_text("model:\n  latent_dim: 0\n")
    with pytest.raises(RunError, match=r"config.yaml: model.latent_dim: 0 is not allowed"):
        directory.read_config(tmp_path)
    directory.save_config(tmp_path, tiny_config())
    assert directory.read_config(tmp_path) == tiny_config() and leftovers(tmp_path) == []


def test_new_and_latest_run_dirs(tmp_path):
    cfg = tiny_config()
    first = directory.new_run_dir(tmp_path, cfg)
    assert first == tmp_path / "00000-glyphs-augintae"
    first.mkdir()
    (tmp_path / "00007-x").mkdir()
    assert directory.new_run_dir(tmp_path, cfg).name == "00008-glyphs-augintae"
    assert directory.latest_run_dir(tmp_path).name == "00007-x"
    with pytest.raises(RunError, match="--resume found no run in"):
        directory.latest_run_dir(tmp_path / "none")


def test_stale_temporaries_are_removed_and_reported(tmp_path):
    (tmp_path / "checkpoints" / ".tmp-epoch-00003-4242").mkdir(parents=True)
    (tmp_path / "checkpoints" / ".tmp-epoch-00003-4242" / "model.weights.h5").write_bytes(b"x")
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / ".epoch-003.png.abc.tmp").write_bytes(b"x")
    (tmp_path / "samples" / "epoch-002.png").write_bytes(b"x")
    said = []
    removed = directory.remove_stale_temporaries(tmp_path, said.append)
    assert sorted(p.name for p in removed) == [".epoch-003.png.abc.tmp", ".tmp-epoch-00003-4242"]
    assert os.listdir(tmp_path / "checkpoints") == [] and os.listdir(tmp_path / "samples") == [
        "epoch-002.png"]
    assert said[0].startswith("removed ") and said[0].endswith(", left behind by an interrupted write")


def test_the_layout_names_every_path_of_a_run_and_is_the_only_place_they_are_spelled(tmp_path):
    import ast

    from augintae_tf.run import layout
    from augintae_tf.run.layout import RunLayout

    run = RunLayout(str(tmp_path))
    assert (run.config, run.lock, run.metrics) == \
        (tmp_path / "config.yaml", tmp_path / ".lock", tmp_path / "metrics.jsonl")
    assert (run.checkpoints, run.samples, run.logs, run.eval) == \
        tuple(tmp_path / name for name in ("checkpoints", "samples", "logs", "eval"))
    assert (run.plot(), run.plot("wgan.png")) == \
        (tmp_path / "samples" / "losses.png", tmp_path / "samples" / "wgan.png")
    assert (run.eval_metrics, run.classifiers, run.stage("inversion")) == \
        (tmp_path / "eval" / "metrics.json", tmp_path / "eval" / "classifiers",
         tmp_path / "inversion")
    # names no other module has a use for: any literal of them elsewhere bypasses the layout
    names = {layout.CONFIG, layout.LOCK, layout.METRICS, layout.CHECKPOINTS, layout.LOSSES_PLOT}
    root = Path(augintae_tf.__file__).parent
    spelled = [f"{path.relative_to(root.parent)}:{node.lineno}"
               for path in root.rglob("*.py")
               if path.name != "layout.py"
               for node in ast.walk(ast.parse(path.read_text()))
               if isinstance(node, ast.Constant) and node.value in names]
    assert spelled == []


def test_atomic_paths_write_all_or_keep_the_old_files(tmp_path):
    old = [tmp_path / "a.txt", tmp_path / "b.txt"]
    for path in old:
        path.write_text("old")
    with atomic.atomic_paths(old + [tmp_path / "sub" / "c.txt"]) as temps:
        assert [t.parent for t in temps] == [tmp_path, tmp_path, tmp_path / "sub"]
        for i, tmp in enumerate(temps):
            tmp.write_text(f"new {i}")
    assert [p.read_text() for p in old] == ["new 0", "new 1"]
    assert (tmp_path / "sub" / "c.txt").read_text() == "new 2"
    assert leftovers(tmp_path) == leftovers(tmp_path / "sub") == []
    with pytest.raises(ZeroDivisionError):  # an error before the renames: nothing replaced
        with atomic.atomic_paths(old) as temps:
            temps[0].write_text("half")
            1 / 0
    assert [p.read_text() for p in old] == ["new 0", "new 1"] and leftovers(tmp_path) == []
    with pytest.raises(RunError) as caught:
        with atomic.atomic_paths(old, what="an image"):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert str(caught.value) == f"no space left on device while writing an image to {tmp_path}"
    assert leftovers(tmp_path) == []
