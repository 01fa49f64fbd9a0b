"""Links in a run directory or output folder, `generate --overwrite`
and files it did not write, a failed start, a read-only run. Each asserts the one-line message
(or the fallback) and that nothing outside the run, the output folder or the model base changed."""
import errno
import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from augintae_tf import atomic

from augintae_tf.run import directory, lock, metrics_log, model_state
from augintae_tf.errors import RunError
from augintae_tf.run.layout import RunLayout
from test_checkpoint_faults import invoke, one_line_error

VICTIM_TEXT = "keep 1\nkeep 2 (no newline)"


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (links not followed) -> SHA-256 of its bytes or link target."""
    found = {}
    for path in sorted(Path(folder).rglob("*")):
        if path.is_symlink():
            found[str(path)] = "link:" + os.readlink(path)
        elif path.is_file():
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    return Path(shutil.copytree(tiny_run, tmp_path / "run"))


@pytest.fixture
def victim(tmp_path):
    path = tmp_path / "outside" / "victim.txt"
    path.parent.mkdir()
    path.write_text(VICTIM_TEXT)
    return path


# ---------------------------------------------------------------- 1. links in a run directory
def test_evaluate_refuses_a_linked_metrics_log_and_leaves_its_target(run_copy, victim, tmp_path):
    (run_copy / "metrics.jsonl").unlink()
    (run_copy / "metrics.jsonl").symlink_to(victim)
    before = snapshot(run_copy)
    result = invoke("evaluate", "--run-dir", run_copy, "--metrics", "recon", "--data-limit", "64",
                    "--out", tmp_path / "eval")
    assert result.exit_code == 1
    assert one_line_error(result.output) == (
        f"Error: {run_copy}/metrics.jsonl is a symbolic link; augintae-tf writes only its own "
        "files there and does not follow links (remove the link)")
    assert victim.read_text() == VICTIM_TEXT and snapshot(run_copy) == before


def test_appends_locks_and_atomic_writes_refuse_links_and_fifos(run_copy, victim):
    (run_copy / "metrics.jsonl").unlink()
    (run_copy / "metrics.jsonl").symlink_to(victim)
    with pytest.raises(RunError, match="metrics.jsonl is a symbolic link"):
        metrics_log.append_metrics(run_copy, {"eval": 1})
    with pytest.raises(RunError, match="metrics.jsonl is a symbolic link"):
        metrics_log.truncate_metrics(run_copy, 1)
    RunLayout(run_copy).lock.unlink(missing_ok=True)
    RunLayout(run_copy).lock.symlink_to(victim)  # the lock must not truncate or write its target
    with pytest.raises(RunError, match=r"\.lock is a symbolic link"):
        lock.RunLock(run_copy).acquire()
    (run_copy / "config.yaml").rename(run_copy / "config.real")
    (run_copy / "config.yaml").symlink_to(victim)
    with pytest.raises(RunError, match="config.yaml is a symbolic link"):
        atomic.write_text(run_copy / "config.yaml", "x")
    os.mkfifo(run_copy / "fifo")  # opening a FIFO to write would block forever
    with pytest.raises(RunError, match="fifo is not a regular file"):
        metrics_log.append_metrics(run_copy / "fifo", {"eval": 1})
    assert victim.read_text() == VICTIM_TEXT


def test_a_linked_checkpoints_folder_is_neither_read_nor_rotated(run_copy, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    shutil.move(run_copy / "checkpoints", elsewhere)
    (run_copy / "checkpoints").symlink_to(elsewhere)
    before = snapshot(elsewhere)
    result = invoke("generate", "--run-dir", run_copy, "--out", tmp_path / "gen", "--seeds",
                    run_copy / "samples")
    assert one_line_error(result.output) == (
        f"Error: {run_copy}/checkpoints is a symbolic link; augintae-tf writes only its own "
        "files there and does not follow links (remove the link)")
    with pytest.raises(RunError, match="checkpoints is a symbolic link"):
        model_state.save(run_copy / "checkpoints", _Model(), 3, {}, keep=1)
    assert snapshot(elsewhere) == before and not (tmp_path / "gen").exists()


class _Model:
    """Stands in for a model: save() refuses the folder before it asks for any weights."""


# ---------------------------------------------------------------- 2. generate --overwrite
def _seeds(run_dir: Path, tmp_path: Path) -> Path:
    from augintae_tf.data import load_arrays
    from augintae_tf.images import to_uint8

    images, labels = load_arrays(directory.read_config(run_dir).data, "test", limit=200)
    folder = tmp_path / "seeds"
    folder.mkdir()
    for i, j in enumerate(np.flatnonzero(labels == labels[0])[:3]):
        Image.fromarray(to_uint8(images[j])[..., 0]).save(folder / f"s{i}.png")
    return folder


def test_overwrite_removes_only_what_a_generation_recorded(tiny_run, tmp_path):
    seeds, out = _seeds(tiny_run, tmp_path), tmp_path / "digits"
    out.mkdir()
    Image.new("L", (8, 8), 77).save(out / "00000.png")  # the user's own digit image
    mine = snapshot(out)
    result = invoke("generate", "--run-dir", tiny_run, "--seeds", seeds, "--num", "3",
                    "--out", out, "--overwrite")
    assert result.exit_code == 1
    assert one_line_error(result.output) == (
        f"Error: --out {out}: --overwrite refuses to replace {out}/00000.png, which no earlier "
        f"generation wrote (not listed in {out}/.generated.json); choose another folder or move it")
    assert snapshot(out) == mine

    gen = tmp_path / "gen"
    assert invoke("generate", "--run-dir", tiny_run, "--seeds", seeds, "--num", "5",
                  "--out", gen).exit_code == 0
    (gen / "notes.txt").write_text("mine")
    result = invoke("generate", "--run-dir", tiny_run, "--seeds", seeds, "--num", "2",
                    "--out", gen, "--overwrite")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in gen.iterdir()) == [
        ".generated.json", "00000.png", "00001.png", "grid.png", "notes.txt"]
    assert (gen / "notes.txt").read_text() == "mine"


def test_reconstruct_overwrite_keeps_a_users_images(tiny_run, tmp_path):
    seeds, out = _seeds(tiny_run, tmp_path), tmp_path / "out"
    out.mkdir()
    Image.new("L", (8, 8), 5).save(out / "grid.png")
    mine = snapshot(out)
    result = invoke("reconstruct", "--run-dir", tiny_run, "--images", seeds, "--out", out,
                    "--overwrite")
    assert "--overwrite refuses to replace" in one_line_error(result.output)
    assert f"{out}/grid.png, which no earlier generation wrote" in result.output
    assert snapshot(out) == mine


# ---------------------------------------------------------------- 3. a failed start
def test_a_failed_start_leaves_nothing_and_can_be_retried(tmp_path):
    root = tmp_path / "runs"
    run_dir = root / "big"
    small = ["--set", "model.width=0.25", "--set", "model.latent_dim=8", "--set", "data.limit=64"]
    args = ["train", *small, "--epochs", "1", "--run-dir", run_dir]
    result = invoke(*args, "--batch-size", "512")
    assert one_line_error(result.output) == (
        "Error: split 'train' of glyphs has 64 images, fewer than one batch (--batch-size 512)")
    assert not root.exists()  # the run directory and the root it made are gone, lock included
    kept = tmp_path / "mine"
    kept.mkdir()  # a folder the user made: a failed start removes only what it created
    result = invoke("train", *small, "--run-dir", kept,
                    "--batch-size", "512")
    assert result.exit_code == 1 and kept.is_dir() and list(kept.iterdir()) == []
    result = invoke(*args, "--batch-size", "32")
    assert result.exit_code == 0, result.output
    assert (run_dir / "checkpoints" / "epoch-00001").is_dir()


# ---------------------------------------------------------------- 5. a read-only run directory
@pytest.fixture
def read_only(monkeypatch):
    """``read_only(folder)``: writes under ``folder`` fail with EROFS, as on a read-only mount
    (chmod does not stop root, and the tests run as root in CI)."""
    roots: list[str] = []
    real_open, real_mkdir = os.open, os.mkdir

    def inside(path) -> bool:
        path = os.path.abspath(os.fspath(path))
        return any(path == r or path.startswith(r + os.sep) for r in roots)

    def fake_open(path, flags, *args, **kwargs):
        writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
        if flags & writes and inside(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    def fake_mkdir(path, *args, **kwargs):
        if inside(path):
            if os.path.isdir(path):
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), os.fspath(path))
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)
    return lambda folder: roots.append(os.path.abspath(folder))


def test_resume_and_evaluate_of_a_read_only_run_say_so_in_one_line(run_copy, read_only, tmp_path):
    shutil.rmtree(run_copy / "eval", ignore_errors=True)
    before = snapshot(run_copy)
    read_only(run_copy)
    result = invoke("train", "--resume", "--run-dir", run_copy)
    assert one_line_error(result.output) == (
        f"Error: cannot write {run_copy}/.lock: Read-only file system (a read-only run directory "
        "or disk); copy the run to a writable place to continue it")
    result = invoke("evaluate", "--run-dir", run_copy, "--metrics", "recon", "--data-limit", "64")
    assert one_line_error(result.output) == (
        f"Error: cannot write {run_copy}/eval: Read-only file system (a read-only run directory "
        "or disk); pass --out ELSEWHERE")
    assert snapshot(run_copy) == before


def test_evaluate_out_elsewhere_of_a_read_only_run_writes_only_there(run_copy, read_only,
                                                                      tmp_path):
    before = snapshot(run_copy)
    read_only(run_copy)
    out = tmp_path / "elsewhere"
    result = invoke("evaluate", "--run-dir", run_copy, "--metrics", "recon", "--data-limit", "64",
                    "--out", out)
    assert result.exit_code == 0, result.output
    assert (f"warning: {run_copy} is read-only (Read-only file system): the record is not "
            f"appended to {run_copy}/metrics.jsonl; it goes to {out}/metrics.json") in result.output
    assert snapshot(run_copy) == before
    assert sorted(p.name for p in out.iterdir()) == [".generated.json", "metrics.json"]
