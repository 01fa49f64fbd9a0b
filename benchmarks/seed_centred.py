"""What images centred on the seeds can reach at best: real images nearest the seeds, scored.

Issue 38's goal asks two things of a few-shot sampler: near, an FD at least 35 % of the way from
the seed copies' to the floor's (real images of the class), and a third of the real-image gain in
the utility test.  Every sampler so far makes images *around the seeds*.  This benchmark asks how
far the best such images could go, with real images standing in for a perfect sampler:

* ``real near seeds``: real images of the class that were never seeds, the half of them nearest
  to their nearest seed (pixel RMS), tiled to the row's count; what a sampler that produced
  only real, new instances close to the seeds would give;
* ``real random half``: a random half of the same real images, tiled the same way, the control
  with the same number of distinct images (so the difference is where they lie, not how many).

In the quality table both come from the floor split (never the comparison set, never seeds); in
the utility test both come from each episode's real extras (the (d) set's images: the half
nearest the seeds, or a random half, tiled to the same count), so (d) is their ceiling.

    python benchmarks/seed_centred.py --run RUN --novel digits --out results/seed_centred_near.json

``--run`` gives the augmentation ranges of the augmented copies and the model of the ``flow`` and
``local-edit`` rows scored beside them (its sampler rows, on the same plan and classifier runs).
Prints the tables and each row's FD terms (``fd_terms.py``), writes JSON (``--figure``: also a
labelled grid of every row).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import augintae_tf  # noqa: F401  before TensorFlow loads: it picks the CPU's oneDNN kernels
from augintae_tf.metrics.manifold import nearest_seed_distance, pixel_rms_distance


def nearest_seed_rms(candidates, seeds) -> np.ndarray:
    """Pixel RMS distance of each candidate image to its nearest seed: ``[len(candidates)]`` (the
    quality table's ``seed_distance_px``, all in one class)."""
    candidates = np.asarray(candidates)
    distances = nearest_seed_distance(candidates, np.zeros(len(candidates)), seeds,
                                      np.zeros(len(seeds)))
    return pixel_rms_distance(distances, candidates.shape[1:])


def half(pool, seeds, nearest: bool, rng) -> np.ndarray:
    """Indices into ``pool`` of ``ceil(len(pool) / 2)`` images: those nearest their nearest seed
    (ties by position), or a random half drawn with ``rng``."""
    keep = -(-len(pool) // 2)
    if nearest:
        return np.argsort(nearest_seed_rms(pool, seeds), kind="stable")[:keep]
    return np.sort(rng.permutation(len(pool))[:keep])


def tiled(chosen, count: int, rng) -> np.ndarray:
    """``count`` items of ``chosen``: every item ``count // len`` times, the rest drawn without
    repetition, in a shuffled order."""
    chosen = np.asarray(chosen)
    reps = np.concatenate([np.tile(np.arange(len(chosen)), count // len(chosen)),
                           rng.permutation(len(chosen))[:count % len(chosen)]])
    return chosen[rng.permutation(reps)]


def quality_rows(images, labels, plan, split, seeds: dict) -> dict:
    """``{row: images on the plan}``: per plan class, its floor images (``split.floor``) halved by
    :func:`half` and :func:`tiled` to the class's plan rows (stream ``[0, 61]``)."""
    images = np.asarray(images, np.float32)
    rows = {"real near seeds": np.zeros((len(plan.alpha),) + images.shape[1:], np.float32)}
    rows["real random half"] = rows["real near seeds"].copy()
    for cls in np.unique(plan.class_label):
        at = np.flatnonzero(plan.class_label == cls)
        pool = split.floor[labels[split.floor] == cls]
        for name, nearest in (("real near seeds", True), ("real random half", False)):
            rng = np.random.default_rng([0, 61, int(cls)])
            picked = pool[half(images[pool], images[seeds[cls]], nearest, rng)]
            rows[name][at] = images[tiled(picked, len(at), rng)]
    return rows


def utility_generators(images, labels, options) -> dict:
    """Utility generators drawing from each episode's real extras (module doc).  A generator is
    called with ``seed = 1000 * (options.seed + episode) + class position``
    (``fewshot_utility``), which names the episode and so its extras."""
    from seed_scoring import episode_of

    images = np.asarray(images, np.float32)

    def make(nearest: bool):
        def generate(seed_images, count: int, seed: int) -> np.ndarray:
            episode, cls = episode_of(labels, options, seed)
            pool = episode.extra[cls]
            rng = np.random.default_rng([seed, 61])
            picked = pool[half(images[pool], seed_images, nearest, rng)]
            return images[tiled(picked, count, rng)]
        return generate

    return {"real near seeds": make(True), "real random half": make(False)}


def figure(path, generated: dict, images, plan, seeds: dict, classes: int = 3, num: int = 10):
    """A labelled grid: for ``classes`` plan classes spread over the sorted labels, the seeds,
    then the first ``num`` plan images of each row of ``generated``."""
    from pathlib import Path

    from augintae_tf.images import save_labelled_grid

    names = np.unique(plan.class_label)
    rows, titles = [], []
    for cls in names[:: max(1, len(names) // classes)][:classes]:
        rows.append(np.asarray(images)[seeds[cls]])
        titles.append(f"class {cls}: the {len(seeds[cls])} seeds")
        at = np.flatnonzero(plan.class_label == cls)[:num]
        for name, made in generated.items():
            rows.append(made[at])
            titles.append(name)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return save_labelled_grid(path, rows, titles, upscale=2)


def parse_args() -> argparse.Namespace:
    from seed_scoring import add_scoring_args

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a trained run (augmentation, its samplers)")
    parser.add_argument("--novel", default="digits", choices=("digits", "patches"))
    parser.add_argument("--samplers", default="flow:1,local-edit:0.7",
                        help="the run's SAMPLER:SCALE rows scored beside them (comma list)")
    add_scoring_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from seed_scoring import score_and_write, scoring_setup
    from augintae_tf.evaluation.utility import model_generator
    from augintae_tf.metrics.fewshot import generate_from_plan

    start = time.perf_counter()
    setup = scoring_setup(args)
    images, labels, plan = setup.images, setup.labels, setup.plan
    generated = quality_rows(images, labels, plan, setup.split, setup.seeds)
    gens = utility_generators(images, labels, setup.options)
    for token in filter(None, args.samplers.split(",")):
        sampler, scale = token.split(":")
        name = f"{sampler} {float(scale):g}"
        generated[name] = generate_from_plan(setup.run.model, images, plan, sampler=sampler,
                                             scale=float(scale))
        gens[name] = model_generator(setup.run.model, sampler, float(scale))
    score_and_write(args, setup, generated, gens, {"samplers": args.samplers}, start)
    if args.figure:
        print(f"wrote {figure(args.figure, generated, images, plan, setup.seeds)}")


if __name__ == "__main__":
    main()
