"""A run's ``metrics.jsonl``: one JSON record per line (an epoch's losses and timings, an
evaluation's figures), read, appended and cut back, TensorFlow-free."""
from __future__ import annotations

import errno
import fcntl
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

from augintae_tf.atomic import is_no_space, no_space_error, open_nofollow, refuse_link, write_text
from augintae_tf.errors import RunError
from augintae_tf.run.layout import RunLayout

Warn = Callable[[str], Any]


def warn_stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


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
