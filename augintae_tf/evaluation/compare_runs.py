"""Compare several trained runs side by side: the same novel pairs through every run's slerp,
every run's reconstructions of the same novel images, a table of their own evaluations and one
few-shot quality table on one shared plan (:func:`compare`, ``augintae-tf compare``).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from augintae_tf import atomic
from augintae_tf.data import FALLBACK_WARNINGS, load_arrays, resolve_novel, same_images
from augintae_tf.errors import RunError
from augintae_tf.evaluation.figures import generalization_figure, interpolation_figure
from augintae_tf.evaluation.options import CompareOptions, check_metric_options, options_of
from augintae_tf.evaluation.quality import compare_quality
from augintae_tf.inference.loaded import load_run
from augintae_tf.metrics.quality_table import quality_table
from augintae_tf.output_folders import claim_out
from augintae_tf.run.layout import EVAL_METRICS

TABLE_KEYS = ("fd_clf", "class_accuracy", "domain_share", "recon_test", "recon_novel", "noise_mean",
              "fid_fewshot", "fid_random", "fd_px8_samples", "fd_px8_floor", "gen_test_mse",
              "gen_novel_mse", "gen_novel_ratio", "gen_test_fd", "gen_novel_fd",
              "gen_novel_mse_inverted")
COMPARE_FILES = ("interpolations.png", "generalization.png", "metrics.md", EVAL_METRICS)


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
                      **{k: "?" if values.get(f"{k}_note") else values.get(k)
                         for k in TABLE_KEYS}})
    keys = [k for k in TABLE_KEYS if any(row[k] is not None for row in table)] or list(TABLE_KEYS[:5])
    names = [Path(row["run"]).name for row in table]
    lines = ["| run | model | " + " | ".join(keys) + " |", "|---" * (len(keys) + 2) + "|"]
    lines += [f"| {name} | {row['model']} | " + " | ".join(_format(row[k]) for k in keys) + " |"
              for name, row in zip(names, table)]
    missing = [name for name, row in zip(names, table) if any(row[k] is None for k in keys)]
    if any(row[k] == "?" for row in table for k in keys):
        lines += ["", "? = withheld by the run's evaluation (its metrics.json says why, "
                  "KEY_note: not enough data to judge, or too few images)"]
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
        echo("warning: " + FALLBACK_WARNINGS["novel"].format(dataset=first.dataset))
    return runs, images, labels, (dataset, split)


def compare(run_dirs: Sequence[str | os.PathLike], out: str | os.PathLike,
            echo: Callable[[str], object] | None = None, **options) -> dict:
    """Interpolation figure (rows: pixel fade, then each run's slerp, per novel pair; runs without
    a latent are left out), the generalization figure (novel inputs, then each run's
    reconstructions -> ``OUT/generalization.png``), a table of the runs' ``eval/metrics.json``
    values and (``quality``) one few-shot quality table: every run's images generated here on one
    shared plan beside one set of reference rows -> ``OUT/interpolations.png``,
    ``OUT/metrics.md``, ``OUT/metrics.json``.  ``options``: the fields of
    :class:`~augintae_tf.evaluation.options.CompareOptions` (seed, quality, shots, num_images,
    classifier_epochs, classifier_limit, dataset / split: score on this novel dataset (a folder
    of novel classes) / split instead of the runs' (glyphs: ``far`` for the symbol classes),
    double_exposure_ratio / _shift, samplers, scale).
    Returns ``{"runs", "table", "markdown", "figure", "generalization_figure", "quality"}``."""
    o = options_of(CompareOptions, options, "compare")
    echo = echo or print
    check_metric_options(o.metric_options)
    if not run_dirs:
        raise RunError("compare needs at least one run directory")
    if o.shots < 2:
        raise RunError(f"--shots must be at least 2 (a path needs two seeds), got {o.shots}")
    out = claim_out(out, COMPARE_FILES)
    runs, images, labels, (novel_dataset, novel_split) = _compared_runs(
        run_dirs, o.dataset, o.split, echo)
    figure = interpolation_figure(out / "interpolations.png", runs, images, labels, o.seed)
    generalization_figure(out / "generalization.png", runs, images, o.seed)

    table, markdown = _eval_table(runs)
    scores = None
    if o.quality:
        scores = compare_quality(runs, images, labels, [str(novel_dataset), novel_split], out, o,
                                 echo=echo)
        markdown += ("\nFew-shot quality, every run generated on one shared plan (seed "
                     f"{o.seed}):\n\n" + quality_table(scores))
    atomic.write_text(out / "metrics.md", markdown)
    atomic.write_json(out / EVAL_METRICS, {"runs": table, "figure": str(figure), "quality": scores})
    echo(markdown.rstrip())
    return {"runs": [str(r.directory) for r in runs], "table": table, "markdown": markdown,
            "figure": str(figure), "generalization_figure": str(out / "generalization.png"),
            "quality": scores}
