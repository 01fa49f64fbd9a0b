"""Evaluate a trained run (appendix A.3/A.4/A.6) and compare several runs side by side.

:func:`evaluate` writes ``OUT/metrics.json`` (default ``OUT = RUN/eval``), ``noise.png`` and
``interpolations.png``, and appends ``{"eval": {...}, "timestamp": ...}`` to ``RUN/metrics.jsonl``.
Metric names (``metrics=``):

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
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from augintae_tf import atomic
from augintae_tf.errors import RunError
from augintae_tf.runs import append_metrics

METRICS = ("fid", "fd-clf", "classifier", "recon", "noise", "interp")
DEFAULT_METRICS = ("fd-clf", "classifier", "recon", "noise", "interp")
TABLE_KEYS = ("fd_clf", "class_accuracy", "domain_share", "recon_test", "recon_novel", "noise_mean",
              "fid_fewshot", "fid_random")
INTERP_PAIRS = 8
INTERP_STEPS = 8


def parse_metrics(metrics: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"fd-clf,recon"`` or a list -> validated names in canonical order (``None``: the defaults)."""
    if metrics is None:
        return DEFAULT_METRICS
    names = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    names = [n.strip().lower() for n in names if n and n.strip()]
    if "all" in names:
        names = [n for n in names if n != "all"] + list(METRICS)
    unknown = sorted(set(names) - set(METRICS))
    if unknown:
        raise RunError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(METRICS)}")
    if not names:
        raise RunError(f"no metrics requested; choose from {', '.join(METRICS)}")
    return tuple(m for m in METRICS if m in names)


def novel_pairs(labels: np.ndarray, n: int = INTERP_PAIRS, seed: int = 0) -> list[tuple[int, int]]:
    """``n`` pairs of distinct same-class image indices (classes drawn without replacement if possible)."""
    labels = np.asarray(labels).reshape(-1)
    classes = [c for c in np.unique(labels) if np.count_nonzero(labels == c) >= 2]
    if not classes:
        raise RunError("no novel class has 2 images: cannot draw interpolation pairs")
    rng = np.random.default_rng([seed, 2])
    chosen = rng.choice(len(classes), size=n, replace=len(classes) < n)
    pairs = []
    for k in chosen:
        members = np.flatnonzero(labels == classes[k])
        a, b = rng.choice(members, size=2, replace=False)
        pairs.append((int(a), int(b)))
    return pairs


def _cache_dir() -> Path:
    return Path(os.environ.get("AUGINTAE_CACHE_DIR") or Path.home() / ".cache" / "augintae_tf") / "fid"


def _write_json(path: Path, data) -> Path:
    return atomic.write_json(path, data)


class _Timer:
    def __init__(self, echo: Callable[[str], object]):
        self.echo, self.timing = echo, {}

    def __call__(self, name: str, fn: Callable[[], object]):
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
        self.timing[name] = round(self.timing.get(name, 0.0) + seconds, 3)
        self.echo(f"  {name}: {seconds:.1f} s")
        return result


def evaluate(run_dir: str | os.PathLike, metrics: str | Sequence[str] | None = DEFAULT_METRICS,
             shots: int = 5, num_images: int = 5000, fid_network: str | os.PathLike | None = None,
             dataset: str | None = None, split: str | None = None, out: str | os.PathLike | None = None,
             noise_trials: int = 1000, progress: bool = True, classifier_epochs: int = 3,
             classifier_limit: int | None = 10_000, data_limit: int | None = None, seed: int = 0,
             echo: Callable[[str], object] | None = None) -> dict:
    """Evaluate ``run_dir``; returns (and writes to ``OUT/metrics.json``) the metrics record.

    Args:
        metrics: names or a comma list (module docstring); default all offline ones.
        shots, num_images: the few-shot protocol (K seeds per novel class, N generated images).
        fid_network: Inception weights file / SavedModel dir (``None``: Keras' cached weights).
        dataset, split: the novel domain (default ``resolve_novel(cfg.data)``).
        out: output folder (default ``RUN/eval``); classifiers are always cached in
            ``RUN/eval/classifiers``.
        noise_trials: noise images per frequency (paper: 1000).
        classifier_epochs, classifier_limit: classifier training epochs, and at most this many
            real images per domain to train them on.
        data_limit: load at most the first this many images per split (default: whole splits,
            whatever the run's own ``data.limit``: that one only shrinks training).
    """
    from augintae_tf.data import load_arrays, resolve_novel
    from augintae_tf.runs import load_run

    names = parse_metrics(metrics)
    if shots < 2:
        raise RunError(f"--shots must be at least 2 (a path needs two seeds), got {shots}")
    echo = echo or (print if progress else (lambda *_: None))
    timer = _Timer(echo)
    total_start = time.perf_counter()

    extractor = None
    if "fid" in names:  # before anything expensive: a missing network must fail in seconds
        from augintae_tf.metrics import FeatureExtractor

        extractor = timer("fid_network", lambda: FeatureExtractor(fid_network))

    run_dir = Path(run_dir)
    run = load_run(run_dir)
    cfg = dataclasses.replace(run.config, data=dataclasses.replace(run.config.data, limit=data_limit))
    size, channels = cfg.data.image_size, cfg.data.channels
    novel_dataset, novel_split = resolve_novel(cfg.data)
    if dataset is not None:
        novel_dataset, novel_split = dataset, split or "test"
    elif split is not None:
        novel_split = split
    out = Path(out) if out is not None else run_dir / "eval"
    out.mkdir(parents=True, exist_ok=True)
    echo(f"evaluating {run_dir} ({cfg.model.name}, checkpoint {run.checkpoint.name}): {', '.join(names)}")

    def model_fn(images):
        return run.model(images, training=False)

    cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def arrays(which: str, limit: int | None = data_limit):
        key = f"{which}:{limit}"
        if key not in cache:
            if which == "novel":
                cache[key] = load_arrays(cfg.data, novel_split, dataset=novel_dataset, limit=limit)
            else:
                cache[key] = load_arrays(cfg.data, which, limit=limit)
            if not len(cache[key][0]):
                where = (f"{novel_dataset}:{novel_split}" if which == "novel"
                         else f"{cfg.data.dataset}:{which}")
                raise RunError(f"no images in {where}")
        return cache[key]

    novel_images, novel_labels = timer("data", lambda: arrays("novel"))
    result: dict = {}
    fewshot = {}

    def fewshot_images():
        if not fewshot:
            from augintae_tf.metrics import generate_from_plan, sample_fewshot_plan

            plan = sample_fewshot_plan(novel_labels, shots, num_images, seed)
            fewshot["plan"] = plan
            fewshot["images"] = generate_from_plan(run.model, novel_images, plan)
        return fewshot["plan"], fewshot["images"]

    if names_need_fewshot(names):
        timer("fewshot_generation", fewshot_images)

    if "fid" in names:
        result.update(timer("fid", lambda: _fid(extractor, run, cfg, arrays, fewshot_images,
                                                novel_dataset, novel_split, num_images, seed, progress)))

    if "fd-clf" in names or "classifier" in names:
        from augintae_tf.metrics.classifiers import classifier_metrics

        domain, classes = timer("classifiers", lambda: _classifiers(
            run_dir / "eval" / "classifiers", cfg, arrays, novel_dataset, novel_split,
            classifier_epochs, classifier_limit, seed, echo))
        plan, generated = fewshot["plan"], fewshot["images"]
        values = timer("classifier_metrics", lambda: classifier_metrics(
            generated, plan.class_label, novel_images, domain, classes))
        result["domain_classifier_accuracy"] = domain.accuracy
        result["class_classifier_accuracy"] = classes.accuracy
        if "classifier" in names:
            result["domain_share"] = values["domain_share"]
            result["class_accuracy"] = values["class_accuracy"]
        if "fd-clf" in names:
            result["fd_clf"] = values["fd_clf"]

    from augintae_tf.metrics import reconstruction_error

    if "recon" in names or "noise" in names:
        result["recon_novel"] = timer("recon_novel", lambda: reconstruction_error(model_fn, novel_images))
    if "recon" in names:
        test_images, _ = timer("data", lambda: arrays(cfg.data.test_split))
        result["recon_test"] = timer("recon", lambda: reconstruction_error(model_fn, test_images))

    if "noise" in names:
        from augintae_tf.metrics import noise_reconstruction_curve, plot_noise_curve

        curve = timer("noise", lambda: noise_reconstruction_curve(model_fn, size, channels,
                                                                  trials=noise_trials, seed=seed))
        result["noise"] = {str(f): e for f, e in curve.items()}
        result["noise_mean"] = float(np.mean(list(curve.values())))
        plot_noise_curve({cfg.model.name: curve}, {cfg.model.name: result["recon_novel"]},
                         out / "noise.png", title=f"{run_dir.name}: noise reconstruction")

    if "interp" in names:
        timer("interp", lambda: _interp_figure(out / "interpolations.png", [run], novel_images,
                                               novel_labels, seed))

    timing = {**timer.timing, "total": round(time.perf_counter() - total_start, 3)}
    echo(f"  total: {timing['total']:.1f} s")
    record = {
        "run": str(run_dir), "model": cfg.model.name, "checkpoint": run.checkpoint.name,
        "metrics_requested": list(names), "shots": shots, "num_images": num_images,
        "noise_trials": noise_trials,
        "novel": {"dataset": novel_dataset, "split": novel_split, "images": int(len(novel_images)),
                  "classes": int(len(np.unique(novel_labels)))},
        "test": {"dataset": cfg.data.dataset, "split": cfg.data.test_split},
        **result,
        "timing_s": timing,
    }
    _write_json(out / "metrics.json", record)
    line = {"eval": {k: v for k, v in record.items() if k != "noise"},
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    append_metrics(run_dir, line)
    return record


def names_need_fewshot(names: Sequence[str]) -> bool:
    return any(n in names for n in ("fid", "fd-clf", "classifier"))


def _fid(extractor, run, cfg, arrays, fewshot_images, novel_dataset, novel_split, num_images, seed,
         progress) -> dict:
    from augintae_tf.metrics import (activation_statistics, cached_statistics, frechet_distance,
                                     random_latent_samples, statistics_cache_path)

    def real_stats(dataset, split, which):
        images, _ = arrays(which)
        path = statistics_cache_path(_cache_dir(), dataset, split, extractor.name, cfg.data.image_size,
                                     len(images))
        return cached_statistics(path, lambda: extractor(images, progress=progress))

    _, generated = fewshot_images()
    mu_g, sigma_g = activation_statistics(extractor(generated, progress=progress))
    fewshot_fid = frechet_distance(mu_g, sigma_g, *real_stats(novel_dataset, novel_split, "novel"))
    train_images, _ = arrays(cfg.data.train_split)
    samples = random_latent_samples(run.model, train_images, num_images, seed)
    mu_r, sigma_r = activation_statistics(extractor(samples, progress=progress))
    random_fid = frechet_distance(mu_r, sigma_r,
                                  *real_stats(cfg.data.dataset, cfg.data.test_split, cfg.data.test_split))
    return {"fid_fewshot": fewshot_fid, "fid_random": random_fid, "fid_network": extractor.name}


def _classifiers(cache_dir: Path, cfg, arrays, novel_dataset, novel_split, epochs, limit, seed, echo):
    from augintae_tf.metrics.classifiers import cached_classifier

    size, channels = cfg.data.image_size, cfg.data.channels
    common = dict(backbone=cfg.backbone, image_size=size, channels=channels, width=cfg.model.width,
                  epochs=epochs, seed=seed)
    base_key = {"novel": [str(novel_dataset), novel_split], "image_size": size, "channels": channels,
                "backbone": cfg.backbone, "width": cfg.model.width, "epochs": epochs, "limit": limit}

    def subsample(images, labels, n):
        if n is None or len(images) <= n:
            return images, labels
        keep = np.sort(np.random.default_rng([seed, 3]).choice(len(images), n, replace=False))
        return images[keep], labels[keep]

    def class_data():
        echo("  training the novel-class classifier")
        return subsample(*arrays("novel"), limit)

    def domain_data():
        echo("  training the domain classifier")
        novel, _ = subsample(*arrays("novel"), limit)
        train, _ = arrays(cfg.data.train_split, limit)
        n = min(len(novel), len(train))
        rng = np.random.default_rng([seed, 4])
        novel = novel[rng.permutation(len(novel))[:n]]
        train = train[rng.permutation(len(train))[:n]]
        return np.concatenate([train, novel]), np.repeat(np.array([0, 1], np.int32), n)

    domain_key = {**base_key, "train": [cfg.data.dataset, cfg.data.train_split]}
    domain = cached_classifier(cache_dir, "domain", domain_key, domain_data, **common)
    classes = cached_classifier(cache_dir, "class", base_key, class_data, **common)
    return domain, classes


def _interp_figure(path: Path, runs, novel_images, novel_labels, seed) -> Path:
    """Per pair: a pixel-fade row, then one slerp row per run."""
    from augintae_tf.generation import interpolation_path, pixel_fade
    from augintae_tf.images import save_grid

    rows = []
    for a, b in novel_pairs(novel_labels, INTERP_PAIRS, seed):
        rows.append(pixel_fade(novel_images[a], novel_images[b], INTERP_STEPS))
        rows.extend(interpolation_path(r.model, novel_images[a], novel_images[b], INTERP_STEPS)
                    for r in runs)
    return save_grid(path, rows)


def _format(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def compare(run_dirs: Sequence[str | os.PathLike], out: str | os.PathLike, seed: int = 0,
            echo: Callable[[str], object] | None = None) -> dict:
    """Interpolation figure (rows: pixel fade, then each run's slerp, per novel pair) and a table
    of the runs' ``eval/metrics.json`` values -> ``OUT/interpolations.png``, ``OUT/metrics.md``,
    ``OUT/metrics.json``.  Returns ``{"runs", "table", "markdown", "figure"}``."""
    from augintae_tf.data import load_arrays, resolve_novel
    from augintae_tf.runs import load_run

    if not run_dirs:
        raise RunError("compare needs at least one run directory")
    runs = [load_run(d) for d in run_dirs]
    first = runs[0].config.data

    def signature(cfg):
        return cfg.image_size, cfg.channels, cfg.dataset, resolve_novel(cfg)

    for run in runs[1:]:
        if signature(run.config.data) != signature(first):
            raise RunError(f"runs differ in image size/channels/dataset: {runs[0].directory} has "
                           f"{signature(first)}, {run.directory} has {signature(run.config.data)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    novel_dataset, novel_split = resolve_novel(first)
    images, labels = load_arrays(dataclasses.replace(first, limit=None), novel_split, dataset=novel_dataset)
    if not len(images):
        raise RunError(f"no images in {novel_dataset}:{novel_split}")
    figure = _interp_figure(out / "interpolations.png", runs, images, labels, seed)

    table = []
    for run in runs:
        path = run.directory / "eval" / "metrics.json"
        values = json.loads(path.read_text()) if path.is_file() else {}
        table.append({"run": str(run.directory), "model": run.config.model.name,
                      **{k: values.get(k) for k in TABLE_KEYS}})
    keys = [k for k in TABLE_KEYS if any(row[k] is not None for row in table)] or list(TABLE_KEYS[:5])
    names = [Path(row["run"]).name for row in table]
    lines = ["| run | model | " + " | ".join(keys) + " |", "|---" * (len(keys) + 2) + "|"]
    lines += [f"| {name} | {row['model']} | " + " | ".join(_format(row[k]) for k in keys) + " |"
              for name, row in zip(names, table)]
    markdown = "\n".join(lines) + "\n"
    atomic.write_text(out / "metrics.md", markdown)
    _write_json(out / "metrics.json", {"runs": table, "figure": str(figure)})
    (echo or print)(markdown.rstrip())
    return {"runs": [str(r.directory) for r in runs], "table": table, "markdown": markdown,
            "figure": str(figure)}
