"""Ctrl-C (SIGINT) and SIGTERM during training: one path for both signals.

Within :func:`stop_on_signals` either signal raises :class:`~augintae_tf.errors.Terminated`
at once, except inside :func:`deferred` (the fit loop, a checkpoint being saved after a stop),
where the handler only records it. The fit loop's ``StopOnSignal`` callback
(:mod:`augintae_tf.training.callbacks`) acts on a recorded signal between batches: it finishes
the current epoch when that takes at most :data:`FINISH_S` more seconds (the epoch is then
checkpointed like any other), else it stops at once and the ``Checkpointer`` saves the last
finished epoch (kept in memory when epochs are long). Further signals while finishing or saving
are recorded and dropped: a save is never cut short (it would be safe, as every checkpoint is
written to a temporary folder and renamed, but the epoch would be lost; SIGKILL still ends the
process at once).

TensorFlow-free: the CLI installs the handlers before TensorFlow is imported, so Ctrl-C during
start-up exits 130 too, instead of click's ``Aborted!`` and 1.
"""
from __future__ import annotations

import contextlib
import shlex
import signal
import threading
from pathlib import Path

from augintae_tf.errors import Terminated

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# A signal with at most this many seconds of the current epoch left finishes that epoch (and
# checkpoints it); with more left, training stops at once and the last finished epoch is saved.
FINISH_S = 10.0


class _State:
    """The process's signal state (signal handlers are process-wide)."""

    def __init__(self):
        self.deferring = 0  # > 0: inside deferred()
        self.pending: int | None = None  # the first signal recorded and not acted on


STATE = _State()


def _handler(signum, frame):
    if STATE.deferring:
        if STATE.pending is None:
            STATE.pending = signum
        return
    raise Terminated(signum)


@contextlib.contextmanager
def stop_on_signals():
    """Within: SIGINT and SIGTERM raise Terminated (recorded instead inside :func:`deferred`);
    the previous handlers come back on exit. Only the main thread can set signal handlers:
    elsewhere (training from a worker thread) this changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def deferred():
    """Within: a signal is recorded (:func:`pending`), not raised."""
    STATE.deferring += 1
    try:
        yield
    finally:
        STATE.deferring -= 1


def pending() -> int | None:
    """The recorded signal not acted on yet, or None."""
    return STATE.pending


def take() -> Terminated:
    """The :class:`Terminated` for the recorded signal (cleared); raise it."""
    signum, STATE.pending = STATE.pending or signal.SIGTERM, None
    return Terminated(int(signum))


def drop_pending() -> None:
    """Forget a recorded signal (one that arrived while a stop was already being saved)."""
    STATE.pending = None


def raise_pending() -> None:
    """Raise :class:`Terminated` for a recorded signal, if there is one."""
    if STATE.pending is not None:
        raise take()


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def exit_code(signum: int) -> int:
    """What the shell reports for a process ended by ``signum``: 128 + its number (SIGINT 130,
    SIGTERM 143)."""
    return 128 + int(signum)


def report(exc: Terminated) -> tuple[str, int]:
    """(the line a stopped ``train`` prints, its exit code) for ``exc`` as training raised it."""
    from augintae_tf.errors import RunError
    from augintae_tf.run import checkpoints
    from augintae_tf.run.directory import choose_checkpoint

    last, size = None, None
    if exc.run_dir is not None and Path(exc.run_dir).is_dir():
        try:
            last = choose_checkpoint(exc.run_dir, warn=None)
        except (RunError, OSError):
            pass
    if last is not None:
        size = checkpoints.megabytes(sum(checkpoints.sizes(last).values()))
    return stopped_line(exc.signum, exc.run_dir, last, exc.epochs, size), exit_code(exc.signum)


def stopped_line(signum: int, run_dir: str | Path | None, checkpoint: Path | None,
                 epochs: int | None, size_mb: float | None = None) -> str:
    """The one line a stopped ``train`` prints: where the run is and the command that resumes it
    (or that nothing was kept)."""
    name = signal_name(signum)
    if run_dir is None:
        return f"stopped by {name}; run the same command again"
    if checkpoint is None:
        return (f"stopped by {name} before the first checkpoint: nothing to resume; run the "
                "same command again")
    from augintae_tf.run.checkpoints import epoch_of

    of = f" of {epochs}" if epochs else ""
    size = f", {size_mb:.1f} MB" if size_mb is not None else ""
    return (f"stopped by {name} after epoch {epoch_of(checkpoint)}{of}: the last checkpoint is "
            f"{checkpoint}{size}; continue with `augintae-tf train --resume --run-dir "
            f"{shlex.quote(str(run_dir))}`")
