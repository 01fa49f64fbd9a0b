"""How ``evaluate`` keeps and reports its work: ``OUT/metrics.json`` rewritten (atomically) after
every metric, reused by a rerun with the same options, and one overall progress line with ETA.

Interrupting an evaluation keeps every metric that finished: ``metrics.json`` holds them with
``"complete": false``.  A rerun reads it back and skips each metric listed in its
``metrics_done`` when the record's ``options`` (:func:`fingerprint`: the resolved options, the
checkpoint, the novel and held-out sources) equal the new ones; ``force`` recomputes everything.

The progress line weighs each metric by its expected cost (``Metric.cost``, in forward passes
of one image through the run's model) and turns the seconds spent on the done share into an
ETA for the rest, so one long metric (the noise curve) does not make the count of metrics lie.
"""
from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from augintae_tf import atomic
from augintae_tf.run.metrics_log import append_metrics


def fingerprint(run, data, options) -> dict:
    """What a metric's values depend on, as JSON: two evaluations with equal fingerprints
    compute the same numbers."""
    opts = {k: (str(v) if v is not None and not isinstance(v, (int, float, str)) else v)
            for k, v in options.as_dict().items() if k != "protocol"}
    return json.loads(json.dumps({
        **opts, "checkpoint": str(Path(run.checkpoint).resolve()), "model": run.config.model.name,
        "run_sampler": [getattr(run.config.model, k, None) for k in ("sampler", "sampler_scale")],
        "novel_source": list(data.source("novel")),
        "held_out_source": list(data.source("held_out"))}))


def header(data, names: Sequence[str], o) -> Callable[[], dict]:
    """The record's fixed fields, as a function (``novel``: once its images are loaded)."""
    run = data.run

    def fields() -> dict:
        novel = None
        if "novel" in data.arrays_loaded():
            images, labels = data.novel
            novel = {"dataset": data.novel_dataset, "split": data.novel_split,
                     "images": int(len(images)), "classes": int(len(np.unique(labels)))}
        return {"run": str(run.directory), "model": run.config.model.name,
                "checkpoint": run.checkpoint.name, "protocol": o.protocol,
                "metrics_requested": list(names), "shots": o.shots, "num_images": o.num_images,
                "noise_trials": o.noise_trials, "novel": novel,
                "test": dict(zip(("dataset", "split"), data.source("held_out")))}

    return fields


def append(run_dir: Path, record: dict) -> None:
    """The record's line in ``RUN/metrics.jsonl`` (per-class quality values and the noise curve
    stay in ``metrics.json``: ~100 KB for 150 classes)."""
    summary = {k: v for k, v in record.items() if k not in ("noise", "options")}
    if "quality" in summary:
        summary["quality"] = {k: v for k, v in summary["quality"].items() if k != "per_class"}
    append_metrics(run_dir, {"eval": summary,
                             "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds")})


class RecordStore:
    """``OUT/metrics.json`` while an evaluation runs: what finished, written after each metric."""

    def __init__(self, path: Path, key: dict, force: bool = False):
        self.path, self.key = Path(path), key
        self.values: dict[str, Any] = {}
        self.done: dict[str, list[str]] = {}  # metric -> the keys it wrote
        previous = self._read() if not force else None
        if previous and previous.get("options") == key:
            done = previous.get("metrics_done") or {}
            self.reusable = {name: {k: previous[k] for k in keys if k in previous}
                             for name, keys in done.items()}
        else:
            self.reusable = {}

    def _read(self) -> dict | None:
        try:
            record = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None  # none yet, or unreadable: computed afresh and replaced
        return record if isinstance(record, dict) else None

    def reuse(self, name: str) -> dict | None:
        """The values an earlier evaluation with the same options computed for ``name``."""
        values = self.reusable.get(name)
        if values is not None:
            self.add(name, values)
        return values

    def add(self, name: str, values: dict) -> None:
        self.values.update(values)
        self.done[name] = sorted(values)

    def write(self, header: dict, timing: dict, complete: bool) -> dict:
        record = {**header, **self.values, "timing_s": timing, "options": self.key,
                  "metrics_done": self.done, "complete": complete}
        atomic.write_json(self.path, record)
        return record


class Progress:
    """``[##########----------]  48%  2/5 metrics  31 s, about 34 s left`` after each metric;
    on a terminal, also redrawn in place while a metric reports :meth:`step`."""

    WIDTH = 20

    def __init__(self, costs: dict[str, float], echo: Callable[[str], object],
                 live: bool | None = None, clock: Callable[[], float] = time.perf_counter):
        self.costs = {name: max(float(cost), 1e-9) for name, cost in costs.items()}
        self.total = sum(self.costs.values())
        self.echo, self.clock = echo, clock
        self.live = sys.stdout.isatty() if live is None else live
        self.start, self.done, self.finished, self.current = clock(), 0.0, 0, None
        self.spent = 0.0  # seconds on metrics that ran (reused ones cost nothing)
        self.skipped = 0.0  # cost of reused metrics
        self.drawn = False  # a live line is on the terminal

    def say(self, message: str) -> None:
        """Echo ``message`` on a line of its own (clearing a live progress line first)."""
        if self.drawn:
            sys.stdout.write("\r\033[K")
            self.drawn = False
        self.echo(message)

    def begin(self, name: str) -> None:
        self.current, self.began = name, self.clock()

    def skip(self, name: str) -> None:
        self.skipped += self.costs[name]
        self.done += self.costs[name]
        self.finished += 1

    def end(self, name: str) -> None:
        self.spent += self.clock() - self.began
        self.done += self.costs[name]
        self.finished += 1
        self.current = None
        self.say(self.line())

    def step(self, fraction: float) -> None:
        """Within the current metric: ``fraction`` of it is done (redrawn on a terminal only)."""
        if self.live and self.current is not None:
            sys.stdout.write("\r\033[K" + self.line(fraction * self.costs[self.current]))
            sys.stdout.flush()
            self.drawn = True

    def line(self, partial: float = 0.0) -> str:
        done = self.done + partial
        share = done / self.total if self.total else 1.0
        filled = int(round(share * self.WIDTH))
        elapsed = self.clock() - self.start
        ran = done - self.skipped  # the ETA rate comes from metrics that really ran
        if ran > 0 and done < self.total:
            spent = self.spent + (self.clock() - self.began if partial else 0.0)
            left = f", about {_seconds(spent / ran * (self.total - done))} left"
        else:
            left = ""
        return (f"[{'#' * filled}{'-' * (self.WIDTH - filled)}] {share:4.0%}  "
                f"{self.finished}/{len(self.costs)} metrics  {_seconds(elapsed)}{left}")


def _seconds(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"
