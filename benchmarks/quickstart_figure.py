"""The README quickstart's figure: few-shot characters of held-out alphabets from a trained run.

Per row: the 5 seed images of one evaluation-alphabet character, a gap, then ``--num`` generated
images (``run.generate``: the run's own sampler, local-edit for the recommended recipe).  The characters are spread over the
novel classes (every ``len(classes) // rows``-th), not picked by hand.

    python benchmarks/quickstart_figure.py --run-dir runs/quickstart \
        --out benchmarks/figures/quickstart-grid.png
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--out", default="benchmarks/figures/quickstart-grid.png")
    parser.add_argument("--rows", type=int, default=6)
    parser.add_argument("--shots", type=int, default=5)
    parser.add_argument("--num", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from augintae_tf.data import load_arrays, resolve_novel
    from augintae_tf.images import save_grid
    from augintae_tf.inference.loaded import load_run

    run = load_run(args.run_dir)
    data = dataclasses.replace(run.config.data, limit=None)
    dataset, split = resolve_novel(data)
    images, labels = load_arrays(data, split, dataset=dataset)
    classes = np.unique(labels)
    rows = []
    blank = np.ones((1,) + images.shape[1:], np.float32)  # a white gap between seeds and output
    for label in classes[:: max(1, len(classes) // args.rows)][:args.rows]:
        seeds = images[labels == label][:args.shots]
        generated = run.generate(seeds, num=args.num, seed=args.seed)
        rows.append(np.concatenate([seeds, blank, generated]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    path = save_grid(args.out, rows, upscale=2)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB): rows = {args.rows} novel characters, "
          f"{args.shots} seeds | {args.num} generated")


if __name__ == "__main__":
    main()
