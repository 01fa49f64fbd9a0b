"""Keras callbacks that make a run directory: metrics log, sample grids, checkpoints, NaN guard."""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np

from augintae_tf.atomic import atomic_path, safe_dir
from augintae_tf.capabilities import Capability
from augintae_tf.errors import TrainingError
from augintae_tf.images import save_labelled_grid
from augintae_tf.inference.generation import interpolation_path, pixel_fade
from augintae_tf.run import checkpoints, interrupt, model_state
from augintae_tf.run.layout import RunLayout
from augintae_tf.run.metrics_log import append_metrics


def current_lr(optimizer: keras.optimizers.Optimizer) -> float:
    """The learning rate the optimizer applies at its current iteration (schedules resolved)."""
    lr = optimizer.learning_rate
    value = lr(optimizer.iterations) if callable(lr) else lr
    # A constant lr is a variable, under MirroredStrategy a MirroredVariable that float() refuses.
    return float(keras.ops.convert_to_numpy(value))


LOG_LINES = 25  # about this many `epoch N:` lines per run, plus the first and the last
LINE_S = 60.0  # and a line at least this often (mid-epoch too) when epochs are long
SAMPLE_GRIDS = 10  # about this many sample grids per run, plus the first and the last epoch's


def every(epochs: int, count: int) -> int:
    """The epoch interval that gives about ``count`` of ``epochs`` (at least 1)."""
    return max(1, math.ceil(epochs / count))


def on_cadence(epoch: int, epochs: int, count: int, stopping: bool = False) -> bool:
    """Whether finished (1-based) ``epoch`` of ``epochs`` is one of about ``count`` spread over
    the run: the first, every ``ceil(epochs / count)``-th, and the last (or the one a run
    ``stopping`` early ends with)."""
    return epoch == 1 or epoch >= epochs or stopping or epoch % every(epochs, count) == 0


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``2 h 05 min``."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


class MetricsLog(keras.callbacks.Callback):
    """One JSON line per epoch in ``metrics.jsonl``: losses, lr, images/s, elapsed seconds.

    ``echo`` prints the same numbers as ``epoch N: loss=...`` lines, with the epochs left and an
    ETA, sized to the run (the same on a terminal as in a pipe): the first epoch of this process,
    about :data:`LOG_LINES` spread over the ``epochs`` of the run, the last, and whenever
    :data:`LINE_S` seconds passed without a line, also mid-epoch (``epoch N: step b/steps``).
    The ETA is the batches left (``total_steps`` in all, the step budget's or epochs x steps)
    at the pace of this process's batches since its first epoch (which includes tracing).
    """

    def __init__(self, path: Path, batch_size: int, steps_per_epoch: int, elapsed_before: float = 0.0,
                 echo: Callable[[str], Any] | None = None, epochs: int = 1,
                 total_steps: int | None = None):
        super().__init__()
        self.path, self.batch_size, self.steps = Path(path), batch_size, steps_per_epoch
        self.elapsed_before, self.echo, self.epochs = elapsed_before, echo, epochs
        self.total_steps = total_steps or epochs * steps_per_epoch
        self.first_epoch: int | None = None

    def on_train_begin(self, logs=None):
        self.train_start = self.last_line = time.perf_counter()
        self.pace_from: tuple[float, int] | None = None  # (time, batches done) after the 1st epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start, self.batches, self.epoch = time.perf_counter(), 0, epoch
        if self.first_epoch is None:
            self.first_epoch = epoch
        elif self.pace_from is None:
            self.pace_from = (self.epoch_start, epoch * self.steps)

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1  # the last epoch of a step budget is shorter (StepBudget)
        if self.echo and time.perf_counter() - self.last_line >= LINE_S:
            self.say(f"epoch {self.epoch + 1}: step {self.batches}/{self.steps}"
                     f"{self.eta(self.epoch * self.steps + self.batches)}")

    def eta(self, done: int) -> str:
        """``; ETA 12 min`` for ``done`` of :attr:`total_steps` batches ('' before a pace)."""
        if self.pace_from is None or done <= self.pace_from[1]:
            return ""
        pace = (time.perf_counter() - self.pace_from[0]) / (done - self.pace_from[1])
        return f"; ETA {duration(pace * max(self.total_steps - done, 0))}"

    def say(self, line: str) -> None:
        self.echo(line)
        self.last_line = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.epoch_start
        record = {"epoch": epoch + 1, "step": int(self.model.optimizer.iterations.numpy()),
                  **{k: float(v) for k, v in (logs or {}).items()},
                  "lr": current_lr(self.model.optimizer),
                  "images_per_s": self.batch_size * self.batches / max(seconds, 1e-9),
                  "epoch_s": seconds,
                  "elapsed_s": self.elapsed_before + time.perf_counter() - self.train_start}
        append_metrics(self.path, record)
        stopping = self.model.stop_training
        if self.echo and (epoch == self.first_epoch or on_cadence(epoch + 1, self.epochs, LOG_LINES,
                                                                  stopping)
                          or time.perf_counter() - self.last_line >= LINE_S):
            self.say(self.line(epoch, record, seconds, stopping))

    def line(self, epoch: int, record: dict[str, Any], seconds: float, stopping: bool) -> str:
        """``epoch N: loss=... lr=... img/s (s); K epochs left; ETA ...``."""
        losses = " ".join(f"{k}={v:.5g}" for k, v in record.items() if k.endswith(("loss", "_k")))
        left = 0 if stopping else self.epochs - epoch - 1
        return (f"epoch {epoch + 1}: {losses} lr={record['lr']:.2g} "
                f"{record['images_per_s']:.0f} img/s ({seconds:.1f} s)"
                + (f"; {left} epoch{'s' * (left != 1)} left{self.eta((epoch + 1) * self.steps)}"
                   if left > 0 else ""))


class StepBudget(keras.callbacks.Callback):
    """Ends training after exactly ``total`` batches (``train.steps``).  ``fit`` runs whole
    epochs of ``steps`` batches and the budget need not be a multiple of that, so the last
    epoch stops early; its end-of-epoch callbacks (metrics line, checkpoint, grids) still run.
    Every epoch before the last is whole, so a resumed run starting at epoch ``e`` has done
    ``e * steps`` batches."""

    def __init__(self, total: int, steps: int):
        super().__init__()
        self.total, self.steps, self.done_before = total, steps, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.done_before = epoch * self.steps

    def on_train_batch_end(self, batch, logs=None):
        if self.done_before + batch + 1 >= self.total:
            self.model.stop_training = True


class SampleGrids(keras.callbacks.Callback):
    """``samples/epoch-NNN.png`` on a fixed batch: originals, reconstructions and slerp paths
    between seed pairs, for the training domain and (where the dataset has one) novel classes;
    every row is named in a left margin ("train: originals", "novel pair 1: slerp", ...)."""

    def __init__(self, directory: Path, batches: dict[str, np.ndarray], steps: int = 8,
                 root: Path | None = None, epochs: int | None = None):
        super().__init__()
        self.directory, self.batches, self.steps = Path(directory), batches, steps
        self.epochs = epochs  # grids at about SAMPLE_GRIDS epochs of these (None: every epoch)
        self.root = Path(root) if root is not None else self.directory.parent  # the run

    def rows(self) -> list[tuple[str, np.ndarray]]:
        """(label, row) pairs of the epoch's grid."""
        if not self.model.has(Capability.LATENT):  # FastGAN, wgan-gp: fixed-noise samples; DAGAN: few-shot
            return self.sample_rows() if self.model.has(Capability.SAMPLE) else self.fewshot_rows()
        rows = []
        for name, images in self.batches.items():
            rows += [(f"{name}: originals", images),
                     (f"{name}: reconstructions", self.model(images, training=False).numpy())]
            for k, (a, b) in enumerate(zip(images[0:4:2], images[1:4:2]), start=1):  # (0, 1), (2, 3)
                rows += [(f"{name} pair {k}: pixel fade", pixel_fade(a, b, self.steps)),
                         (f"{name} pair {k}: slerp",
                          interpolation_path(self.model, a, b, self.steps))]
        return rows

    def fewshot_rows(self) -> list[tuple[str, np.ndarray]]:
        """For models with few-shot generation but no latent: per batch the images, then for the
        pairs (0, 1) and (2, 3) a row generated from the pair as seeds (fixed seed 0)."""
        rows = []
        for name, images in self.batches.items():
            rows.append((f"{name}: originals", images))
            rows += [(f"{name} pair {i // 2 + 1}: few-shot",
                      self.model.fewshot(images[i:i + 2], self.steps, 0).numpy()) for i in (0, 2)
                     if i + 2 <= len(images)]
        return rows

    def sample_rows(self) -> list[tuple[str, np.ndarray]]:
        """For a model without a latent (e.g. FastGAN): 8 rows of 8 samples from fixed noise
        (the same seed every epoch), so successive grids show the same noise as it trains."""
        images = self.model.sample(64, SAMPLE_SEED).numpy()
        return [(f"samples {i + 1}-{i + 8}", images[i:i + 8]) for i in range(0, 64, 8)]

    def on_train_begin(self, logs=None):
        self.progress = read_progress(self.directory)

    def on_epoch_begin(self, epoch, logs=None):
        safe_dir(self.directory, self.root)  # the grids' folder: made here, never through a link

    def on_epoch_end(self, epoch, logs=None):
        if self.epochs is not None and not on_cadence(epoch + 1, self.epochs, SAMPLE_GRIDS,
                                                      self.model.stop_training):
            return
        labels, rows = zip(*self.rows())
        save_labelled_grid(RunLayout(self.root).sample_grid(epoch + 1), rows, labels)
        if not self.model.has(Capability.LATENT) and self.model.has(Capability.SAMPLE):
            # progress.png: one row per epoch, the first 8 fixed-noise samples of each; the rows
            # are kept in progress.npz too, so a resumed run keeps the earlier epochs' rows.
            self.progress = {e: r for e, r in self.progress.items() if e <= epoch}
            self.progress[epoch + 1] = rows[0]
            save_progress(self.directory, self.progress)
            epochs = sorted(self.progress)
            save_labelled_grid(self.directory / "progress.png",
                               [self.progress[e] for e in epochs], [f"epoch {e}" for e in epochs])


SAMPLE_SEED = 1234  # the fixed noise of the sample grids
PROGRESS_FILE = "progress.npz"


def save_progress(directory: Path, rows: dict[int, np.ndarray]) -> Path:
    path = Path(directory) / PROGRESS_FILE
    with atomic_path(path, what="the progress rows") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **{f"epoch_{e:05d}": r for e, r in rows.items()})
    return path


def read_progress(directory: Path) -> dict[int, np.ndarray]:
    """``{epoch: row}`` saved by earlier epochs (empty if none or unreadable)."""
    try:
        with np.load(Path(directory) / PROGRESS_FILE) as saved:
            return {int(k.split("_")[1]): saved[k] for k in saved.files}
    except (OSError, ValueError, KeyError):
        return {}


SNAP_SECONDS = 300.0  # auto cadence: a checkpoint once this long passed since the previous one


class Checkpointer(keras.callbacks.Callback):
    """Saves atomic checkpoints: after the first epoch (a full disk shows at once), after the
    last one, and between them every ``snap`` epochs, or with ``snap=None`` after the first
    epoch that ends ``interval`` seconds after the previous checkpoint.  A run that stops early
    (``stop_training``) saves its last finished epoch in ``on_train_end``; one stopped by a
    signal, in :meth:`save_stopped`.  A NaN or infinite loss stops the run instead, leaving the
    last good checkpoint as the newest one.

    An epoch it does not checkpoint that took longer than ``finish_s / 2`` seconds is kept in
    memory (:func:`~augintae_tf.run.model_state.snapshot`): a signal in the next epoch, too long
    to finish, saves that one. Shorter epochs are finished instead (``StopOnSignal``), so the
    copy (about a second for 200 MB of weights and optimizer state on 2 cores) is never paid
    on them."""

    def __init__(self, directory: Path, keep: int, state: Callable[[int], dict[str, Any]],
                 snap: int | None = 1, epochs: int | None = None,
                 interval: float = SNAP_SECONDS, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.directory, self.keep, self.state = Path(directory), keep, state
        self.snap, self.epochs, self.interval, self.clock = snap, epochs, interval, clock
        self.unsaved: int | None = None  # a finished epoch with no checkpoint yet
        self.moved = False  # whether a batch trained since ``unsaved`` ended
        self.kept: tuple[Callable[[], None], dict[str, Any]] | None = None  # ``unsaved`` in memory
        self.finish_s, self.saved, self.epoch_start = interrupt.FINISH_S, [], None

    def on_train_begin(self, logs=None):
        self.last_save = self.clock()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.moved = True

    def due(self, epoch: int) -> bool:
        """Whether finished epoch ``epoch`` (1-based) gets a checkpoint."""
        if epoch == 1 or epoch == self.epochs:
            return True
        if self.snap is not None:
            return epoch % self.snap == 0
        return self.clock() - self.last_save >= self.interval

    def save(self, epoch: int, state: dict[str, Any] | None = None) -> None:
        path = model_state.save(self.directory, self.model, epoch,
                                self.state(epoch) if state is None else state, keep=self.keep)
        self.last_save, self.unsaved, self.kept = self.clock(), None, None
        self.saved.append(path)

    def save_stopped(self) -> Path | None:
        """After a signal stopped training: checkpoint the last finished epoch if it has none
        (the model as it is when no batch trained since, else the copy kept in memory); return
        the checkpoint, or None when that epoch was lost (a short epoch stopped mid-way)."""
        if self.unsaved is None:
            return None
        if not self.moved:
            self.save(self.unsaved)
        elif self.kept is not None:
            put_back, state = self.kept
            put_back()
            self.save(self.unsaved, state)
        else:
            return None
        return self.saved[-1]

    def on_epoch_end(self, epoch, logs=None):
        bad = [k for k, v in (logs or {}).items() if not math.isfinite(float(v))]
        if bad:
            self.model.stop_training = True
            self.unsaved = None  # never checkpoint the NaN weights
            last = checkpoints.latest_checkpoint(self.directory)
            raise TrainingError(
                f"{', '.join(bad)} became NaN/inf in epoch {epoch + 1}; training stopped. The last good "
                f"checkpoint is {last or 'none (no epoch finished)'}; lower --lr and resume or restart")
        if self.due(epoch + 1):
            self.save(epoch + 1)
            return
        self.unsaved, self.moved = epoch + 1, False
        long = (self.epoch_start is not None
                and time.perf_counter() - self.epoch_start > self.finish_s / 2)
        self.kept = (model_state.snapshot(self.model), self.state(epoch + 1)) if long else None

    def on_train_end(self, logs=None):
        if self.unsaved is not None:  # stopped before the planned last epoch
            self.save(self.unsaved)


class StopOnSignal(keras.callbacks.Callback):
    """Acts on a SIGINT or SIGTERM recorded during ``fit``
    (:func:`augintae_tf.run.interrupt.deferred`): at the next batch end, when the epoch's
    remaining batches take at most ``FINISH_S`` seconds at this epoch's pace, it finishes the
    epoch (one line says so) and raises Terminated at its end, after the other callbacks logged,
    checkpointed and drew it; else it raises at once (the Checkpointer then saves the last
    finished epoch). A signal during an epoch's end callbacks stops at the end of that epoch.
    Place it last."""

    def __init__(self, steps: int, echo: Callable[[str], Any] | None = print):
        super().__init__()
        self.steps, self.echo, self.finishing = steps, echo, False

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.start, self.batches = epoch, time.perf_counter(), 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        signum = interrupt.pending()
        if signum is None or self.finishing:
            return
        pace = (time.perf_counter() - self.start) / self.batches
        left = max(self.steps - self.batches, 0) * pace
        if left > interrupt.FINISH_S:
            raise interrupt.take()
        self.finishing = True
        if self.echo and left > 0:
            self.echo(f"{interrupt.signal_name(signum)}: finishing epoch {self.epoch + 1} "
                      f"(about {left:.0f} s) to checkpoint it")

    def on_epoch_end(self, epoch, logs=None):
        interrupt.raise_pending()
