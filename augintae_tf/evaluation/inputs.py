"""What an evaluation reads, loaded on first use: :class:`EvalData` holds the run under
evaluation, its held-out and novel images, the few-shot plan and its generated images and the
cached classifiers, so metrics that share something compute it once and no metric reaches into
another's state.  The metrics themselves: :mod:`augintae_tf.evaluation.table`.
"""
from __future__ import annotations

import dataclasses
import time
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import numpy as np

from augintae_tf.atomic import safe_dir
from augintae_tf.data import (FALLBACK_WARNINGS, load_arrays, resolve_held_out, resolve_novel,
                              same_images)
from augintae_tf.errors import RunError
from augintae_tf.evaluation.classifiers import cached_classifier, classifier_metrics
from augintae_tf.evaluation.options import EvalOptions
from augintae_tf.inference.generation import sample
from augintae_tf.metrics.fewshot import generate_from_plan, sample_fewshot_plan
from augintae_tf.metrics.noise import reconstruction_error
from augintae_tf.run.layout import CLASSIFIERS


def classifier_key(cfg, novel: list, epochs: int, limit: int | None, **extra) -> dict:
    """The cache key of an evaluation classifier (:mod:`augintae_tf.evaluation.classifiers`): the
    novel data ``[dataset, split]``, what trained it (``extra``: e.g. the training split or the
    comparison indices), the network and its budget; a cached classifier is reused only under
    the same key."""
    return {"novel": novel, **extra, "image_size": cfg.data.image_size,
            "channels": cfg.data.channels, "backbone": cfg.backbone, "width": cfg.model.width,
            "epochs": epochs, "limit": limit}


def classifier_settings(cfg, epochs: int, seed: int) -> dict:
    """How an evaluation classifier is built and trained (``cached_classifier``'s keywords)."""
    return dict(backbone=cfg.backbone, image_size=cfg.data.image_size,
                channels=cfg.data.channels, width=cfg.model.width, epochs=epochs, seed=seed)


class Timer:
    """Seconds per named step, accumulated, echoed as they finish."""

    def __init__(self, echo: Callable[[str], object]):
        self.echo, self.timing = echo, {}

    def __call__(self, name: str, fn: Callable[[], Any],
                 say: Callable[[Any], str] | None = None):
        """``fn()``, its seconds added to ``name``'s; echoes ``  NAME: S s``, or ``  NAME: `` +
        ``say(result)`` + `` (S s)``."""
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
        self.timing[name] = round(self.timing.get(name, 0.0) + seconds, 3)
        self.echo(f"  {name}: {say(result)} ({seconds:.1f} s)" if say else
                  f"  {name}: {seconds:.1f} s")
        return result


class EvalData:
    """The run under evaluation and its data; each property is computed once, when first read."""

    def __init__(self, run, options: EvalOptions, out: Path, timer: Timer,
                 prepared: dict[str, Any] | None = None, echo: Callable[[str], object] = print,
                 progress: bool = True):
        self.run, self.options, self.out, self.timer, self.echo = run, options, out, timer, echo
        self.progress = progress  # progress bars for long feature extractions
        self.step: Callable[[float], object] = lambda fraction: None  # share of a metric done
        self.prepared = prepared or {}  # what metrics' prepare hooks returned (the FID network)
        data = dataclasses.replace(run.config.data, limit=options.data_limit)
        self.cfg = dataclasses.replace(run.config, data=data)
        self.novel_dataset, self.novel_split = resolve_novel(data)
        if options.dataset is not None:
            self.novel_dataset, self.novel_split = options.dataset, options.split or "test"
        elif options.split is not None:
            self.novel_split = options.split
        self.held_out_dataset, self.held_out_split = resolve_held_out(data)
        if options.held_out is not None:
            self.held_out_dataset = options.held_out
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def source(self, which: str) -> tuple[str, str]:
        """(dataset, split) that ``arrays(which)`` reads: ``"novel"``, ``"held_out"`` or a
        split of the training dataset."""
        if which == "novel":
            return self.novel_dataset, self.novel_split
        if which == "held_out":
            return self.held_out_dataset, self.held_out_split
        return self.cfg.data.dataset, which

    def arrays(self, which: str, limit: Any = "data_limit") -> tuple[np.ndarray, np.ndarray]:
        """(images, labels) of ``"novel"``, ``"held_out"`` or a split of the training dataset,
        at most ``limit`` (default ``options.data_limit``; None: all); RunError if empty.  The
        first time the novel or held-out images turn out to be the training images (a folder
        without ``--novel`` / ``--held-out``) a one-line warning says so."""
        limit = self.options.data_limit if limit == "data_limit" else limit
        key = f"{which}:{limit}"
        if key not in self._arrays:
            dataset, split = self.source(which)
            what = {"novel": "novel", "held_out": "held-out"}.get(which, f"[{which}]")
            found = self.timer("data", lambda: load_arrays(self.cfg.data, split, limit=limit,
                                                           dataset=dataset),
                               say=lambda got: f"{len(got[0])} {what} images of {dataset}")
            if not len(found[0]):
                raise RunError(f"no images in {dataset}:{split}")
            if which in FALLBACK_WARNINGS and which not in self.arrays_loaded():
                self.warn_if_training_images(which)
            self._arrays[key] = found
        return self._arrays[key]

    def warn_if_training_images(self, which: str) -> None:
        train = (self.cfg.data.dataset, self.cfg.data.train_split)
        if same_images(self.source(which), train):
            self.echo(f"warning: {FALLBACK_WARNINGS[which].format(dataset=train[0])}")

    def arrays_loaded(self) -> set[str]:
        """Which of ``"novel"`` / split names were loaded so far."""
        return {key.split(":")[0] for key in self._arrays}

    @property
    def novel(self) -> tuple[np.ndarray, np.ndarray]:
        return self.arrays("novel")

    def reconstruct(self, images):
        return self.run.model(images, training=False)

    @cached_property
    def plan(self):
        o = self.options
        return sample_fewshot_plan(self.novel[1], o.shots, o.num_images, o.seed)

    @cached_property
    def fewshot_images(self) -> np.ndarray:
        """The plan decoded through the model's capability (``generate_from_plan``)."""
        o = self.options
        return self.timer("fewshot_generation", lambda: generate_from_plan(
            self.run.model, self.novel[0], self.plan, sampler=o.sampler, scale=o.scale))

    @cached_property
    def samples(self) -> np.ndarray:
        """``num_images`` samples of a model with the ``sample`` capability (seed ``options.seed``)."""
        o = self.options
        return self.timer("sampling", lambda: sample(self.run.model, o.num_images, o.seed))

    @property
    def classifier_cache(self) -> Path:
        """``OUT/classifiers``: evaluation writes only under its output folder."""
        return safe_dir(self.out / CLASSIFIERS, self.out)

    @cached_property
    def classifiers(self):
        """(domain classifier, class classifier), trained once and cached in OUT/classifiers
        (default RUN/eval/classifiers: with --out, nothing is written in the run)."""
        return self.timer("classifiers", lambda: cached_classifiers(self, cached_classifier))

    @cached_property
    def classifier_values(self) -> dict[str, float]:
        domain, classes = self.classifiers
        images, labels = self.novel
        return self.timer("classifier_metrics", lambda: classifier_metrics(
            self.fewshot_images, self.plan.class_label, images, domain, classes))

    @cached_property
    def recon_novel(self) -> float:
        return self.timer("recon_novel",
                          lambda: reconstruction_error(self.reconstruct, self.novel[0]))


def cached_classifiers(data: EvalData, cached_classifier) -> tuple[Any, Any]:
    cfg, o = data.cfg, data.options
    common = classifier_settings(cfg, o.classifier_epochs, o.seed)
    key = classifier_key(cfg, [str(data.novel_dataset), data.novel_split], o.classifier_epochs,
                         o.classifier_limit)

    def class_data():
        data.echo("  training the novel-class classifier")
        return subsample(*data.novel, o.classifier_limit, o.seed)

    def domain_data():
        data.echo("  training the domain classifier")
        novel, _ = subsample(*data.novel, o.classifier_limit, o.seed)
        train, _ = data.arrays(cfg.data.train_split, o.classifier_limit)
        n = min(len(novel), len(train))
        rng = np.random.default_rng([o.seed, 4])
        novel = novel[rng.permutation(len(novel))[:n]]
        train = train[rng.permutation(len(train))[:n]]
        return np.concatenate([train, novel]), np.repeat(np.array([0, 1], np.int32), n)

    cache_dir = data.classifier_cache
    domain_key = classifier_key(cfg, key["novel"], o.classifier_epochs, o.classifier_limit,
                                train=[cfg.data.dataset, cfg.data.train_split])
    return (cached_classifier(cache_dir, "domain", domain_key, domain_data, **common),
            cached_classifier(cache_dir, "class", key, class_data, **common))


def subsample(images, labels, n: int | None, seed: int):
    if n is None or len(images) <= n:
        return images, labels
    keep = np.sort(np.random.default_rng([seed, 3]).choice(len(images), n, replace=False))
    return images[keep], labels[keep]
