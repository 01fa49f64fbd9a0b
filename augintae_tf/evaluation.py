"""Evaluate a trained run (appendix A.3/A.4/A.6) and compare several runs side by side.

:func:`evaluate` writes ``OUT/metrics.json`` (default ``OUT = RUN/eval``), ``noise.png`` and
``interpolations.png``, and appends ``{"eval": {...}, "timestamp": ...}`` to ``RUN/metrics.jsonl``.
The metrics are the rows of :data:`METRIC_TABLE` (functions ``metric(run, data, options) -> dict``
over an :class:`~augintae_tf.eval_data.EvalData` that loads the held-out and novel images, the
few-shot plan and its generated images once, when a metric first asks); the table also gives the
CLI its ``--metrics`` list and defaults.  The built-in rows:

* ``fid``: few-shot FID (K seeds per novel class, slerp paths, N images vs the real novel images)
  and random-sample FID (Gaussian fitted to encoded training images vs the training-domain test
  split), with Inception-v3 -- needs its weights; checked first so a missing network fails fast.
* ``fd-clf``: Fréchet distance in the penultimate features of a classifier trained on the novel
  classes (:mod:`augintae_tf.metrics.classifiers`) -- offline.
* ``classifier``: ``domain_share`` (few-shot images judged novel-domain by a training-vs-novel
  domain classifier) and ``class_accuracy`` (few-shot images classified as their seeds' class).
* ``recon``: reconstruction MSE per pixel on training-domain test and on novel images.
* ``noise``: reconstruction error of uniform noise per frequency (``noise.png``).
* ``interp``: pixel fade and slerp rows for 8 same-class novel pairs (``interpolations.png``).
* ``quality``: the few-shot images beside the reference rows (floor, seed copies, pixel
  cross-fade) on the same plan: FD, class accuracy, precision/recall/density/coverage, seed
  distance, realism, per class (:mod:`augintae_tf.eval_quality`); ``metrics.json["quality"]``.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from augintae_tf import atomic, eval_data, eval_record
from augintae_tf.capabilities import Capability
from augintae_tf.errors import RunError
from augintae_tf.layout import EVAL_METRICS, RunLayout
from augintae_tf.eval_data import COMPARE_NUM_IMAGES, EVAL_DEFAULTS, EvalData, EvalOptions, Timer
from augintae_tf.eval_protocols import COSTS, PROTOCOLS, resolve_options
from augintae_tf.eval_record import Progress, RecordStore, fingerprint
from augintae_tf.eval_figures import generalization_figure, interpolation_figure

TABLE_KEYS = ("fd_clf", "class_accuracy", "domain_share", "recon_test", "recon_novel", "noise_mean",
              "fid_fewshot", "fid_random", "fd_px8_samples", "fd_px8_floor", "gen_test_mse",
              "gen_novel_mse", "gen_novel_ratio", "gen_test_fd", "gen_novel_fd",
              "gen_novel_mse_inverted")


@dataclass(frozen=True)
class Metric:
    """One row of the table: ``fn(run, data, options) -> dict`` merged into ``metrics.json``.

    ``prepare(options)``, if any, runs before the run is loaded (its result is
    ``data.prepared[name]``): what can fail without the run must fail in seconds.
    """

    name: str
    fn: Callable[[Any, EvalData, EvalOptions], dict]
    default: bool = True  # in the default (quick) protocol's metrics
    help: str = ""
    prepare: Callable[[EvalOptions], Any] | None = None
    needs: frozenset[str] = frozenset()  # model capabilities (any one of them suffices)
    # expected work, in forward passes of one image through the run's model (the progress
    # line's weights): cost(n, size, options), n novel images of size x size pixels
    cost: Callable[[int, int, EvalOptions], float] = lambda n, size, o: 1000.0


METRIC_TABLE: dict[str, Metric] = {}


def register_metric(name: str, fn: Callable[[Any, EvalData, EvalOptions], dict], default: bool = True,
                    help: str = "", prepare: Callable[[EvalOptions], Any] | None = None,
                    needs: Iterable[str] = (),
                    cost: Callable[[int, int, EvalOptions], float] | None = None) -> Metric:
    """Add (or replace) metric ``name``; the CLI's ``--metrics`` list and defaults follow.
    ``needs``: model capabilities of which the metric uses at least one (empty: any model); a
    default metric a model cannot do is left out of its defaults, an explicit one refused.
    ``cost``: see :class:`Metric` (default: a constant)."""
    extra = {"cost": cost} if cost is not None else {}
    METRIC_TABLE[name] = Metric(name, fn, default, help, prepare, frozenset(needs), **extra)
    return METRIC_TABLE[name]


# The table, in the order metrics run and are listed.  Add a metric here (or call
# register_metric from your module): one line.
register_metric("fid", eval_data.fid, default=False, prepare=eval_data.load_fid_network,
                help="few-shot and random-sample FID, Inception-v3 (needs its weights)",
                cost=COSTS["fid"])
register_metric("fd-clf", eval_data.fd_clf, default=False, needs={Capability.FEWSHOT},
                help="Fréchet distance in a novel-class classifier (A.3)", cost=COSTS["fd-clf"])
register_metric("classifier", eval_data.classifier, default=False, needs={Capability.FEWSHOT},
                help="domain share and class accuracy (A.3)", cost=COSTS["classifier"])
register_metric("recon", eval_data.recon, help="reconstruction MSE, held-out and novel",
                needs={Capability.LATENT}, cost=COSTS["recon"])
register_metric("noise", eval_data.noise, default=False, needs={Capability.LATENT},
                help="noise reconstruction error per frequency (A.4)", cost=COSTS["noise"])
register_metric("interp", eval_data.interp, help="pixel fade vs slerp (or few-shot) figure",
                needs={Capability.LATENT, Capability.FEWSHOT}, cost=COSTS["interp"])
register_metric("quality", lambda run, data, options: _eval_quality().quality(run, data, options),
                needs={Capability.FEWSHOT}, cost=COSTS["quality"],
                help="few-shot FD, class acc, precision/recall/density/coverage, seed distance and "
                     "realism beside reference rows (floor, seed copies, pixel cross-fade)")
register_metric("samples", eval_data.samples, needs={Capability.SAMPLE}, cost=COSTS["samples"],
                help="Fréchet distance of samples to held-out images (8x8 pixels), with floor")
register_metric("generalization", lambda run, data, options: _generalization(run, data, options),
                default=False, help="reconstruction MSE/FD, held-out vs novel domain (+ figure)",
                cost=COSTS["generalization"])


def metrics_for(model, names: Sequence[str], explicit: bool) -> tuple[str, ...]:
    """``names`` the model can do; an explicitly requested one it cannot do is a RunError."""
    def can(name):
        needs = METRIC_TABLE[name].needs
        return not needs or any(model.has(c) for c in needs)

    refused = [n for n in names if not can(n)]
    if refused and explicit:
        raise RunError(f"metric(s) {', '.join(refused)} need a capability model {model.name} lacks "
                       f"(it has: {', '.join(sorted(model.capabilities)) or 'none'})")
    kept = tuple(n for n in names if can(n))
    if not kept:
        raise RunError(f"none of the metrics {', '.join(names)} applies to model {model.name}")
    return kept


def _generalization(run, data, options) -> dict:
    from augintae_tf.metrics.generalization import metric

    return metric(run, data, options)


def _eval_quality():
    from augintae_tf import eval_quality  # imported when the metric runs: the CLI stays TF-free

    return eval_quality


def metric_names() -> tuple[str, ...]:
    return tuple(METRIC_TABLE)


def default_metrics() -> tuple[str, ...]:
    return tuple(name for name, metric in METRIC_TABLE.items() if metric.default)



def parse_metrics(metrics: str | Iterable[str] | None, protocol: str = "quick") -> tuple[str, ...]:
    """``"fd-clf,recon"`` or a list -> validated names in table order (``None``: the
    ``protocol``'s, :data:`~augintae_tf.eval_protocols.PROTOCOLS`)."""
    if protocol not in PROTOCOLS:
        raise RunError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    if metrics is None:
        chosen = PROTOCOLS[protocol].metrics
        return default_metrics() if chosen is None else tuple(
            m for m in metric_names() if m in chosen)
    names = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    names = [n.strip().lower() for n in names if n and n.strip()]
    if "all" in names:
        names = [n for n in names if n != "all"] + list(metric_names())
    unknown = sorted(set(names) - set(metric_names()))
    if unknown:
        raise RunError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(metric_names())}")
    if not names:
        raise RunError(f"no metrics requested; choose from {', '.join(metric_names())}")
    return tuple(m for m in metric_names() if m in names)


def _write_json(path: Path, data) -> Path:
    return atomic.write_json(path, data)


EVAL_FILES = (EVAL_METRICS, "noise.png", "interpolations.png", "generalization.png")
COMPARE_FILES = ("interpolations.png", "generalization.png", "metrics.md", EVAL_METRICS)


def claim_out(out: str | os.PathLike, names: Sequence[str]) -> Path:
    """Make ``--out`` (never through a link) and record ``names`` in its manifest before
    anything is written (:func:`augintae_tf.generation.claim_out`): a file of one of those
    names that no earlier command of this tool wrote (the user's ``metrics.json``) is refused,
    naming it, before anything slow runs."""
    from augintae_tf import generation

    return generation.claim_out(out, names)


def evaluate(run_dir: str | os.PathLike, metrics: str | Sequence[str] | None = None,
             out: str | os.PathLike | None = None, progress: bool = True,
             echo: Callable[[str], object] | None = None, force: bool = False,
             **options) -> dict:
    """Evaluate ``run_dir`` with the table's ``metrics`` (names or a comma list; default the
    protocol's, ``options["protocol"]``: quick or paper); returns (and writes to
    ``OUT/metrics.json``, default ``RUN/eval``) the record, and appends it to
    ``RUN/metrics.jsonl``.  ``options``: the fields of :class:`~augintae_tf.eval_data.EvalOptions`
    (shots, num_images, fid_network, dataset, split, held_out, noise_trials, classifier_epochs,
    classifier_limit, data_limit, seed, double_exposure_ratio, double_exposure_shift, protocol).
    ``metrics.json`` is rewritten after every metric; metrics it already holds for the same
    options are reused unless ``force`` (:mod:`augintae_tf.eval_record`).
    """
    from augintae_tf.runs import load_run

    unknown = sorted(set(options) - {f.name for f in dataclasses.fields(EvalOptions)})
    if unknown:
        raise TypeError(f"evaluate() got unknown options {', '.join(unknown)}")
    opts = EvalOptions(**options)
    names = parse_metrics(metrics, opts.protocol)
    if opts.shots < 2:
        raise RunError(f"--shots must be at least 2 (a path needs two seeds), got {opts.shots}")
    eval_data.check_double_exposure(opts.double_exposure_ratio, opts.double_exposure_shift)
    echo = echo or (print if progress else (lambda *_: None))
    timer, start = Timer(echo), time.perf_counter()
    if out is not None and os.path.abspath(out) == os.path.abspath(RunLayout(run_dir).eval):
        out = None  # the default, spelled out: the run's own folder
    if out is not None:  # a folder of the user's: only files this tool recorded are replaced
        out = claim_out(out, EVAL_FILES)
    prepared = {name: timer(f"{name}_network", lambda m=METRIC_TABLE[name]: m.prepare(opts))
                for name in names if METRIC_TABLE[name].prepare is not None}
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
    bar = Progress({n: METRIC_TABLE[n].cost(count, size, opts) for n in names}, echo,
                   live=None if progress else False)
    timer.echo = data.echo = bar.say
    data.step = bar.step  # long metrics report their share done (a live terminal bar)
    store = RecordStore(out / EVAL_METRICS, fingerprint(run, data, opts), force)
    record = _run_metrics(names, data, store, bar, start)
    if refused is None and bar.spent > 0:  # not on a read-only run, nor when nothing ran
        eval_record.append(run.directory, record)
    return record


def _run_metrics(names: Sequence[str], data: EvalData, store: RecordStore, bar: Progress,
                 start: float) -> dict:
    """Each metric in turn, reused from ``store`` when it holds it for these options, else
    computed and written at once; returns the complete record (also written)."""
    timer, opts, fields = data.timer, data.options, eval_record.header(data, names, data.options)
    for name in names:
        reused = store.reuse(name)
        if reused is not None:
            bar.skip(name)
            bar.say(f"  {name}: already in {store.path} for these options (--force recomputes "
                    "it)")
            if reused.get("quality"):
                bar.say(_eval_quality().quality_report(reused["quality"]))
            continue
        bar.begin(name)
        store.add(name, timer(name, lambda m=METRIC_TABLE[name]: m.fn(data.run, data, opts)))
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


def _format(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _eval_table(runs) -> tuple[list[dict], str]:
    """(rows of the runs' ``eval/metrics.json`` values for :data:`TABLE_KEYS`, markdown table)."""
    table = []
    for run in runs:
        path = run.layout.eval_metrics
        values = json.loads(path.read_text()) if path.is_file() else {}
        table.append({"run": str(run.directory), "model": run.config.model.name,
                      **{k: values.get(k) for k in TABLE_KEYS}})
    keys = [k for k in TABLE_KEYS if any(row[k] is not None for row in table)] or list(TABLE_KEYS[:5])
    names = [Path(row["run"]).name for row in table]
    lines = ["| run | model | " + " | ".join(keys) + " |", "|---" * (len(keys) + 2) + "|"]
    lines += [f"| {name} | {row['model']} | " + " | ".join(_format(row[k]) for k in keys) + " |"
              for name, row in zip(names, table)]
    missing = [name for name, row in zip(names, table) if any(row[k] is None for k in keys)]
    if missing:
        lines += ["", f"— = not in RUN/eval/metrics.json ({', '.join(missing)}): the table reads "
                  "each run's own evaluation; `augintae-tf evaluate --run-dir RUN` writes it "
                  "(`--protocol paper` for fd_clf, class_accuracy, domain_share, noise_mean)"]
    return table, "\n".join(lines) + "\n"


def _compared_runs(run_dirs, novel_dataset: str | None, novel_split: str | None,
                   echo: Callable[[str], object]) -> tuple[list, np.ndarray, np.ndarray, tuple]:
    """(runs, novel images, labels, (novel dataset, split)) for ``compare``: every run must share
    the image size, channels, training dataset and novel split (``novel_dataset`` /
    ``novel_split`` override theirs: split ``test`` unless given, as in ``evaluate``)."""
    from augintae_tf.data import load_arrays, resolve_novel, same_images
    from augintae_tf.runs import load_run

    runs = [load_run(d) for d in run_dirs]
    first = runs[0].config.data

    def novel_of(cfg):
        if novel_dataset is not None:
            return novel_dataset, novel_split or "test"
        dataset, split = resolve_novel(cfg)
        return dataset, novel_split or split

    def signature(cfg):
        return cfg.image_size, cfg.channels, cfg.dataset, novel_of(cfg)

    for run in runs[1:]:
        if signature(run.config.data) != signature(first):
            raise RunError(f"runs differ in image size/channels/dataset: {runs[0].directory} has "
                           f"{signature(first)}, {run.directory} has {signature(run.config.data)}")
    dataset, split = novel_of(first)
    images, labels = load_arrays(dataclasses.replace(first, limit=None), split, dataset=dataset)
    if not len(images):
        raise RunError(f"no images in {dataset}:{split}")
    if same_images((dataset, split), (first.dataset, first.train_split)):
        echo("warning: " + eval_data.FALLBACK_WARNINGS["novel"].format(dataset=first.dataset))
    return runs, images, labels, (dataset, split)


def compare(run_dirs: Sequence[str | os.PathLike], out: str | os.PathLike, seed: int = 0,
            echo: Callable[[str], object] | None = None, quality: bool = True,
            shots: int = EVAL_DEFAULTS.shots, num_images: int = COMPARE_NUM_IMAGES,
            classifier_epochs: int = EVAL_DEFAULTS.classifier_epochs,
            classifier_limit: int | None = EVAL_DEFAULTS.classifier_limit,
            novel_split: str | None = None, novel_dataset: str | None = None,
            double_exposure_ratio: float = EVAL_DEFAULTS.double_exposure_ratio,
            double_exposure_shift: int = EVAL_DEFAULTS.double_exposure_shift,
            samplers: Sequence[str] = (), scale: float | None = None) -> dict:
    """Interpolation figure (rows: pixel fade, then each run's slerp, per novel pair; runs without
    a latent are left out), the generalization figure (novel inputs, then each run's
    reconstructions -> ``OUT/generalization.png``), a table of
    the runs' ``eval/metrics.json`` values and (``quality``) one few-shot quality table: every
    run's images generated here on one shared plan (``shots``, ``num_images``, ``seed``) beside one
    set of reference rows -> ``OUT/interpolations.png``, ``OUT/metrics.md``, ``OUT/metrics.json``.
    ``novel_dataset`` / ``novel_split``: score on this dataset (a folder of novel classes) /
    split instead of the runs' ``data.novel_dataset`` / ``data.novel_split`` (glyphs: ``far``
    for the symbol classes);
    ``double_exposure_ratio``/``_shift``: that column's test (:mod:`augintae_tf.metrics.double_exposure`);
    ``samplers``: one quality row per run and sampler its model has (``RUN [SAMPLER]``; default:
    each run's own), ``scale`` their noise scale.
    Returns ``{"runs", "table", "markdown", "figure", "quality"}``."""
    eval_data.check_double_exposure(double_exposure_ratio, double_exposure_shift)  # before TF loads
    if not run_dirs:
        raise RunError("compare needs at least one run directory")
    if shots < 2:
        raise RunError(f"--shots must be at least 2 (a path needs two seeds), got {shots}")
    out = claim_out(out, COMPARE_FILES)
    runs, images, labels, (novel_dataset, novel_split) = _compared_runs(
        run_dirs, novel_dataset, novel_split, echo or print)
    figure = interpolation_figure(out / "interpolations.png", runs, images, labels, seed)
    generalization_figure(out / "generalization.png", runs, images, seed)

    table, markdown = _eval_table(runs)
    scores = None
    if quality:
        from augintae_tf.eval_quality import compare_quality
        from augintae_tf.metrics import quality_table

        scores = compare_quality(runs, images, labels, [str(novel_dataset), novel_split], out,
                                 shots=shots, num_images=num_images, seed=seed,
                                 classifier_epochs=classifier_epochs, classifier_limit=classifier_limit,
                                 echo=echo or print, double_exposure_ratio=double_exposure_ratio,
                                 double_exposure_shift=double_exposure_shift,
                                 samplers=tuple(samplers) or (None,), scale=scale)
        markdown += ("\nFew-shot quality, every run generated on one shared plan (seed "
                     f"{seed}):\n\n" + quality_table(scores))
    atomic.write_text(out / "metrics.md", markdown)
    _write_json(out / EVAL_METRICS, {"runs": table, "figure": str(figure), "quality": scores})
    (echo or print)(markdown.rstrip())
    return {"runs": [str(r.directory) for r in runs], "table": table, "markdown": markdown,
            "figure": str(figure), "generalization_figure": str(out / "generalization.png"),
            "quality": scores}
