"""Few-shot samplers side by side: per novel class its seeds, then a row per sampler and run.

Every row is labelled (``RUN: SAMPLER``); the classes are spread over the novel split (every
``len(classes) // classes``-th), not picked by hand; each sampler draws with the same ``--seed``.

    python benchmarks/sampler_figure.py --runs runs/digits-ae runs/digits-augintae \
        --samplers slerp,local-edit --out benchmarks/figures/samplers-digits.png
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", required=True, help="trained run directories")
    parser.add_argument("--names", nargs="*", default=None, help="a label per run (default: folder)")
    parser.add_argument("--samplers", default="slerp,local-edit")
    parser.add_argument("--scale", type=float, default=None, help="default: each run's")
    parser.add_argument("--novel-dataset", default=None, help="default: the first run's")
    parser.add_argument("--novel-split", default=None)
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--shots", type=int, default=5)
    parser.add_argument("--num", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    from augintae_tf.data import load_arrays, resolve_novel
    from augintae_tf.images import save_labelled_grid
    from augintae_tf.metrics.fewshot import sample_seeds
    from augintae_tf.inference.loaded import load_run

    runs = [load_run(path, warn=None) for path in args.runs]
    names = args.names or [Path(path).name for path in args.runs]
    data = dataclasses.replace(runs[0].config.data, limit=None)
    dataset, split = resolve_novel(data)
    dataset, split = args.novel_dataset or dataset, args.novel_split or split
    images, labels = load_arrays(data, split, dataset=dataset)
    seeds = sample_seeds(labels, args.shots, args.seed)  # the benchmark's seeds
    classes = sorted(seeds)
    rows, titles = [], []
    for label in classes[:: max(1, len(classes) // args.classes)][:args.classes]:
        chosen = images[seeds[label]]
        rows.append(chosen)
        titles.append(f"class {label}: seeds")
        for run, name in zip(runs, names):
            for sampler in args.samplers.split(","):
                rows.append(run.generate(chosen, num=args.num, seed=args.seed, sampler=sampler,
                                         scale=args.scale, warn=None))
                titles.append(f"{name}: {sampler}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    path = save_labelled_grid(args.out, rows, titles, upscale=2)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
