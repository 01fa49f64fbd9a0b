"""The run directory's one owner, TensorFlow-free: creating and finding a run, its config (what
a saved ``config.yaml`` may lack, filled in), its stale temporaries, and choosing an intact
checkpoint.  The names of its files: :mod:`augintae_tf.run.layout`; its lock:
:mod:`augintae_tf.run.lock`; its metrics log: :mod:`augintae_tf.run.metrics_log`; a model's
weights back from a checkpoint: :mod:`augintae_tf.run.model_state`; a trained run loaded for
inference: :mod:`augintae_tf.inference.loaded`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

from augintae_tf.atomic import refuse_link, write_text
from augintae_tf.config.files import read_yaml
from augintae_tf.config.loading import from_dict
from augintae_tf.config.model_sections import INFERENCE_FIELDS
from augintae_tf.config.model_table import model_names, section_class
from augintae_tf.config.schema import RESUMABLE_CHANGES, Config, config_diff, validate
from augintae_tf.errors import ConfigError, RunError
from augintae_tf.run import checkpoints
from augintae_tf.run.layout import CONFIG, METRICS, SAMPLE_GRID, RunLayout
from augintae_tf.run.metrics_log import Warn, read_metrics, warn_stderr

RUN_NAME = re.compile(r"^(\d{5})-")
ROTATION_RETRIES = 3  # pinned_checkpoint: lists again when a training run rotated every candidate


# ---------------------------------------------------------------- creating and finding runs
def run_name(cfg: Config) -> str:
    dataset = Path(cfg.data.dataset).name if os.path.isdir(cfg.data.dataset) else cfg.data.dataset
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', dataset)}-{cfg.model.name}"


def new_run_dir(root: str | os.PathLike, cfg: Config) -> Path:
    """``root/NNNNN-<dataset>-<model>`` with the next free number (StyleGAN-style run ids)."""
    root = Path(root)
    taken = [int(m.group(1)) for p in (root.iterdir() if root.is_dir() else [])
             if (m := RUN_NAME.match(p.name))]
    return root / f"{max(taken, default=-1) + 1:05d}-{run_name(cfg)}"


def latest_run_dir(root: str | os.PathLike) -> Path:
    root = Path(root)
    runs = sorted((p for p in (root.iterdir() if root.is_dir() else []) if RUN_NAME.match(p.name)),
                  key=lambda p: p.name)
    if not runs:
        raise RunError(f"--resume found no run in {root}; pass --run-dir RUN")
    return runs[-1]


def prepare_run_dir(cfg: Config, run_dir: str | os.PathLike | None, resume: bool,
                    runs_root: str | os.PathLike, chief: bool = True) -> Path:
    """The run directory to write (or, with ``resume``, to continue), checked; creates nothing.

    Only the chief checks that a new run directory is empty: under multi-worker training the
    other workers share the chief's directory, which the chief may already have started writing.
    """
    if resume:
        run_dir = Path(run_dir) if run_dir else latest_run_dir(runs_root)
        check_resumable(run_dir)
        differences = [d for d in config_diff(read_config(run_dir), cfg)
                       if not d.startswith(tuple(f"{key}:" for key in RESUMABLE_CHANGES))]
        if differences:
            raise RunError(f"--resume refuses: the config differs from {run_dir}/{CONFIG} "
                           f"({'; '.join(differences)}); drop those options or start a new run")
        return run_dir
    run_dir = Path(run_dir) if run_dir else new_run_dir(runs_root, cfg)
    if chief and run_dir.exists() and any(run_dir.iterdir()):
        raise RunError(f"run directory {run_dir} already exists and is not empty; pass --resume to "
                       "continue it, or choose another --run-dir")
    return run_dir


def check_resumable(run_dir: str | os.PathLike) -> None:
    """One line when ``run_dir`` holds no run to resume: training writes ``config.yaml`` first,
    so without it no run started there (or its start failed, e.g. on a full disk, and was
    undone); the line names the command that starts one."""
    layout = RunLayout(run_dir)
    if os.path.lexists(layout.config):
        return
    raise RunError(f"nothing to resume in {run_dir}: no run started there (it has no {CONFIG}); "
                   f"start one with `augintae-tf train --run-dir {shlex.quote(str(run_dir))}` "
                   "and your data options")


def remove_samples_after(run_dir: str | os.PathLike, epoch: int,
                         echo: Warn | None = None) -> list[Path]:
    """Remove the sample grids (``samples/epoch-NNN.png``) of epochs after ``epoch``, the one a
    resume starts from: a run killed after its last checkpoint drew them from weights the run no
    longer has. Call it holding the run's lock."""
    folder = RunLayout(run_dir).samples
    if not folder.is_dir() or folder.is_symlink():
        return []
    later = sorted(p for p in folder.iterdir() if (m := SAMPLE_GRID.match(p.name))
                   and int(m.group(1)) > epoch and not p.is_dir())
    for path in later:
        path.unlink(missing_ok=True)
    if later and echo:
        echo(f"removed {len(later)} sample grid{'s' * (len(later) > 1)} of epochs after "
             f"{epoch} from {folder} (drawn after the checkpoint this run resumes from)")
    return later


def remove_stale_temporaries(run_dir: str | os.PathLike, echo: Warn = warn_stderr) -> list[Path]:
    """Remove what a killed writer left (``checkpoints/.tmp-epoch-*`` and ``.old-epoch-*``,
    ``.*.tmp*`` files of atomic writes); call it holding the run's lock, when no writer of this
    run can be alive."""
    layout = RunLayout(run_dir)
    stale = checkpoints.stale_temporaries(layout.checkpoints)
    for folder in layout.temporary_homes():
        if folder.is_dir():
            stale += [p for p in folder.iterdir()
                      if p.is_file() and p.name.startswith(".") and ".tmp" in p.name]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        echo(f"removed {path}, left behind by an interrupted write")
    return stale


# ---------------------------------------------------------------- config
# What a saved config.yaml without these model fields trained with (the fields came later: every
# autoencoder regressed the pixel blend, every model sampled by slerp); loading or resuming such a
# run rebuilds the same model, and a new run always writes them.
UNSAVED_MODEL_FIELDS = {"target": "blend", "sampler": "slerp"}
# Fields a saved config lists for every model although only the autoencoders read them: for
# another model (fastgan, dagan, neural-statistician) loading drops them instead of refusing it.
AUTOENCODER_ONLY_FIELDS = ("pixel_loss", "upsampling")


def complete_saved_config(data: dict) -> dict:
    """A saved config mapping with :data:`UNSAVED_MODEL_FIELDS` added where its model's section
    has the field and the mapping lacks it, and :data:`AUTOENCODER_ONLY_FIELDS` dropped where its
    section lacks them (a copy; other mappings are returned as they are)."""
    model = data.get("model") if isinstance(data, dict) else None
    # A saved config always names its model; without a name the section's fields are unknown.
    if not isinstance(model, dict) or model.get("name") not in model_names():
        return data
    fields = {f.name for f in dataclasses.fields(section_class(model["name"]))}
    missing = {k: v for k, v in UNSAVED_MODEL_FIELDS.items() if k in fields and k not in model}
    dropped = [k for k in AUTOENCODER_ONLY_FIELDS if k in model and k not in fields]
    if not missing and not dropped:
        return data
    kept = {k: v for k, v in model.items() if k not in dropped}
    return {**data, "model": {**kept, **missing}}


def read_config(run_dir: str | os.PathLike) -> Config:
    """The run's validated ``config.yaml``; any problem is one RunError naming the file."""
    path = RunLayout(run_dir).config
    if not path.is_file():
        raise RunError(f"{run_dir} is not a run directory: {path} is missing "
                       "(pass the directory `augintae-tf train` wrote, e.g. runs/quickstart)")
    try:
        data = read_yaml(path, str(path)) or {}
    except ConfigError as exc:
        raise RunError(str(exc)) from None
    if not isinstance(data, dict):
        raise RunError(f"{path} must be a mapping of config sections, got {type(data).__name__}")
    try:
        return validate(from_dict(complete_saved_config(data), origin=str(path)))
    except ConfigError as exc:
        raise RunError(f"{path}: {exc}") from None



def save_config(run_dir: str | os.PathLike, cfg: Config) -> Path:
    return write_text(RunLayout(run_dir).config, cfg.to_yaml(), what="the run config")


def check_checkpoint_config(run_dir: str | os.PathLike, cfg: Config, checkpoint: Path,
                            state: dict[str, Any]) -> None:
    """The weights in ``checkpoint`` were made for the model in its state.json; refuse a
    config.yaml that describes another model (e.g. an edited ``model.latent_dim``)."""
    saved = state.get("config")
    if not isinstance(saved, dict):
        return  # checkpoints from before state.json carried the config
    try:
        old = from_dict(complete_saved_config(saved), origin=f"{checkpoint}/state.json")
    except ConfigError:
        return
    inference = tuple(f"model.{name}:" for name in INFERENCE_FIELDS)  # no retraining needed
    shape = [d for d in config_diff(old, cfg)
             if d.startswith(("model.", "data.image_size:", "data.channels:"))
             and not d.startswith(inference)]
    if shape:
        raise RunError(f"{RunLayout(run_dir).config} does not match the model checkpoint "
                       f"{checkpoint} was saved with ({'; '.join(shape)}); restore {CONFIG}")


# ---------------------------------------------------------------- checkpoints
def choose_checkpoint(run_dir: str | os.PathLike, checkpoint: str | os.PathLike | None = None,
                      warn: Warn | None = warn_stderr) -> Path | None:
    """``checkpoint`` if given (it must be intact), else the newest intact checkpoint of the run,
    with a warning naming every damaged newer one; None when the run has none yet."""
    with pinned_checkpoint(run_dir, checkpoint, warn) as (chosen, _):
        return chosen


@contextlib.contextmanager
def pinned_checkpoint(run_dir: str | os.PathLike, checkpoint: str | os.PathLike | None = None,
                      warn: Warn | None = warn_stderr):
    """``(path, files)``: :func:`choose_checkpoint`'s choice with its files pinned open
    (:class:`~augintae_tf.run.checkpoints.Pinned`), verified as pinned: a training run rotating it
    away meanwhile cannot change or take what is then restored. ``(None, None)`` without one.

    A checkpoint of the run is intact when its manifest holds, its ``state.json`` claims the
    epoch it is named after, and ``metrics.jsonl`` (where it logs epochs) logged that epoch at
    the same step: the log is appended before each checkpoint, so a checkpoint claiming more is
    crafted or damaged. A symbolic link among the checkpoints is refused, never followed.
    """
    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        with checkpoints.pin(checkpoint) as files:
            problem = (checkpoints.verify(checkpoint, files) if checkpoint.is_dir()
                       else "it is not a directory")
            if problem:
                raise RunError(f"checkpoint {checkpoint} is damaged: {problem}")
            yield checkpoint, files
        return
    folder = RunLayout(run_dir).checkpoints
    refuse_link(folder, "directory")
    for link in checkpoints.linked_checkpoints(folder):
        refuse_link(link, "directory")
    logged = _logged_steps(run_dir)
    for _ in range(ROTATION_RETRIES + 1):
        damaged, vanished = [], False
        for candidate in reversed(_checkpoint_entries(folder)):
            with checkpoints.pin(candidate) as files:
                problem = (checkpoints.verify(candidate, files)
                           or _claim_problem(candidate, files, logged))
                if problem is not None and not os.path.lexists(candidate):
                    vanished = True  # rotated away by a training run while listing or pinning
                    continue
                if problem is None:
                    if damaged and warn:
                        names = "; ".join(f"{p} ({why})" for p, why in damaged)
                        warn(f"damaged checkpoint {names}: using {candidate} instead")
                    yield candidate, files
                    return
            damaged.append((candidate, problem))
        if not vanished:  # else list again: the training run has written a newer one
            break
    if damaged:
        raise RunError(f"no intact checkpoint in {folder}: "
                       + "; ".join(f"{p.name}: {why}" for p, why in damaged))
    yield None, None


def _checkpoint_entries(folder: Path) -> list[Path]:
    """Everything in ``folder`` named like a checkpoint, oldest first: the folders, and a file
    in the place of one (damaged; re-saving that epoch replaces it)."""
    name = checkpoints.NAME
    found = [p for p in folder.iterdir() if name.match(p.name)] if folder.is_dir() else []
    return sorted(found, key=lambda p: int(name.match(p.name).group(1)))


def _logged_steps(run_dir: str | os.PathLike) -> dict[int, Any] | None:
    """``{epoch: step}`` of ``metrics.jsonl``'s epoch records; None without any (no log, an
    unreadable one: nothing to cross-check against)."""
    try:
        records = [r for r in read_metrics(run_dir, warn=None) if "epoch" in r]
    except (RunError, OSError):
        return None
    return {r["epoch"]: r.get("step") for r in records} or None


def _claim_problem(checkpoint: Path, files: Any, logged: dict[int, Any] | None) -> str | None:
    """What the checkpoint's ``state.json`` claims that ``metrics.jsonl`` contradicts, or None."""
    if logged is None:
        return None
    state = checkpoints.read_state(checkpoint, files)
    epoch, step = state["epoch"], state.get("step")
    if epoch not in logged:
        last = max((e for e in logged if isinstance(e, int)), default=0)
        return f"state.json claims epoch {epoch}, which {METRICS} never logged (last: {last})"
    if step is not None and logged[epoch] is not None and logged[epoch] != step:
        return (f"state.json claims step {step} at epoch {epoch}, {METRICS} logged step "
                f"{logged[epoch]}")
    return None
