"""Training runs: run directory, learning, checkpoints, resume after SIGKILL, refusals."""
import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from augintae_tf.run import checkpoints, model_state
from augintae_tf.training.callbacks import Checkpointer
from augintae_tf.errors import RunError, TrainingError
from augintae_tf.training import build, learning_rate, train
from conftest import tiny_config


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_run_directory_holds_config_checkpoints_samples_metrics_and_logs(tiny_run):
    assert (tiny_run / "config.yaml").read_text().startswith("data:")
    records = lines(tiny_run / "metrics.jsonl")
    assert [r["epoch"] for r in records] == [1, 2]
    assert records[-1]["step"] == 2 * (128 // 32)
    assert all(r["images_per_s"] > 0 and math.isfinite(r["recon_loss"]) for r in records)
    assert [p.name for p in checkpoints.list_checkpoints(tiny_run / "checkpoints")] == [
        "epoch-00001", "epoch-00002"]
    for name in ("epoch-001.png", "epoch-002.png", "losses.png"):
        assert (tiny_run / "samples" / name).stat().st_size > 1000
    assert list((tiny_run / "logs").rglob("events.out.tfevents.*"))
    # 12 labelled rows of 8 images (28 px, x3): per set (training, novel) originals,
    # reconstructions and two pairs of pixel-fade and slerp rows; the labels fit in the margin
    from PIL import Image

    from augintae_tf.images import label_width

    grid = np.asarray(Image.open(tiny_run / "samples" / "epoch-002.png").convert("L"))
    margin = label_width(["novel pair 2: pixel fade"])
    assert grid.shape == ((2 + 12 * 30) * 3, margin + (2 + 8 * 30) * 3)
    assert grid[:, :margin].min() == 0 and grid[:, :margin].mean() > 200  # black text on white


def test_reconstruction_loss_falls_on_glyphs(tmp_path):
    cfg = tiny_config(**{"train.epochs": 6, "data.limit": 256, "train.lr_drops": "[]"})
    result = train(cfg, tmp_path / "run", echo=lambda *_: None)
    losses = [r["recon_loss"] for r in result.history]
    assert len(losses) == 6
    assert losses[-1] < 0.75 * losses[0], losses


def test_lr_is_divided_by_ten_at_35_and_70_percent_except_for_adversarial_models():
    schedule = learning_rate(tiny_config(**{"train.epochs": 100}), steps=10)
    assert [float(schedule(s)) for s in (0, 349, 351, 699, 701)] == pytest.approx(
        [1e-3, 1e-3, 1e-4, 1e-4, 1e-5])
    assert learning_rate(tiny_config(**{"model.name": "augintae-adv"}), steps=10) == 1e-3


def test_checkpoint_round_trip_restores_weights_adam_moments_and_rng_counter(tiny_run):
    cfg = tiny_config()
    ckpt = checkpoints.latest_checkpoint(tiny_run / "checkpoints")
    model = build(cfg, steps=4)
    state = model_state.restore(ckpt, model)
    saved = np.load(ckpt / "optimizers.npz")
    assert state["epoch"] == 2 and int(model.optimizer.iterations.numpy()) == state["step"] == 8
    assert int(model.step_counter.numpy()) == state["rng_step"] == 8
    index, moment = next((i, v) for i, v in enumerate(model.optimizer.variables)
                         if "momentum" in v.path)
    key = f"optimizer/{index:05d}"
    np.testing.assert_array_equal(moment.numpy(), saved[key])
    assert np.abs(saved[key]).sum() > 0  # a real moment, not a fresh zero slot


def test_checkpoints_keep_the_newest_and_ignore_temporary_directories(tmp_path):
    model = build(tiny_config(), steps=4)
    for epoch in range(1, 5):
        model_state.save(tmp_path, model, epoch, {"step": epoch}, keep=2)
    (tmp_path / ".tmp-epoch-00009-123").mkdir()  # what a kill mid-write leaves behind
    assert [p.name for p in checkpoints.list_checkpoints(tmp_path)] == ["epoch-00003", "epoch-00004"]


def test_nan_loss_stops_without_overwriting_the_last_good_checkpoint(tmp_path):
    model = build(tiny_config(), steps=4)
    model_state.save(tmp_path, model, 1, {"step": 4})
    callback = Checkpointer(tmp_path, keep=3, state=lambda epoch: {"step": 0})
    callback.set_model(model)
    with pytest.raises(TrainingError, match="recon_loss became NaN/inf in epoch 2.*epoch-00001"):
        callback.on_epoch_end(1, {"recon_loss": float("nan")})
    assert [p.name for p in checkpoints.list_checkpoints(tmp_path)] == ["epoch-00001"]


def test_refusals_name_the_problem(tiny_run, tmp_path):
    with pytest.raises(RunError, match="already exists and is not empty; pass --resume"):
        train(tiny_config(), tiny_run, echo=lambda *_: None)
    with pytest.raises(RunError, match=r"config differs .*train.epochs: 2 -> 3"):
        train(tiny_config(**{"train.epochs": 3}), tiny_run, resume=True, echo=lambda *_: None)
    summary = train(tiny_config(), tmp_path / "dry", dry_run=True)
    assert "# resolved config" in summary and "encoder:" in summary and "total:" in summary
    assert not (tmp_path / "dry").exists()


def test_resume_after_sigkill_finishes_the_run(tmp_path):
    """Kill a CLI training run with SIGKILL after its first checkpoint, then resume it."""
    run_dir = tmp_path / "killed"
    cli = os.path.join(os.path.dirname(sys.executable), "augintae-tf")
    args = [cli, "train", "--run-dir", str(run_dir), "--config", "glyphs",  # as tiny_config below
            "--epochs", "4", "--batch-size", "32", "--latent-dim", "8", "--set", "model.width=0.25",
            "--set", "data.limit=128", "--set", "train.steps_per_epoch=12",
            "--precision", "float32"]  # tiny_config's: auto may pick bf16 on this CPU
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not checkpoints.list_checkpoints(run_dir / "checkpoints") and time.time() < deadline:
        assert process.poll() is None, process.stderr.read()[-2000:]
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = checkpoints.latest_checkpoint(run_dir / "checkpoints")
    epoch = checkpoints.read_state(done)["epoch"]
    assert 1 <= epoch < 4, "the run should have been killed mid-training"

    result = train(tiny_config(**{"train.epochs": 4, "train.steps_per_epoch": 12}), run_dir,
                   resume=True, echo=lambda *_: None)
    assert result.epochs_done == 4
    assert [r["epoch"] for r in lines(run_dir / "metrics.jsonl")] == [1, 2, 3, 4]
    final = checkpoints.read_state(checkpoints.latest_checkpoint(run_dir / "checkpoints"))
    assert final["epoch"] == 4 and final["step"] == final["rng_step"] == 4 * 12


@pytest.mark.parametrize("budget, explicit, natural, expected", [
    (None, None, 4, (2, 4)),  # no budget: epochs and steps/epoch as configured
    (7, None, 4, (2, 4)),  # ceil(7/4) = 2 epochs of ceil(7/2) = 4 steps: 8 steps
    (1000, None, 80, (13, 77)),  # 13 epochs of 77: 1001 steps, within epochs - 1 of the budget
    (10, 3, 3, (4, 3)),  # an explicit steps_per_epoch is kept: 4 epochs of 3 = 12 steps
    (3, None, 43, (1, 3)),  # a budget below one pass: one short epoch
])
def test_step_budget_gives_epochs_and_is_idempotent(budget, explicit, natural, expected):
    from augintae_tf.training import apply_step_budget

    cfg = tiny_config()
    cfg.train.steps, cfg.train.steps_per_epoch = budget, explicit
    resolved, steps = apply_step_budget(cfg, natural)
    assert (resolved.train.epochs, steps) == expected
    assert resolved.train.steps == budget
    if budget is not None:
        assert abs(resolved.train.epochs * steps - budget) < max(resolved.train.epochs, steps)
        assert apply_step_budget(resolved, steps) == (resolved, steps)  # a resumed run agrees


def test_train_steps_budget_runs_that_many_steps_and_scales_the_lr_drops(tmp_path):
    """data.limit 128 / batch 32 = 4 steps per pass; a budget of 6 steps and --epochs 50 ignored."""
    from augintae_tf.inference.loaded import load_run

    run_dir = tmp_path / "budget"
    result = train(tiny_config(**{"train.steps": 6, "train.epochs": 50}), run_dir, echo=lambda *_: None)
    assert result.epochs_done == 2  # ceil(6 / 4) epochs of ceil(6 / 2) = 3 steps
    final = checkpoints.read_state(checkpoints.latest_checkpoint(run_dir / "checkpoints"))
    assert final["step"] == 6
    run = load_run(run_dir)
    assert (run.config.train.epochs, run.config.train.steps) == (2, 6)
    # drops after round(0.35 * 6) = 2 and round(0.7 * 6) = 4 steps (PiecewiseConstantDecay: a
    # boundary step still uses the earlier value)
    schedule = run.model.lr_policy(run.config.train, 3)
    assert [float(schedule(s)) for s in range(6)] == pytest.approx([1e-3, 1e-3, 1e-3, 1e-4, 1e-4, 1e-5])


def test_a_step_budget_that_is_no_multiple_of_the_epoch_runs_exactly_and_resumes_exactly(tmp_path):
    """7 steps at 4 per pass: epochs of 4 and 3 steps (not 2 x 4 = 8); the last epoch redone
    after its checkpoint is lost (a kill mid-epoch) again stops at step 7."""
    import shutil

    run_dir = tmp_path / "budget7"
    cfg = tiny_config(**{"train.steps": 7})
    result = train(cfg, run_dir, echo=lambda *_: None)
    assert result.epochs_done == 2
    assert [(r["epoch"], r["step"]) for r in lines(run_dir / "metrics.jsonl")] == [(1, 4), (2, 7)]
    final = checkpoints.read_state(checkpoints.latest_checkpoint(run_dir / "checkpoints"))
    assert final["step"] == final["rng_step"] == 7
    shutil.rmtree(run_dir / "checkpoints" / "epoch-00002")
    result = train(cfg, run_dir, resume=True, echo=lambda *_: None)
    assert result.epochs_done == 2
    assert [(r["epoch"], r["step"]) for r in lines(run_dir / "metrics.jsonl")] == [(1, 4), (2, 7)]
    final = checkpoints.read_state(checkpoints.latest_checkpoint(run_dir / "checkpoints"))
    assert final["step"] == final["rng_step"] == 7


def test_log_lines_and_sample_grids_are_sized_to_the_run():
    from augintae_tf.training.callbacks import (LOG_LINES, SAMPLE_GRIDS, duration, on_cadence)

    # 400 steps on 300 images: 200 epochs of 2 steps (it was 200 lines and 201 grids)
    lines_at = [e for e in range(1, 201) if on_cadence(e, 200, LOG_LINES)]
    grids_at = [e for e in range(1, 201) if on_cadence(e, 200, SAMPLE_GRIDS)]
    assert lines_at == [1, *range(8, 201, 8)] and len(lines_at) == 26
    assert grids_at == [1, *range(20, 201, 20)] and len(grids_at) == 11
    assert [e for e in range(1, 4) if on_cadence(e, 3, SAMPLE_GRIDS)] == [1, 2, 3]  # short: all
    assert on_cadence(13, 200, SAMPLE_GRIDS, stopping=True)  # a step budget's last epoch
    assert [duration(s) for s in (4.4, 89, 754, 7500)] == ["4 s", "89 s", "13 min", "2 h 05 min"]


def test_long_epochs_get_a_mid_epoch_line_with_an_eta(tmp_path, monkeypatch):
    from augintae_tf.training import callbacks

    monkeypatch.setattr(callbacks, "LINE_S", 0.0)  # every batch counts as a minute without a line
    said = []
    train(tiny_config(**{"train.epochs": 3}), tmp_path / "run", echo=said.append)
    steps = [line for line in said if ": step " in line]
    assert steps[0] == "epoch 1: step 1/4"  # no pace yet: the first epoch includes tracing
    assert any(line.startswith("epoch 2: step 2/4; ETA ") for line in steps), steps
    ends = [line for line in said if line.startswith("epoch ") and ": loss=" in line]
    assert [line.split(":")[0] for line in ends] == ["epoch 1", "epoch 2", "epoch 3"]
    assert ends[1].endswith(" s") and "; 1 epoch left; ETA " in ends[1]
    assert "left" not in ends[2]  # the last line has nothing left to estimate
