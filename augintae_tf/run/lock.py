"""The run directory's lock (``RUN/.lock``), TensorFlow-free: the CLI checks it before importing
TensorFlow."""
from __future__ import annotations

import errno
import fcntl
import os

from augintae_tf.atomic import open_nofollow, read_only_error
from augintae_tf.errors import RunError
from augintae_tf.run.layout import RunLayout


class RunLock:
    """An exclusive ``fcntl.flock`` on ``RUN/.lock``, which holds the owner's PID.

    The kernel drops the lock when the process dies (even by kill -9), so it is never stale; a
    second process fails at once with the holder's PID.
    """

    def __init__(self, run_dir: str | os.PathLike):
        self.path = RunLayout(run_dir).lock
        self.fd: int | None = None

    def acquire(self) -> "RunLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = open_nofollow(self.path, os.O_RDWR | os.O_CREAT)  # a linked .lock: refused
        except OSError as exc:
            problem = read_only_error(exc, self.path, "; copy the run to a writable place to "
                                      "continue it")
            if problem:
                raise problem from None
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise RunError(f"run directory {self.path.parent} is in use by process {holder} "
                           f"(it holds {self.path}); wait for it to finish or stop it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    @staticmethod
    def check_free(run_dir: str | os.PathLike) -> None:
        """RunError at once when another process holds ``run_dir``'s lock; creates and writes
        nothing (the CLI calls it before importing TensorFlow, training takes the lock later)."""
        path = RunLayout(run_dir).lock
        try:
            fd = open_nofollow(path, os.O_RDONLY)
        except OSError:
            return  # no lock file yet (or unreadable): training's own acquire reports it
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise RunError(f"run directory {path.parent} is in use by process {holder} "
                           f"(it holds {path}); wait for it to finish or stop it") from None
        finally:
            os.close(fd)

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
