"""Flows selected with the whole few-shot task in view: keep them inside their class, or at its edge?

FD's terms (``fd_terms.py``) show the ``train-flow`` images spreading toward the other classes:
their spread between classes is half of real images'.  A user training an N-way classifier has
every class's seeds, so a sampler may look at all of them.  Per class, ``--pool`` x as many
``train-flow`` images as the row needs are drawn (``seed_warps.bank_warp``, the bank of
``seed_warps.flow_bank``, draw 0), encoded by the run's model, and ranked by their margin

    m = min_{other-class seeds s} |z - z_s|^2  /  min_{own seeds s} |z - z_s|^2

(m > 1: nearer their own class's seeds than any other class's).  Rows:

* ``train-flow``: the first draw of the same generator, unselected (the pairing reference);
* ``episode-margin``: the images of largest margin, most typical of their own class;
* ``episode-edge``: the images of smallest margin among those with m > 1 (nearer their own
  class than any other), filled up with the largest m below 1 when too few: hard examples
  that stay on their side.

In the quality plan the other classes are the plan's; in the utility test, the episode's
(``seed_scoring.episode_of``: the episode the generator's seed names).  Scored by
``seed_scoring.py`` beside the reference rows.

    python benchmarks/episode_flows.py --run RUN --novel digits --out results/episode_flows_near.json
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import augintae_tf  # noqa: F401  before TensorFlow loads: it picks the CPU's oneDNN kernels

ROWS = ("train-flow", "episode-margin", "episode-edge")


def margins(z, own, others) -> np.ndarray:
    """``m`` (module doc) of latents ``z`` ``[N, D]``: own seeds' latents ``[K, D]``, the other
    classes' ``[M, D]``."""
    def nearest(seeds):
        return np.min(((z[:, None] - np.asarray(seeds)[None]) ** 2).sum(-1), axis=1)

    return nearest(others) / np.maximum(nearest(own), 1e-12)


def pick(m, count: int, kind: str) -> np.ndarray:
    """Indices of ``count`` candidates by margin ``m``: ``episode-margin`` the largest first;
    ``episode-edge`` those with m > 1 from the smallest up, then those below 1 from the largest
    down."""
    order = np.argsort(-m, kind="stable")
    if kind == "episode-edge":
        inside = order[m[order] > 1][::-1]
        order = np.concatenate([inside, order[m[order] <= 1]])
    return order[:count]


def selector(model, bank, scale: float, pool: int, kind: str):
    """``(seeds, count, seed, other_seeds) -> images``: ``pool * count`` flows, ``count`` kept."""
    from seed_warps import bank_warp

    draw = bank_warp(bank, scale)

    def select(seeds, count: int, seed: int, others) -> np.ndarray:
        # a draw of its own (seed + 100): the pool is not the unselected row's images plus more
        candidates = draw(seeds, pool * count, seed + 100)
        encode = lambda x: model.encode(np.asarray(x, np.float32)).numpy()  # noqa: E731
        m = margins(encode(candidates), encode(seeds), encode(others))
        return candidates[pick(m, count, kind)]

    return select


def utility_generators(select_by: dict, images, labels, options, plain) -> dict:
    """Utility generators: the other classes are those of the episode the seed names
    (``seed = 1000 * episode + class position``, as ``fewshot_utility`` calls them)."""
    from seed_scoring import episode_of

    def make(select):
        def generate(seed_images, count: int, seed: int) -> np.ndarray:
            episode, mine = episode_of(labels, options, seed)
            others = np.concatenate([chosen for c, chosen in episode.seeds.items() if c != mine])
            return select(seed_images, count, seed, images[others])
        return generate

    return {"train-flow": plain, **{name: make(s) for name, s in select_by.items()}}


def plan_rows(select_by: dict, images, plan, seeds: dict, plain) -> dict:
    """Per plan class (generation seed = its sorted position), each row's images."""
    out = {name: np.zeros((len(plan.alpha),) + images.shape[1:], np.float32)
           for name in ("train-flow", *select_by)}
    for position, cls in enumerate(np.unique(plan.class_label)):
        at = np.flatnonzero(plan.class_label == cls)
        own = images[seeds[cls]]
        others = images[np.concatenate([seeds[c] for c in seeds if c != cls])]
        out["train-flow"][at] = plain(own, len(at), position)
        for name, select in select_by.items():
            out[name][at] = select(own, len(at), position, others)
    return {name: np.clip(made, 0.0, 1.0) for name, made in out.items()}


def main() -> None:
    from seed_scoring import add_scoring_args, score_and_write, scoring_setup
    from seed_warps import bank_warp, flow_bank
    from augintae_tf.data import load_arrays

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a trained digits run (its encoder, data)")
    parser.add_argument("--novel", default="digits", choices=("digits", "patches"))
    parser.add_argument("--scale", type=float, default=1.0, help="the fields' scale")
    parser.add_argument("--pool", type=int, default=4, help="candidates per kept image")
    add_scoring_args(parser)
    args = parser.parse_args()
    start = time.perf_counter()
    setup = scoring_setup(args)
    bank = flow_bank(*load_arrays(setup.data, "train", dataset="digits"))
    plain = bank_warp(bank, args.scale)
    model, images = setup.run.model, np.asarray(setup.images, np.float32)
    select_by = {kind: selector(model, bank, args.scale, args.pool, kind) for kind in ROWS[1:]}
    generated = plan_rows(select_by, images, setup.plan, setup.seeds, plain)
    gens = utility_generators(select_by, images, setup.labels, setup.options, plain)
    score_and_write(args, setup, generated, gens, {"scale": args.scale, "pool": args.pool}, start)


if __name__ == "__main__":
    main()
