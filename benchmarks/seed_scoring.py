"""What every row of ``seed_warps.py``, ``seed_centred.py`` and ``episode_flows.py`` is scored with.

One novel test set, one 5-shot plan, one quality classifier (cached) and one utility plan
(:func:`scoring_setup`); the quality table with its reference rows, the utility test with its
paired gains and each row's FD terms (``fd_terms.py``), printed and written as JSON
(:func:`score_and_write`).  :func:`add_scoring_args` adds the options they read;
:func:`episode_of` names the episode a utility generator is called for.
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np


def episode_of(labels, options, seed: int):
    """``(episode, class)`` a utility generator's ``seed`` names: ``fewshot_utility`` calls each
    generator with ``seed = 1000 * (options.seed + episode) + class position`` over the
    episode's classes in the order of ``episode_split``'s seeds."""
    from augintae_tf.metrics.fewshot_utility import episode_split

    episode = episode_split(labels, options.shots, options.utility_extra, seed // 1000)
    return episode, list(episode.seeds)[seed % 1000]


def add_scoring_args(parser: argparse.ArgumentParser) -> None:
    """The options :func:`scoring_setup` and :func:`score_and_write` read, and ``--figure``."""
    parser.add_argument("--num-images", type=int, default=1000)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--classifier-seeds", type=int, default=3)
    parser.add_argument("--classifier-epochs", type=int, default=10)
    parser.add_argument("--scoring", default="runs/seed_warps",
                        help="the quality classifier's cache")
    parser.add_argument("--out", required=True)
    parser.add_argument("--figure", default=None, help="also write a labelled grid (PNG) here")


class Setup(NamedTuple):
    run: object
    data: object  # the run's data section, without its limit
    images: np.ndarray  # the novel domain's test images
    labels: np.ndarray
    options: object  # CompareOptions of the plan and the utility test
    plan: object
    seeds: dict
    split: object  # real_split of the plan: comparison and floor
    classifier: object  # the quality classifier


def scoring_setup(args) -> Setup:
    """What every row of these benchmarks is scored with: ``args.run`` and its novel test images
    (``args.novel``), the 5-shot plan of ``args.num_images`` (seed 0), the utility options
    (``args.episodes`` x ``args.classifier_seeds``) and the quality classifier cached under
    ``args.scoring`` (trained ``args.classifier_epochs`` on the comparison split)."""
    from augintae_tf.atomic import safe_dir
    from augintae_tf.data import load_arrays
    from augintae_tf.evaluation.options import CompareOptions
    from augintae_tf.evaluation.quality import quality_classifier
    from augintae_tf.inference.loaded import load_run
    from augintae_tf.metrics.fewshot import sample_fewshot_plan, sample_seeds
    from augintae_tf.metrics.reference_rows import real_split
    from augintae_tf.run.layout import CLASSIFIERS

    run = load_run(args.run)
    data = dataclasses.replace(run.config.data, limit=None)
    images, labels = load_arrays(data, "test", dataset=args.novel)
    options = CompareOptions(shots=5, num_images=args.num_images, seed=0, utility=True,
                             utility_seeds=args.classifier_seeds, utility_episodes=args.episodes,
                             classifier_epochs=args.classifier_epochs, classifier_limit=10_000)
    plan = sample_fewshot_plan(labels, options.shots, options.num_images, options.seed)
    seeds = sample_seeds(labels, options.shots, 0)
    split = real_split(labels, plan, seed=0, seeds=seeds)
    scoring = Path(args.scoring)
    classifier = quality_classifier(safe_dir(scoring / CLASSIFIERS, scoring), run.config,
                                    [args.novel, "test"], images, labels, split,
                                    epochs=options.classifier_epochs,
                                    limit=options.classifier_limit, seed=0, echo=print)
    return Setup(run, data, images, labels, options, plan, seeds, split, classifier)


def score_and_write(args, setup: Setup, generated: dict, gens: dict, record: dict,
                    start: float) -> None:
    """Scores ``generated`` (plan images per row) beside the reference rows and ``gens``
    (utility generators) in the utility test, prints both tables, the paired gains and each
    row's FD terms (``fd_terms.py``), and writes ``record`` plus the scores to ``args.out``."""
    from augmented_outputs import paired_rows
    from fd_terms import fd_terms, terms_table
    from augintae_tf.atomic import write_json
    from augintae_tf.evaluation.quality import score
    from augintae_tf.evaluation.utility import add_utility, utility_of
    from augintae_tf.metrics.quality_table import quality_table
    from augintae_tf.metrics.reference_rows import affine_fn

    affine = affine_fn(setup.run.config.augment)
    result = score(generated, setup.plan, setup.images, setup.labels, setup.classifier,
                   shots=setup.options.shots, seed=0, augment_fn=affine)
    terms = fd_terms(generated, setup.images, setup.labels, setup.plan, setup.split,
                     setup.classifier.embed, affine)
    add_utility(result, utility_of(gens, setup.images, setup.labels, setup.options, affine))
    print(quality_table(result))
    print("\n".join(paired_rows(result["utility"]["rows"])))
    print(terms_table(terms))
    record = {"run": str(args.run), "novel": [args.novel, "test"], **record,
              "num_images": args.num_images,
              "scoring_s": round(time.perf_counter() - start, 1),
              "quality": {k: v for k, v in result.items() if k != "per_class"},
              "fd_terms": terms}
    write_json(args.out, record, separators=(",", ":"))
    print(f"wrote {args.out}")
