"""What an evaluation reads, loaded on first use, and the built-in metric functions.

A metric is ``metric(run, data, options) -> dict`` of values for ``metrics.json``; ``data`` is an
:class:`EvalData` (held-out images, novel images, the few-shot plan and its generated images,
the cached classifiers), so metrics that share something compute it once and no metric reaches
into another's state.  The table that names them is :data:`augintae_tf.evaluation.METRIC_TABLE`.
Nothing heavy is imported at module level: the CLI reads the table before TensorFlow loads.
"""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import numpy as np

from augintae_tf.capabilities import Capability
from augintae_tf.errors import RunError


@dataclass(frozen=True)
class EvalOptions:
    """Everything an evaluation can be asked (the CLI's options; see ``evaluate``).  ``None``
    for ``num_images`` / ``noise_trials``: the protocol's; for ``classifier_epochs``: each
    classifier's :func:`~augintae_tf.metrics.classifiers.auto_epochs`."""

    shots: int = 5  # K seeds per novel class
    num_images: int | None = None  # N few-shot images
    fid_network: str | os.PathLike | None = None
    dataset: str | None = None  # the novel domain (default: the run's)
    split: str | None = None
    held_out: str | None = None  # held-out training-domain images (default: the run's)
    noise_trials: int | None = None
    classifier_epochs: int | None = None
    classifier_limit: int | None = 10_000
    data_limit: int | None = None  # at most this many images per split (default: whole splits)
    seed: int = 0
    double_exposure_ratio: float = 0.5  # quality: flagged when a two-seed blend has < ratio x the error
    double_exposure_shift: int = 2  # quality: shifts (px) the seeds may take in that test
    protocol: str = "quick"  # augintae_tf.eval_protocols.PROTOCOLS
    sampler: str | None = None  # few-shot sampler of the quality rows (default: the run's)
    scale: float | None = None  # its noise scale (default: the run's model.sampler_scale)


# The one statement of the evaluation defaults: evaluate() (EvalOptions), compare() and the CLI's
# `evaluate` / `compare` options all read these, so they cannot drift apart.
EVAL_DEFAULTS = EvalOptions()
COMPARE_NUM_IMAGES = 2000  # compare: few-shot images per run on its one shared plan


def classifier_key(cfg, novel: list, epochs: int, limit: int | None, **extra) -> dict:
    """The cache key of an evaluation classifier (:mod:`augintae_tf.metrics.classifiers`): the
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


MAX_DOUBLE_EXPOSURE_SHIFT = 4  # the test's cost grows as (2 shift + 1)^4


def check_double_exposure(ratio, shift) -> None:
    """RunError (one line, naming the CLI option) unless ``0 < ratio <= 1`` and ``shift`` is an
    integer in ``0..MAX_DOUBLE_EXPOSURE_SHIFT``; TensorFlow-free, so the CLI fails in a moment."""
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
        raise RunError(f"--double-exposure-ratio must be a number in (0, 1], got {ratio!r}")
    if isinstance(shift, bool) or not isinstance(shift, int) or not 0 <= shift <= MAX_DOUBLE_EXPOSURE_SHIFT:
        raise RunError(f"--double-exposure-shift must be an integer from 0 to {MAX_DOUBLE_EXPOSURE_SHIFT} "
                       f"(pixels), got {shift!r}")


# What falls back to the training images when a folder run has no --novel / --held-out.
FALLBACK_WARNINGS = {
    "novel": "the novel images are the training images ({dataset}): few-shot scores measure "
             "classes the model trained on; pass --novel PATH (a folder of other classes)",
    "held_out": "the held-out images are the training images ({dataset}): reconstruction is "
                "measured on images the model trained on; pass --held-out PATH",
}


class Timer:
    """Seconds per named step, accumulated, echoed as they finish."""

    def __init__(self, echo: Callable[[str], object]):
        self.echo, self.timing = echo, {}

    def __call__(self, name: str, fn: Callable[[], Any]):
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
        self.timing[name] = round(self.timing.get(name, 0.0) + seconds, 3)
        self.echo(f"  {name}: {seconds:.1f} s")
        return result


class EvalData:
    """The run under evaluation and its data; each property is computed once, when first read."""

    def __init__(self, run, options: EvalOptions, out: Path, timer: Timer,
                 prepared: dict[str, Any] | None = None, echo: Callable[[str], object] = print,
                 progress: bool = True):
        from augintae_tf.data import resolve_held_out, resolve_novel

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
        from augintae_tf.data import load_arrays

        limit = self.options.data_limit if limit == "data_limit" else limit
        key = f"{which}:{limit}"
        if key not in self._arrays:
            dataset, split = self.source(which)
            found = self.timer("data", lambda: load_arrays(self.cfg.data, split, limit=limit,
                                                           dataset=dataset))
            if not len(found[0]):
                raise RunError(f"no images in {dataset}:{split}")
            if which in FALLBACK_WARNINGS and which not in self._arrays_loaded():
                self.warn_if_training_images(which)
            self._arrays[key] = found
        return self._arrays[key]

    def warn_if_training_images(self, which: str) -> None:
        from augintae_tf.data import same_images

        train = (self.cfg.data.dataset, self.cfg.data.train_split)
        if same_images(self.source(which), train):
            self.echo(f"warning: {FALLBACK_WARNINGS[which].format(dataset=train[0])}")

    def _arrays_loaded(self) -> set[str]:
        """Which of ``"novel"`` / split names were loaded so far."""
        return {key.split(":")[0] for key in self._arrays}

    @property
    def novel(self) -> tuple[np.ndarray, np.ndarray]:
        return self.arrays("novel")

    def reconstruct(self, images):
        return self.run.model(images, training=False)

    @cached_property
    def plan(self):
        from augintae_tf.metrics import sample_fewshot_plan

        o = self.options
        return sample_fewshot_plan(self.novel[1], o.shots, o.num_images, o.seed)

    @cached_property
    def fewshot_images(self) -> np.ndarray:
        """The plan decoded through the model's capability (``generate_from_plan``)."""
        from augintae_tf.metrics import generate_from_plan

        o = self.options
        return self.timer("fewshot_generation", lambda: generate_from_plan(
            self.run.model, self.novel[0], self.plan, sampler=o.sampler, scale=o.scale))

    @cached_property
    def samples(self) -> np.ndarray:
        """``num_images`` samples of a model with the ``sample`` capability (seed ``options.seed``)."""
        from augintae_tf.generation import sample

        o = self.options
        return self.timer("sampling", lambda: sample(self.run.model, o.num_images, o.seed))

    @property
    def classifier_cache(self) -> Path:
        """``OUT/classifiers``: evaluation writes only under its output folder."""
        from augintae_tf.atomic import safe_dir
        from augintae_tf.layout import CLASSIFIERS

        return safe_dir(self.out / CLASSIFIERS, self.out)

    @cached_property
    def classifiers(self):
        """(domain classifier, class classifier), trained once and cached in OUT/classifiers
        (default RUN/eval/classifiers: with --out, nothing is written in the run)."""
        from augintae_tf.metrics.classifiers import cached_classifier

        return self.timer("classifiers", lambda: cached_classifiers(self, cached_classifier))

    @cached_property
    def classifier_values(self) -> dict[str, float]:
        from augintae_tf.metrics.classifiers import classifier_metrics

        domain, classes = self.classifiers
        images, labels = self.novel
        return self.timer("classifier_metrics", lambda: classifier_metrics(
            self.fewshot_images, self.plan.class_label, images, domain, classes))

    @cached_property
    def recon_novel(self) -> float:
        from augintae_tf.metrics import reconstruction_error

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


# --- the built-in metrics: metric(run, data, options) -> dict -----------------------------------
def load_fid_network(options: EvalOptions):
    """The FID metric's prepare hook: runs before the run loads, so a missing network fails fast."""
    from augintae_tf.metrics import FeatureExtractor

    return FeatureExtractor(options.fid_network)


def fid(run, data: EvalData, options: EvalOptions) -> dict:
    """Few-shot FID (plan images vs novel images) and random-sample FID (Gaussian fitted to the
    encoded training images vs the training-domain test split), Inception-v3 pool3."""
    from augintae_tf.metrics import (activation_statistics, cached_statistics, frechet_distance,
                                     random_latent_samples, statistics_cache_path)

    extractor, cfg, progress = data.prepared["fid"], data.cfg, data.progress

    def real_stats(dataset, split, which):
        images, _ = data.arrays(which)
        path = statistics_cache_path(_fid_cache_dir(), dataset, split, extractor.name,
                                     cfg.data.image_size, len(images))
        return cached_statistics(path, lambda: extractor(images, progress=progress))

    def fid_of(images, reference):
        return frechet_distance(*activation_statistics(extractor(images, progress=progress)),
                                *reference)

    out = {"fid_network": extractor.name}
    if run.model.has(Capability.FEWSHOT):
        out["fid_fewshot"] = fid_of(data.fewshot_images,
                                    real_stats(data.novel_dataset, data.novel_split, "novel"))
    if run.model.has(Capability.LATENT):
        samples = random_latent_samples(run.model, data.arrays(cfg.data.train_split)[0],
                                        options.num_images, options.seed)
    elif run.model.has(Capability.SAMPLE):  # a sample-only model (e.g. FastGAN): its noise prior
        samples = data.samples
    else:  # DAGAN, the statistician: nothing to sample without seeds
        out["fid_random"] = None
        return out
    out["fid_random"] = fid_of(samples, real_stats(*data.source("held_out"), "held_out"))
    return out


def pixel_features(images, size: int = 8) -> np.ndarray:
    """Images area-resized to ``size`` x ``size``, flattened: a crude, offline feature space."""
    import tensorflow as tf

    small = tf.image.resize(np.asarray(images, np.float32), (size, size), method="area")
    return small.numpy().reshape(len(images), -1).astype(np.float64)


def samples(run, data: EvalData, options: EvalOptions) -> dict:
    """Fréchet distance between ``num_images`` samples and the held-out (test split) images in
    8x8-pixel features (``fd_px8_samples``), beside the floor ``fd_px8_floor`` (training vs
    held-out images: what a generator that reproduced the training set would score)."""
    from augintae_tf.metrics import frechet_distance_from_activations

    cfg = data.cfg.data
    test, _ = data.arrays("held_out")
    train, _ = data.arrays(cfg.train_split)
    reference = pixel_features(test)
    return {"fd_px8_samples": frechet_distance_from_activations(pixel_features(data.samples),
                                                                reference),
            "fd_px8_floor": frechet_distance_from_activations(pixel_features(train), reference),
            "samples_seed": options.seed, "samples_num": len(data.samples)}


def _fid_cache_dir() -> Path:
    return Path(os.environ.get("AUGINTAE_CACHE_DIR") or Path.home() / ".cache" / "augintae_tf") / "fid"


def _classifier_accuracies(data: EvalData) -> dict:
    domain, classes = data.classifiers
    return {"domain_classifier_accuracy": domain.accuracy,
            "class_classifier_accuracy": classes.accuracy}


def fd_clf(run, data: EvalData, options: EvalOptions) -> dict:
    """Fréchet distance in the novel-class classifier's penultimate features."""
    return {**_classifier_accuracies(data), "fd_clf": data.classifier_values["fd_clf"]}


def classifier(run, data: EvalData, options: EvalOptions) -> dict:
    """Share of few-shot images judged novel-domain; accuracy on their seeds' class (A.3: by a
    classifier trained on every novel image, the seeds included; the quality table's class
    accuracy uses one that never saw the seeds).  A value from a classifier whose held-out
    accuracy is within chance is None, with ``KEY_note`` saying so and ``KEY_raw`` the value."""
    from augintae_tf.metrics.classifiers import chance_problem

    values, out = data.classifier_values, _classifier_accuracies(data)
    for key, trained, what in (("domain_share", data.classifiers[0], "domain"),
                               ("class_accuracy", data.classifiers[1], "novel-class")):
        problem = chance_problem(trained, what)
        out[key] = None if problem else values[key]
        if problem:
            out[f"{key}_raw"], out[f"{key}_note"] = values[key], problem
    return out


def recon(run, data: EvalData, options: EvalOptions) -> dict:
    """Reconstruction MSE per pixel on novel images and on the training domain's test split."""
    from augintae_tf.metrics import reconstruction_error

    test_images, _ = data.arrays("held_out")
    return {"recon_novel": data.recon_novel,
            "recon_test": reconstruction_error(data.reconstruct, test_images)}


def noise(run, data: EvalData, options: EvalOptions) -> dict:
    """Reconstruction error of uniform noise per frequency (``noise.png``, novel error dotted)."""
    from augintae_tf.metrics import noise_reconstruction_curve, plot_noise_curve

    cfg = data.cfg
    curve = noise_reconstruction_curve(data.reconstruct, cfg.data.image_size, cfg.data.channels,
                                       trials=options.noise_trials, seed=options.seed,
                                       progress=data.step)
    plot_noise_curve({cfg.model.name: curve}, {cfg.model.name: data.recon_novel},
                     data.out / "noise.png", title=f"{run.directory.name}: noise reconstruction")
    return {"recon_novel": data.recon_novel, "noise": {str(f): e for f, e in curve.items()},
            "noise_mean": float(np.mean(list(curve.values())))}


def interp(run, data: EvalData, options: EvalOptions) -> dict:
    """Pixel fade and slerp rows for same-class novel pairs (``interpolations.png``)."""
    from augintae_tf.eval_figures import interpolation_figure

    images, labels = data.novel
    interpolation_figure(data.out / "interpolations.png", [run], images, labels, options.seed)
    return {}
