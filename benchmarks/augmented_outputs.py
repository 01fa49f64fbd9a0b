"""Utility of a run's few-shot images passed through its own augmentation, beside the plain images.

The augmented copies of the seeds (no model) teach the few-shot classifier more than any model's
images do.  This asks whether a model adds anything on top: each sampler gives two rows, its
images as generated and the same images each under one random affine in the run's augmentation
ranges (:func:`augintae_tf.metrics.reference_rows.affine_fn`, the augmented-copies row's own
augmentation, same seed).  The utility test is ``fewshot_utility`` with the defaults of
``benchmarks/fewshot_quality.py`` (5 shots, up to 100 added images per class, 300 steps).

    python benchmarks/augmented_outputs.py --run RUN --samplers local-edit:0.7,local-edit:1 \
        --novel digits --episodes 10 --out benchmarks/results/augmented_outputs.json

Prints one row per training set (mean +- std over episodes x classifier seeds, share of the real
gain, paired gains over the seeds alone (a) and over the augmented copies (c), +- 2 standard
errors) and writes the whole result as JSON.
"""
from __future__ import annotations

import argparse

import numpy as np

NOVEL = {"digits": "test", "patches": "test"}  # dataset -> its novel split


def _paired(runs: np.ndarray, base: np.ndarray) -> str:
    """Mean of the run-by-run differences +- 2 standard errors."""
    gain = runs - base
    two_se = 2 * gain.std(ddof=1) / np.sqrt(len(gain)) if len(gain) > 1 else float("nan")
    return f"{gain.mean():+.3f} +- {two_se:.3f}"


def paired_rows(rows: dict) -> list[str]:
    """Markdown rows: set, accuracy mean +- std, share (b - a) / (d - a), paired b - a and
    b - c (c: the augmented copies), each +- 2 standard errors."""
    seeds, real = np.array(rows["seeds"]["runs"]), np.array(rows["real"]["runs"])
    copies = np.array(rows["seed_augmented"]["runs"])
    lines = ["| training set | accuracy | share | paired gain over (a) | paired over (c) |",
             "|---|---|---|---|---|"]
    for name, row in rows.items():
        runs = np.array(row["runs"])
        share = (runs.mean() - seeds.mean()) / (real.mean() - seeds.mean())
        lines.append(f"| {name} | {runs.mean():.3f} +- {runs.std():.3f} | {share:.2f} | "
                     f"{_paired(runs, seeds)} | {_paired(runs, copies)} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a trained run directory")
    parser.add_argument("--samplers", default="local-edit:0.7", help="SAMPLER:SCALE, comma list")
    parser.add_argument("--novel", default="digits", choices=sorted(NOVEL))
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--classifier-seeds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    from augintae_tf.atomic import write_json
    from augintae_tf.data.pipeline import load_arrays
    from augintae_tf.evaluation.utility import model_generator
    from augintae_tf.inference.loaded import load_run
    from augintae_tf.metrics.fewshot_utility import fewshot_utility
    from augintae_tf.metrics.reference_rows import affine_fn

    run = load_run(args.run)
    images, labels = load_arrays(run.config.data, NOVEL[args.novel], dataset=args.novel)
    affine = affine_fn(run.config.augment)
    generators = {}
    for token in args.samplers.split(","):
        sampler, _, scale = token.partition(":")
        plain = model_generator(run.model, sampler, float(scale) if scale else None)
        generators[token] = plain
        generators[f"{token} + affine"] = (
            lambda plain: lambda seeds, count, seed: affine(plain(seeds, count, seed), seed))(plain)
    result = fewshot_utility(images, labels, generators, shots=5, extra=100,
                             episodes=args.episodes, classifier_seeds=args.classifier_seeds,
                             steps=300, augment_fn=affine, seed=args.seed, progress=print)
    print("\n".join(paired_rows(result["rows"])))
    record = {"run": str(args.run), "novel": [args.novel, NOVEL[args.novel]],
              "samplers": args.samplers, "episodes": args.episodes,
              "classifier_seeds": args.classifier_seeds, "seed": args.seed, "utility": result}
    write_json(args.out, record, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
