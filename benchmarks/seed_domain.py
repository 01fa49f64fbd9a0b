"""How often `generate`'s seed-domain warning fires, per trained run and source of seeds.

For each run and each (dataset, split) of seeds, every class's 5 seeds (the benchmark's
``sample_seeds``) are placed among the run's held-out reconstruction errors
(:func:`augintae_tf.models.latent_stats.seed_domain`); the table gives the share of classes warned
about and the median ratio of the seeds' error to the held-out median. The run's own novel
classes should rarely warn, another domain should.

    python benchmarks/seed_domain.py --runs RUN1 RUN2 --sources glyphs:test glyphs:far digits:test
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", required=True)
    parser.add_argument("--sources", nargs="+", default=["glyphs:test", "glyphs:far", "digits:test"])
    parser.add_argument("--shots", type=int, default=5)
    parser.add_argument("--out", default=None, help="JSON of the table")
    args = parser.parse_args()

    from augintae_tf.data import load_arrays
    from augintae_tf.metrics.fewshot import sample_seeds
    from augintae_tf.inference.loaded import load_run

    table = []
    print("| run | seeds | classes | warned | median ratio |\n|---|---|---|---|---|")
    for path in args.runs:
        run = load_run(path, warn=None)
        data = dataclasses.replace(run.config.data, limit=None)
        for source in args.sources:
            dataset, split = source.split(":")
            images, labels = load_arrays(data, split, dataset=dataset)
            places = [run.seed_domain(images[index])
                      for index in sample_seeds(labels, args.shots, 0).values()]
            row = {"run": Path(path).name, "seeds": source, "classes": len(places),
                   "warned": float(np.mean([p.outside for p in places])),
                   "median_ratio": float(np.median([p.ratio for p in places]))}
            table.append(row)
            print(f"| {row['run']} | {source} | {row['classes']} | {row['warned']:.2f} | "
                  f"{row['median_ratio']:.2f} |")
    if args.out:
        Path(args.out).write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
