"""Evaluate a trained run (appendix A.3/A.4/A.6): :func:`evaluate` runs the table's metrics
(:mod:`augintae_tf.evaluation.table`) over one :class:`~augintae_tf.evaluation.inputs.EvalData`,
writes ``OUT/metrics.json`` (default ``OUT = RUN/eval``) after every metric, the figures
(``noise.png``, ``interpolations.png``...), and appends ``{"eval": {...}, "timestamp": ...}`` to
``RUN/metrics.jsonl``.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Sequence

from augintae_tf import atomic
from augintae_tf.capabilities import Capability
from augintae_tf.errors import RunError
from augintae_tf.evaluation.inputs import EvalData, Timer
from augintae_tf.evaluation.options import (EvalOptions, check_metric_options, options_of,
                                           resolve_options)
from augintae_tf.evaluation.record import Progress, RecordStore, append, fingerprint, header
from augintae_tf.evaluation.table import metric, metrics_for, parse_metrics
from augintae_tf.inference.loaded import load_run
from augintae_tf.metrics.quality_table import quality_table
from augintae_tf.output_folders import claim_out
from augintae_tf.run.layout import EVAL_METRICS, RunLayout

EVAL_FILES = (EVAL_METRICS, "noise.png", "interpolations.png", "generalization.png")


def evaluate(run_dir: str | os.PathLike, metrics: str | Sequence[str] | None = None,
             out: str | os.PathLike | None = None, progress: bool = True,
             echo: Callable[[str], object] | None = None, force: bool = False,
             **options) -> dict:
    """Evaluate ``run_dir`` with the table's ``metrics`` (names or a comma list; default the
    protocol's, ``options["protocol"]``: quick or paper); returns (and writes to
    ``OUT/metrics.json``, default ``RUN/eval``) the record, and appends it to
    ``RUN/metrics.jsonl``.  ``options``: the fields of
    :class:`~augintae_tf.evaluation.options.EvalOptions` (shots, num_images, dataset, split,
    held_out, classifier_epochs, classifier_limit, data_limit, seed, protocol, sampler, scale) and
    the options the metrics declare (:func:`~augintae_tf.evaluation.table.declared_options`:
    fid_network, noise_trials, utility_*, double_exposure_*...).  ``metrics.json`` is
    rewritten after every metric; metrics it already holds for the same options are reused unless
    ``force`` (:mod:`augintae_tf.evaluation.record`).
    """
    opts = options_of(EvalOptions, options, "evaluate")
    names = parse_metrics(metrics, opts.protocol)
    if opts.shots < 2:
        raise RunError(f"--shots must be at least 2 (a path needs two seeds), got {opts.shots}")
    check_metric_options(opts.metric_options)
    echo = echo or (print if progress else (lambda *_: None))
    timer, start = Timer(echo), time.perf_counter()
    if out is not None and os.path.abspath(out) == os.path.abspath(RunLayout(run_dir).eval):
        out = None  # the default, spelled out: the run's own folder
    if out is not None:  # a folder of the user's: only files this tool recorded are replaced
        out = claim_out(out, EVAL_FILES)  # refused at once, before anything slow
    prepared = {name: timer(f"{name}_network", lambda m=metric(name): m.prepared(opts))
                for name in names if metric(name).prepare is not None}
    run = load_run(run_dir)
    atomic.refuse_link(run.layout.metrics)  # at once, not after the slow part
    names = metrics_for(run.model, names, explicit=metrics is not None)
    out = _writable_out(Path(out) if out is not None else atomic.safe_dir(
        run.layout.eval, run.directory, "; pass --out ELSEWHERE"))
    refused = atomic.read_only_problem(run.directory)
    if refused:  # a shared results disk: evaluate all the same, writing only under --out
        echo(f"warning: {run.directory} is read-only ({refused.strerror}): the record is not "
             f"appended to {run.layout.metrics}; it goes to {out / EVAL_METRICS}")
    data = EvalData(run, opts, out, timer, prepared, echo, progress)
    echo(f"evaluating {run.directory} ({run.config.model.name}, checkpoint "
         f"{run.checkpoint.name}), protocol {opts.protocol}: {', '.join(names)}")
    fewshot = run.model.has(Capability.FEWSHOT)
    novel = data.novel[1] if fewshot else None  # loaded first: an empty split fails early
    opts = data.options = resolve_options(opts, novel)
    count, size = (len(novel) if fewshot else 1000), data.cfg.data.image_size
    bar = Progress({n: metric(n).cost(count, size, opts) for n in names}, echo,
                   live=None if progress else False)
    timer.echo = data.echo = bar.say
    data.step = bar.step  # long metrics report their share done (a live terminal bar)
    store = RecordStore(out / EVAL_METRICS, fingerprint(run, data, opts), force)
    record = _run_metrics(names, data, store, bar, start)
    if refused is None and bar.spent > 0:  # not on a read-only run, nor when nothing ran
        append(run.directory, record)
    return record


def _run_metrics(names: Sequence[str], data: EvalData, store: RecordStore, bar: Progress,
                 start: float) -> dict:
    """Each metric in turn, reused from ``store`` when it holds it for these options, else
    computed and written at once; returns the complete record (also written)."""
    timer, opts, fields = data.timer, data.options, header(data, names, data.options)
    for name in names:
        reused = store.reuse(name)
        if reused is not None:
            bar.skip(name)
            bar.say(f"  {name}: already in {store.path} for these options (--force recomputes "
                    "it)")
            if reused.get("quality"):
                bar.say(quality_table(reused["quality"]))
            continue
        bar.begin(name)
        store.add(name, timer(name, lambda m=metric(name): m.run(data.run, data, opts)))
        timer.timing["total"] = round(time.perf_counter() - start, 3)
        store.write(fields(), timer.timing, complete=False)  # an interrupt keeps this metric
        bar.end(name)
    timer.timing["total"] = round(time.perf_counter() - start, 3)
    bar.say(f"  total: {timer.timing['total']:.1f} s")
    return store.write(fields(), timer.timing, complete=True)


def _writable_out(out: Path) -> Path:
    """``out``, created; a read-only one fails here, before the slow part."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        refused = atomic.read_only_problem(out)
        if refused:
            raise refused
    except OSError as exc:
        problem = atomic.read_only_error(exc, out, "; pass --out ELSEWHERE")
        if problem is None:
            raise
        raise problem from None
    return out
