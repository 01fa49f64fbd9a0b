"""Faults under a run directory: a link anywhere under the run (samples/, logs/,
eval/, a checkpoint), a checkpoint replaced by a file, a state.json claiming what the run never
did, a failed start, and `generate` racing a training run that rotates its checkpoints. Each
asserts the one-line message (or the fallback) and that nothing outside the run changed."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from augintae_tf.run import checkpoints, directory, metrics_log
from test_checkpoint_faults import CLI, TINY_SETS, invoke, one_line_error
from test_races_and_crafted_files import _rewrite, wait_for
from test_links_and_read_only import snapshot

LINK_REFUSED = ("is a symbolic link; augintae-tf writes only its own files there and does not "
                "follow links (remove the link)")


@pytest.fixture
def unfinished(tiny_run, tmp_path):
    """A copy of the 2-epoch tiny run whose epoch 2 is still to train (its checkpoint removed)."""
    run = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    shutil.rmtree(run / "checkpoints" / "epoch-00002")
    return run


def _link_away(run: Path, name: str, elsewhere: Path) -> None:
    """Move ``run/name`` (a folder) to ``elsewhere`` and leave a link to it in its place."""
    elsewhere.parent.mkdir(parents=True, exist_ok=True)
    if (run / name).exists():
        shutil.move(run / name, elsewhere)
    else:
        elsewhere.mkdir()
    (run / name).symlink_to(elsewhere, target_is_directory=True)


# ---------------------------------------------------------------- links anywhere under the run
@pytest.mark.parametrize("name", ["samples", "logs", "logs/train"])
def test_resume_refuses_a_link_under_the_run_before_training(unfinished, tmp_path, name):
    elsewhere = tmp_path / "outside" / name.replace("/", "-")
    if name == "logs/train":
        (unfinished / "logs").mkdir(exist_ok=True)
    _link_away(unfinished, name, elsewhere)
    before, run_before = snapshot(elsewhere), snapshot(unfinished)
    result = invoke("train", "--resume", "--run-dir", unfinished)
    assert result.exit_code == 1
    assert one_line_error(result.output) == f"Error: {unfinished}/{name} {LINK_REFUSED}"
    assert snapshot(elsewhere) == before  # no epoch-002.png, losses.png or events out there
    assert {k: v for k, v in snapshot(unfinished).items() if not k.endswith(".lock")} == \
        {k: v for k, v in run_before.items() if not k.endswith(".lock")}


def test_evaluate_refuses_a_linked_eval_folder(tiny_run, tmp_path):
    run = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    elsewhere = tmp_path / "outside" / "eval"
    _link_away(run, "eval", elsewhere)
    result = invoke("evaluate", "--run-dir", run, "--metrics", "recon", "--data-limit", "32")
    assert result.exit_code == 1
    assert one_line_error(result.output) == f"Error: {run}/eval {LINK_REFUSED}"
    assert list(elsewhere.iterdir()) == []  # no metrics.json written through the link


def test_a_linked_checkpoint_is_refused_not_followed_or_removed(tiny_seeds, tiny_run, tmp_path):
    """The newest checkpoint a link (to a copy of epoch 1): resume must neither train from
    it nor fail with `Cannot call rmtree on a symbolic link` when it saves that epoch."""
    run = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    target = Path(shutil.copytree(run / "checkpoints" / "epoch-00001", tmp_path / "mine"))
    shutil.rmtree(run / "checkpoints" / "epoch-00002")
    (run / "checkpoints" / "epoch-00002").symlink_to(target, target_is_directory=True)
    before = snapshot(target)
    for command in (["train", "--resume", "--run-dir", run],
                    ["generate", "--run-dir", run, "--seeds", tiny_seeds,
                     "--out", tmp_path / "gen"]):
        result = invoke(*command)
        assert result.exit_code == 1
        assert one_line_error(result.output) == (
            f"Error: {run}/checkpoints/epoch-00002 {LINK_REFUSED}")
    assert snapshot(target) == before and (run / "checkpoints" / "epoch-00002").is_symlink()


# ---------------------------------------------------------------- checkpoints that lie
def test_a_checkpoint_replaced_by_a_file_falls_back_and_is_saved_again(unfinished):
    (unfinished / "checkpoints" / "epoch-00002").write_text("not a checkpoint")
    result = invoke("train", "--resume", "--run-dir", unfinished)
    assert result.exit_code == 0, result.output
    assert f"done: 2 epochs in {unfinished}" in result.output
    saved = unfinished / "checkpoints" / "epoch-00002"
    assert saved.is_dir() and checkpoints.verify(saved) is None


def _claim(checkpoint: Path, **fields) -> None:
    """Re-seal ``state.json`` of ``checkpoint`` with ``fields`` changed (manifest updated)."""
    state = json.loads((checkpoint / "state.json").read_text())
    _rewrite(checkpoint, "state.json", json.dumps({**state, **fields}).encode())


def test_a_state_claiming_epochs_never_trained_is_not_trusted(tiny_run, tmp_path):
    run = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    ckpts = run / "checkpoints"
    _claim(ckpts / "epoch-00002", epoch=99)
    result = invoke("train", "--resume", "--run-dir", run)
    assert result.exit_code == 0, result.output
    assert (f"warning: damaged checkpoint {ckpts}/epoch-00002 (state.json claims epoch 99, but "
            f"the checkpoint is epoch-00002): using {ckpts}/epoch-00001 instead") in result.output
    assert f"done: 2 epochs in {run}" in result.output  # epoch 2 trained again, not "99 epochs"
    assert checkpoints.read_state(ckpts / "epoch-00002")["epoch"] == 2

    logged = {r["epoch"]: r["step"] for r in metrics_log.read_metrics(run) if "epoch" in r}
    _claim(ckpts / "epoch-00002", step=logged[2] + 1000)  # a step metrics.jsonl never logged
    shutil.copytree(ckpts / "epoch-00001", ckpts / "epoch-00007")
    _claim(ckpts / "epoch-00007", epoch=7)  # named and sealed, but never in the log
    warnings: list[str] = []
    assert directory.choose_checkpoint(run, warn=warnings.append) == ckpts / "epoch-00001"
    assert warnings == [
        f"damaged checkpoint {ckpts}/epoch-00007 (state.json claims epoch 7, which "
        f"metrics.jsonl never logged (last: 2)); {ckpts}/epoch-00002 (state.json claims step "
        f"{logged[2] + 1000} at epoch 2, metrics.jsonl logged step {logged[2]}): using "
        f"{ckpts}/epoch-00001 instead"]


# ---------------------------------------------------------------- a failed start
def test_a_start_that_fails_after_writing_its_config_leaves_nothing(tmp_path):
    """With train.steps_per_epoch set, a batch larger than the data fails in the data pipeline,
    after config.yaml, the lock and TensorBoard's folder were written: all removed."""
    run_dir = tmp_path / "runs" / "big"
    args = ["train", "--set", "model.width=0.25", "--set", "model.latent_dim=8", "--set",
            "data.limit=64", "--set", "train.steps_per_epoch=2", "--precision", "float32",
            "--epochs", "1", "--run-dir", run_dir]
    result = invoke(*args, "--batch-size", "512")
    assert result.exit_code == 1
    assert one_line_error(result.output) == (
        "Error: dataset 'glyphs' split 'train' has 64 images, fewer than one batch of 512; "
        "lower the batch size")
    assert not (tmp_path / "runs").exists()  # no .lock, config.yaml or logs/ left
    result = invoke(*args, "--batch-size", "32")
    assert result.exit_code == 0, result.output
    assert (run_dir / "checkpoints" / "epoch-00001").is_dir()


# ---------------------------------------------------------------- generate racing a training run
def test_generate_succeeds_while_the_run_trains_and_rotates_checkpoints(tiny_seeds, tiny_run, tmp_path):
    """A training run keeping one checkpoint rotates it every few hundred milliseconds;
    `generate` must win that race every time (not fail with "has no state.json")."""
    run_dir = tmp_path / "run"
    trainer = subprocess.Popen(
        [sys.executable, "-c", CLI, "train", *TINY_SETS, "--set", "train.keep_checkpoints=1",
         "--set", "train.steps_per_epoch=1", "--epochs", "2000", "--run-dir", str(run_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    outcomes = []
    try:
        wait_for(lambda: checkpoints.list_checkpoints(run_dir / "checkpoints")
                 or trainer.poll() is not None, "the first checkpoint")
        for i in range(6):
            assert trainer.poll() is None, trainer.stderr.read()
            result = invoke("generate", "--run-dir", run_dir, "--seeds", tiny_seeds,
                            "--num", "4", "--out", tmp_path / f"gen{i}")
            outcomes.append((result.exit_code, result.output.strip().splitlines()[-1]))
        assert trainer.poll() is None  # the run was training (rotating) all along
    finally:
        trainer.kill()
        trainer.wait()
    assert all(code == 0 for code, _ in outcomes), outcomes
