"""Few-shot quality with reference rows in ``evaluate`` (metric ``quality``) and ``compare``.

Both score a model's few-shot images beside the floor, the seed copies and the pixel cross-fade
(:mod:`augintae_tf.metrics.reference_rows`) built on exactly the same plan: seeds are
``sample_seeds(labels, shots, seed)`` -- the seeds the plan itself was drawn with -- and the real
images split into a *comparison* half and a *floor* half (``real_split``).

The feature/class network is a classifier trained on the comparison half only: trained on every
novel image it would have learnt the floor set and the seeds (on glyphs its class accuracy on the
floor read 0.94 that way, 0.60 unseen), flattering the floor and seed-copy rows while a model's
images are always unseen.  It is cached like the other classifiers (``OUT/classifiers``,
by default ``RUN/eval/classifiers``; ``compare``'s ``OUT/classifiers``) under a key that includes a digest of the comparison indices.

``compare`` regenerates every run's few-shot images itself on one shared plan instead of reading
each run's ``eval/metrics.json``: evaluations may have used other shots, image counts or seeds,
and reference rows only mean something when every row shares the plan, the split and the scorer.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np

from augintae_tf.atomic import safe_dir
from augintae_tf.capabilities import Capability
from augintae_tf.evaluation.classifiers import cached_classifier, chance_problem
from augintae_tf.evaluation.inputs import classifier_key, classifier_settings, subsample
from augintae_tf.evaluation.figures import unique_names
from augintae_tf.evaluation.options import CompareOptions, check_double_exposure
from augintae_tf.evaluation.utility import add_utility, model_generator, utility_of
from augintae_tf.metrics.fewshot import generate_from_plan, sample_fewshot_plan, sample_seeds
from augintae_tf.metrics.fewshot_quality import fewshot_quality
from augintae_tf.metrics.guards import withhold
from augintae_tf.metrics.quality_table import quality_table
from augintae_tf.metrics.reference_rows import affine_fn, nearer_seed, real_split
from augintae_tf.run.layout import CLASSIFIERS


def quality_classifier(cache_dir: Path, cfg, novel_key: list, images, labels, split, *,
                       epochs: int, limit: int | None, seed: int, echo: Callable[[str], object]):
    """The class classifier of the quality rows, trained on ``images[split.comparison]`` (at most
    ``limit`` of them) and cached in ``cache_dir/quality.*`` under a key naming that split."""
    digest = hashlib.sha256(np.asarray(split.comparison, np.int64).tobytes()).hexdigest()[:16]
    key = classifier_key(cfg, novel_key, epochs, limit, split="comparison",
                         comparison=[int(len(split.comparison)), digest])

    def comparison_data():
        echo("  training the quality classifier on the comparison split")
        return subsample(images[split.comparison], labels[split.comparison], limit, seed)

    return cached_classifier(cache_dir, "quality", key, comparison_data,
                             **classifier_settings(cfg, epochs, seed))


def score(generated: dict, plan, images, labels, classifier, *, shots: int, seed: int,
          double_exposure_ratio: float = 0.5, double_exposure_shift: int = 2,
          augment_fn: Callable | None = None) -> dict:
    """:func:`~augintae_tf.metrics.fewshot_quality.fewshot_quality` of ``generated`` (``{name: images}``)
    plus the reference rows (``augment_fn``: also the augmented copies), seeds = the plan's own
    ``sample_seeds(labels, shots, seed)``."""
    seeds = sample_seeds(labels, shots, seed)
    result = fewshot_quality(generated, plan, images, labels, classifier.embed,
                             classify_fn=classifier.predict, seeds=seeds, seed=seed,
                             augment_fn=augment_fn,
                             double_exposure_ratio=double_exposure_ratio,
                             double_exposure_shift=double_exposure_shift)
    counts = result["counts"]
    counts["classifier_accuracy"] = classifier.accuracy  # on its held-out comparison images
    counts["classifier_held_out"] = classifier.held_out
    counts["classifier_epochs"] = classifier.epochs
    problem = chance_problem(classifier, "quality")
    if problem:  # its predictions and features are noise: no class accuracy, no k-NN manifolds
        withhold(result, CLASSIFIER_COLUMNS, problem)
    return result


# The quality columns read from the classifier's predictions or its feature k-NN balls: withheld
# when it did not learn.  With ~20 real images a class and features that do not separate them,
# each k-NN ball spans most of a class, so every row reads precision 1 (measured on a 6-class,
# 300-image folder); FD and seed distance stay, as distances in those features.
CLASSIFIER_COLUMNS = ("class_accuracy", "precision", "recall", "density", "coverage")


RECONSTRUCTIONS = ": seed reconstructions"  # suffix of a model's diagnostic row


def seed_reconstructions(model, images, plan, batch_size: int = 256) -> np.ndarray | None:
    """Per plan row, the model's reconstruction ``decode(encode(x))`` of the seed that row's alpha
    weights more (:func:`~augintae_tf.metrics.reference_rows.nearer_seed`, the seed-copies row's image):
    no interpolation, so beside the seed copies it shows what the decoder alone loses (blur), and
    beside the model's own row what interpolating adds.  ``None`` for a model without a latent."""
    if not model.has(Capability.LATENT):
        return None
    nearer = nearer_seed(plan)
    used = np.unique(nearer)
    seeds = np.asarray(images, np.float32)[used]
    recon = np.concatenate([keras.ops.convert_to_numpy(model(seeds[i:i + batch_size], training=False))
                            for i in range(0, len(seeds), batch_size)])
    return recon.astype(np.float32, copy=False)[np.searchsorted(used, nearer)]


def with_reconstructions(generated: dict, models: dict, images, plan) -> dict:
    """``generated`` plus a ``NAME: seed reconstructions`` row after each model that has a latent
    (``models``: ``{name: model}``, the same names)."""
    out = {}
    for name, array in generated.items():
        out[name] = array
        recon = seed_reconstructions(models[name], images, plan)
        if recon is not None:
            out[name + RECONSTRUCTIONS] = recon
    return out


def _split(labels, plan, shots: int, seed: int):
    return real_split(labels, plan, seeds=sample_seeds(labels, shots, seed), seed=seed)


def quality(run, data, options) -> dict:
    """The ``quality`` metric: the run's few-shot images and the reference rows, one table
    (echoed), ``{"quality": {"rows", "per_class", "counts"}}`` in ``metrics.json``."""
    images, labels = data.novel
    plan = data.plan
    split = _split(labels, plan, options.shots, options.seed)
    classifier = data.timer("quality_classifier", lambda: quality_classifier(
        data.classifier_cache, data.cfg, [str(data.novel_dataset), data.novel_split],
        images, labels, split, epochs=options.classifier_epochs, limit=options.classifier_limit,
        seed=options.seed, echo=data.echo))
    name = run.config.model.name
    generated = with_reconstructions({name: data.fewshot_images}, {name: run.model}, images, plan)
    result = data.timer("quality_rows", lambda: score(
        generated, plan, images, labels, classifier, shots=options.shots, seed=options.seed,
        double_exposure_ratio=options.double_exposure_ratio,
        double_exposure_shift=options.double_exposure_shift,
        augment_fn=affine_fn(run.config.augment)))
    add_utility(result, getattr(data, "utility_result", None))
    data.echo(quality_report(result))
    return {"quality": result}


def quality_report(result: dict) -> str:
    """What ``evaluate`` prints of the quality metric: its table."""
    return quality_table(result)


def sampler_and_scale(token: str | None, scale: float | None) -> tuple[str | None, float | None]:
    """``"SAMPLER:SCALE"`` -> ``(SAMPLER, float(SCALE))``; ``"SAMPLER"`` -> ``(SAMPLER, scale)``."""
    if token is None or ":" not in token:
        return token, scale
    sampler, _, own = token.partition(":")
    return sampler, float(own)


def compare_quality(runs, images, labels, novel_key: list, out: Path, options: CompareOptions,
                    echo: Callable[[str], object], reconstructions: bool = False
                    ) -> dict[str, Any]:
    """Every run's few-shot images on one shared plan (``options``: shots, num_images, seed),
    scored with one classifier (classifier_epochs, classifier_limit) and one set of reference
    rows (double_exposure_*: that column's test, :mod:`augintae_tf.metrics.double_exposure`);
    the classifier and the augmented copies' ranges are the first run's config's.
    ``options.samplers``: one row per run and sampler its model has (a row ``NAME [SAMPLER]``
    for each; none given: each run's own; ``SAMPLER:SCALE`` gives that row its own scale),
    ``options.scale`` the noisy samplers' scale (None: each run's); ``reconstructions``: also
    each run's :func:`seed_reconstructions` row."""
    o = options
    check_double_exposure(o.double_exposure_ratio, o.double_exposure_shift)
    plan = sample_fewshot_plan(labels, o.shots, o.num_images, o.seed)
    split = _split(labels, plan, o.shots, o.seed)
    classifier = quality_classifier(safe_dir(out / CLASSIFIERS, out), runs[0].config, novel_key,
                                    images, labels, split, epochs=o.classifier_epochs,
                                    limit=o.classifier_limit, seed=o.seed, echo=echo)
    models = dict(zip(unique_names(runs), (run.model for run in runs)))
    generated, generators = {}, {}
    for name, model in models.items():
        for token in o.samplers or (None,):
            sampler, scale = sampler_and_scale(token, o.scale)
            if sampler is None or sampler in model.samplers:
                row = name if token is None else f"{name} [{token}]"
                generated[row] = generate_from_plan(model, images, plan, sampler=sampler,
                                                    scale=scale)
                generators[row] = model_generator(model, sampler, scale)
        recon = seed_reconstructions(model, images, plan) if reconstructions else None
        if recon is not None:
            generated[name + RECONSTRUCTIONS] = recon
    augment_fn = affine_fn(runs[0].config.augment)
    result = score(generated, plan, images, labels, classifier, shots=o.shots, seed=o.seed,
                   double_exposure_ratio=o.double_exposure_ratio,
                   double_exposure_shift=o.double_exposure_shift, augment_fn=augment_fn)
    if o.utility:
        echo("  utility: training the few-shot classifiers")
        add_utility(result, utility_of(generators, images, labels, o, augment_fn))
    return result
