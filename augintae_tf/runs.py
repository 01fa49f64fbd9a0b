"""The run directory's one owner: creating/finding a run, its lock, its config, its metrics log,
choosing an intact checkpoint, and loading a run for inference (the names of its files:
augintae_tf.layout; its lock: augintae_tf.runlock, re-exported here).

Importing this module does not import TensorFlow (the CLI checks options before that import).
"""
from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from augintae_tf.atomic import (is_no_space, no_space_error, open_nofollow, refuse_link,
                               write_text)
from augintae_tf.config.files import read_yaml
from augintae_tf.config.loading import from_dict
from augintae_tf.config.model_table import MODELS, section_class
from augintae_tf.config.schema import RESUMABLE_CHANGES, Config, config_diff, validate
from augintae_tf.config.sections import INFERENCE_FIELDS
from augintae_tf.errors import ConfigError, RunError
from augintae_tf.layout import CONFIG, METRICS, RunLayout
from augintae_tf.runlock import RunLock  # noqa: F401  (re-exported: runs.RunLock)

RUN_NAME = re.compile(r"^(\d{5})-")
ROTATION_RETRIES = 3  # pinned_checkpoint: lists again when a training run rotated every candidate
Warn = Callable[[str], Any]


def warn_stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


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


def remove_stale_temporaries(run_dir: str | os.PathLike, echo: Warn = warn_stderr) -> list[Path]:
    """Remove what a killed writer left (``checkpoints/.tmp-epoch-*`` and ``.old-epoch-*``,
    ``.*.tmp*`` files of atomic writes); call it holding the run's lock, when no writer of this
    run can be alive."""
    from augintae_tf.checkpoints import stale_temporaries

    layout = RunLayout(run_dir)
    stale = stale_temporaries(layout.checkpoints)
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
    if not isinstance(model, dict) or model.get("name") not in MODELS:
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


# ---------------------------------------------------------------- metrics.jsonl
def metrics_path(run_dir_or_file: str | os.PathLike) -> Path:
    path = Path(run_dir_or_file)
    return RunLayout(path).metrics if path.is_dir() else path


def read_metrics(run_dir_or_file: str | os.PathLike, warn: Warn | None = warn_stderr) -> list[dict]:
    """Every record of ``metrics.jsonl``. A truncated last line (an interrupted append) is dropped
    with a warning; any other malformed line is a RunError naming the file and line number."""
    path = metrics_path(run_dir_or_file)
    if not path.is_file():
        return []
    *lines, tail = path.read_bytes().split(b"\n")
    records = []
    for number, line in enumerate(lines + [tail], 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            if number == len(lines) + 1:  # no newline after it: the write never finished
                if warn:
                    warn(f"{path}: dropped the truncated last line {number} "
                         f"({line[:40].decode(errors='replace')!r}...)")
                break
            raise RunError(f"{path}, line {number}: not a JSON record ({exc}); "
                           "fix or delete that line") from None
        records.append(record)
    return records


def append_metrics(run_dir_or_file: str | os.PathLike, record: dict,
                   warn: Warn | None = warn_stderr) -> None:
    """Append one record as one line with a single ``write`` on an ``O_APPEND`` descriptor,
    fsynced. A partial last line left by a killed writer is cut first (it would glue onto this
    record); a failed write is cut back the same way. Appenders hold an ``flock`` on the file
    meanwhile: a reader can see another writer's record half-copied into the page cache, and
    without the lock would cut it as "partial" (measured: 4 of 900 records lost, 3 writers)."""
    path = metrics_path(run_dir_or_file)
    data = (json.dumps(record, default=float) + "\n").encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = open_nofollow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)  # never through a link
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released by os.close below, also on any error
        size = os.fstat(fd).st_size
        if size and _last_byte(path, size) != b"\n":
            with open(path, "rb") as handle:
                keep = handle.read().rfind(b"\n") + 1
            os.ftruncate(fd, keep)
            if warn:
                warn(f"{path}: dropped a truncated last line ({size - keep} bytes) before appending")
            size = keep
        try:
            if os.write(fd, data) != len(data):
                raise OSError(errno.ENOSPC, "short write")
            os.fsync(fd)
        except OSError as exc:
            os.ftruncate(fd, size)
            if is_no_space(exc):
                raise no_space_error("a metrics record", path) from None
            raise
    finally:
        os.close(fd)


def _last_byte(path: Path, size: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(size - 1)
        return handle.read(1)


def truncate_metrics(run_dir: str | os.PathLike, epoch: int, warn: Warn | None = warn_stderr
                     ) -> list[dict]:
    """Keep the records of epochs up to ``epoch`` (and evaluation records), rewritten atomically:
    what resuming from the checkpoint of ``epoch`` needs. Returns the kept records."""
    path = RunLayout(run_dir).metrics
    refuse_link(path)
    records = read_metrics(path, warn)
    kept = [r for r in records if r.get("epoch", 0) <= epoch]
    if path.exists():
        write_text(path, "".join(json.dumps(r, default=float) + "\n" for r in kept), "metrics")
    return kept


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
    (:class:`~augintae_tf.checkpoints.Pinned`), verified as pinned: a training run rotating it
    away meanwhile cannot change or take what is then restored. ``(None, None)`` without one.

    A checkpoint of the run is intact when its manifest holds, its ``state.json`` claims the
    epoch it is named after, and ``metrics.jsonl`` (where it logs epochs) logged that epoch at
    the same step: the log is appended before each checkpoint, so a checkpoint claiming more is
    crafted or damaged. A symbolic link among the checkpoints is refused, never followed.
    """
    from augintae_tf.checkpoints import linked_checkpoints, pin, verify

    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        with pin(checkpoint) as files:
            problem = verify(checkpoint, files) if checkpoint.is_dir() else "it is not a directory"
            if problem:
                raise RunError(f"checkpoint {checkpoint} is damaged: {problem}")
            yield checkpoint, files
        return
    folder = RunLayout(run_dir).checkpoints
    refuse_link(folder, "directory")
    for link in linked_checkpoints(folder):
        refuse_link(link, "directory")
    logged = _logged_steps(run_dir)
    for _ in range(ROTATION_RETRIES + 1):
        damaged, vanished = [], False
        for candidate in reversed(_checkpoint_entries(folder)):
            with pin(candidate) as files:
                problem = verify(candidate, files) or _claim_problem(candidate, files, logged)
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
    from augintae_tf.checkpoints import NAME

    found = [p for p in folder.iterdir() if NAME.match(p.name)] if folder.is_dir() else []
    return sorted(found, key=lambda p: int(NAME.match(p.name).group(1)))


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
    from augintae_tf.checkpoints import read_state

    if logged is None:
        return None
    state = read_state(checkpoint, files)
    epoch, step = state["epoch"], state.get("step")
    if epoch not in logged:
        last = max((e for e in logged if isinstance(e, int)), default=0)
        return f"state.json claims epoch {epoch}, which {METRICS} never logged (last: {last})"
    if step is not None and logged[epoch] is not None and logged[epoch] != step:
        return (f"state.json claims step {step} at epoch {epoch}, {METRICS} logged step "
                f"{logged[epoch]}")
    return None


def restore_checkpoint(run_dir: str | os.PathLike, cfg: Config, checkpoint: Path, model: Any,
                       with_optimizers: bool, files: Any = None) -> dict[str, Any]:
    """The one way a run's model gets its weights back (resuming training, loading for
    inference): refuse a checkpoint made for another model than ``cfg``'s, then restore it
    (``model`` must be built, with its optimizers when ``with_optimizers``; ``files``: the
    checkpoint's pinned files, verified by :func:`pinned_checkpoint`). Returns its state."""
    from augintae_tf import checkpoints

    if files is None:
        with checkpoints.pin(checkpoint) as files:
            return restore_checkpoint(run_dir, cfg, checkpoint, model, with_optimizers, files)
    state = checkpoints.read_state(checkpoint, files)
    check_checkpoint_config(run_dir, cfg, checkpoint, state)
    checkpoints.restore(checkpoint, model, with_optimizers=with_optimizers, verified=True,
                        files=files)
    return state


# ---------------------------------------------------------------- a run for inference
@dataclass
class Run:
    """A trained run loaded for inference: its config, directory and model (weights restored).
    The methods check the images against the run's size, then call augintae_tf.generation."""

    directory: Path
    config: Config
    model: Any
    checkpoint: Path

    @property
    def layout(self) -> RunLayout:
        return RunLayout(self.directory)

    def generate(self, seed_images: np.ndarray, num: int = 64, seed: int = 0,
                 sampler: str | None = None, scale: float | None = None,
                 warn: Warn | None = warn_stderr) -> np.ndarray:
        """``num`` images of the seeds' class (``generation.generate``: ``sampler``, ``scale``);
        ``warn`` gets one line when the seeds look outside the training domain
        (:meth:`seed_domain`)."""
        from augintae_tf import generation

        seed_images = _check_images(seed_images, self.config, "seed images")
        domain = self.seed_domain(seed_images)
        if warn and domain is not None and domain.outside:
            warn(domain.line())
        note = self.model.sampler_note() if sampler is None and self.model.samplers else None
        if warn and note:
            warn(note)
        return generation.generate(self.model, seed_images, num, seed, sampler=sampler, scale=scale)

    def seed_domain(self, seed_images: np.ndarray):
        """How well the model reconstructs the seeds against held-out training-domain images
        (:class:`~augintae_tf.models.latent_stats.SeedDomain`); None without latent statistics."""
        from augintae_tf import generation

        return generation.seed_domain(self.model, _check_images(seed_images, self.config,
                                                                "seed images"))

    def sample(self, num: int = 64, seed: int = 0, batch_size: int = 256) -> np.ndarray:
        """``num`` unconditional samples (capability ``sample``), deterministic for ``seed``:
        the same images as the exported ``sample(num, seed)``."""
        from augintae_tf import generation

        return generation.sample(self.model, num, seed, batch_size)

    def interpolate(self, a: np.ndarray, b: np.ndarray, steps: int = 8) -> np.ndarray:
        from augintae_tf import generation

        a, b = _check_images(np.stack([a, b]), self.config, "interpolation endpoints")
        return generation.interpolation_path(self.model, a, b, steps)

    def reconstruct(self, images: np.ndarray, batch_size: int = 128) -> np.ndarray:
        """Each image through the model (``generation.reconstruct``: encoded and decoded, or
        inverted and regenerated), after checking the images fit this run."""
        from augintae_tf import generation

        return generation.reconstruct(self.model, _check_images(images, self.config, "images"),
                                      batch_size)


def _check_images(images: np.ndarray, cfg: Config, what: str) -> np.ndarray:
    images = np.asarray(images, np.float32)
    expected = (cfg.data.image_size, cfg.data.image_size, cfg.data.channels)
    if images.ndim != 4 or images.shape[1:] != expected:
        raise RunError(f"{what} must have shape [N, {', '.join(map(str, expected))}] for this run, "
                       f"got {list(images.shape)}")
    return images


def load_run(run_dir: str | os.PathLike, checkpoint: str | os.PathLike | None = None,
             warn: Warn | None = warn_stderr, stages: bool = True) -> Run:
    """Load a run directory (newest intact checkpoint unless ``checkpoint`` is given) for inference;
    ``stages=False`` leaves out what post-training stages saved (a stage about to rerun)."""
    from augintae_tf.models import build_model, precision

    run_dir = Path(run_dir)
    cfg = read_config(run_dir)
    # Pinned: once chosen, a training run rotating checkpoints cannot take its files away.
    with pinned_checkpoint(run_dir, checkpoint, warn) as (ckpt, files):
        if ckpt is None:
            raise RunError(f"no checkpoint found at {RunLayout(run_dir).checkpoints}; train the run "
                           "first (or finish it with `augintae-tf train --resume --run-dir RUN`)")
        model = build_model(cfg, dtype=precision.INFERENCE)  # whatever it trained in
        model.build_for_inference()
        restore_checkpoint(run_dir, cfg, ckpt, model, with_optimizers=False, files=files)
        from augintae_tf.models.latent_stats import weights_digest

        model.checkpoint_digest = weights_digest(ckpt, files)  # what load_stages matches
    model.checkpoint_path = ckpt  # the weights' origin (the latent-stats stage records it)
    if stages:
        # e.g. wgan-gp's inversion network, the latent statistics (each its own files)
        model.load_stages(run_dir, warn, checkpoint=ckpt)
    return Run(run_dir, cfg, model, ckpt)
