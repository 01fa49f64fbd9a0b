"""The ``utility`` metric of ``evaluate`` and ``compare``: a few-shot classifier's accuracy on the
novel classes trained on the seeds, the seeds + a model's images, + augmented copies, + other real
images (:mod:`augintae_tf.metrics.fewshot_utility`), and its columns in the quality table.

In the quality table a model's row shows (b) for its own images; the reference rows show what
stands for them here: the seed copies (a) -- copies add nothing a classifier does not already get
from the seeds --, the augmented copies (c) and the floor, real images of the class, (d).  The
cross-fade has no utility value.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from augintae_tf.metrics.reference_rows import affine_fn
from augintae_tf.metrics.fewshot_utility import AUGMENTED, REAL, SEEDS, fewshot_utility, utility_table

# the quality table's reference rows -> the utility set standing for them
QUALITY_ROWS = {"seed_copies": SEEDS, "seed_augmented": AUGMENTED, "floor": REAL}


def model_generator(model, sampler: str | None = None, scale: float | None = None):
    """``(seed images of one class, count, seed) -> images``: ``model.fewshot`` with ``sampler``
    and ``scale`` (None: the run's)."""
    def generate(seeds, count: int, seed: int) -> np.ndarray:
        images = model.fewshot(tf.convert_to_tensor(np.asarray(seeds, np.float32)), count, seed,
                               sampler=sampler, scale=scale)
        return keras.ops.convert_to_numpy(images).astype(np.float32, copy=False)

    return generate


def utility_of(generators: dict, images, labels, options, augment_fn, echo=None) -> dict:
    """:func:`~augintae_tf.metrics.fewshot_utility.fewshot_utility` with ``options``' shots, seed and
    ``utility_*`` counts."""
    return fewshot_utility(images, labels, generators, shots=options.shots,
                           extra=options.utility_extra, episodes=options.utility_episodes,
                           classifier_seeds=options.utility_seeds, steps=options.utility_steps,
                           augment_fn=augment_fn, seed=options.seed, progress=echo)


def utility(run, data, options) -> dict:
    """The ``utility`` metric: the run's few-shot images (its sampler, or ``options.sampler``)
    against the three reference sets; echoes its table, keeps the result for the quality table
    (``data.utility_result``) and returns ``{"utility": result}``."""
    images, labels = data.novel
    name = run.config.model.name
    generators = {name: model_generator(run.model, options.sampler, options.scale)}
    result = data.timer("utility", lambda: utility_of(generators, images, labels, options,
                                                      affine_fn(run.config.augment)))
    data.utility_result = result
    data.echo(utility_table(result))
    return {"utility": result}


def add_utility(quality: dict, result: dict | None) -> dict:
    """``quality`` (a :func:`~augintae_tf.metrics.fewshot_quality.fewshot_quality` result) with columns
    ``utility`` (mean accuracy), ``utility_std`` and ``utility_share`` (and ``utility_noisy``)
    on the rows the utility ``result`` has a set for, and ``quality["utility"] = result``."""
    if not result:
        return quality
    sets = result["rows"]
    for name, row in quality["rows"].items():
        match = sets.get(QUALITY_ROWS.get(name, name))
        if match is None:
            continue
        row["utility"], row["utility_std"] = match["mean"], match["std"]
        row["utility_share"] = match.get("share")
        row["utility_noisy"] = match.get("noisy", False)
    quality["utility"] = result
    return quality
