"""Train ae, intae and augintae on glyphs with the same budget; compare them.

Prints a table and writes JSON: wall time, images/s, final training loss, reconstruction MSE on
held-out background instances (validation) and on the novel evaluation alphabets (test), and
writes a few-shot grid per model (5 seeds of each of 4 novel characters -> 12 generations).

    python benchmarks/glyphs_models.py --epochs 10 --out benchmarks/results/glyphs_models.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def reconstruction_mse(run, images: np.ndarray) -> float:
    errors = [np.mean((run.reconstruct(images[i:i + 500]) - images[i:i + 500]) ** 2)
              * len(images[i:i + 500]) for i in range(0, len(images), 500)]
    return float(np.sum(errors) / len(images))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--models", default="ae,intae,augintae")
    parser.add_argument("--runs-root", default="runs/benchmark")
    parser.add_argument("--out", default="benchmarks/results/glyphs_models.json")
    parser.add_argument("--set", action="append", default=[], help="extra config overrides")
    args = parser.parse_args()

    from augintae_tf.config import load_config, parse_overrides
    from augintae_tf.data import load_arrays
    from augintae_tf.inference.loaded import load_run
    from augintae_tf.images import save_grid
    from augintae_tf.training import train

    rows = []
    for name in args.models.split(","):
        cfg = load_config("glyphs", {"model.name": name, "train.epochs": args.epochs,
                                     **parse_overrides(args.set)})
        run_dir = Path(args.runs_root) / f"glyphs-{name}-{args.epochs}ep"
        start = time.perf_counter()
        result = train(cfg, run_dir, echo=print)
        wall = time.perf_counter() - start
        run = load_run(run_dir)
        validation, _ = load_arrays(cfg.data, cfg.data.test_split)
        novel, labels = load_arrays(cfg.data, cfg.data.novel_split)
        grid = []
        for label in np.unique(labels)[::37][:4]:  # 4 characters spread over the novel alphabets
            seeds = novel[labels == label][:5]
            grid += [seeds, run.generate(seeds, num=12, seed=0)]
        save_grid(run_dir / "samples" / "fewshot-novel.png", grid)
        last = result.history[-1]
        rows.append({"model": name, "epochs": args.epochs, "wall_s": round(wall, 1),
                     "images_per_s": round(float(np.median([r["images_per_s"]
                                                            for r in result.history[1:]] or [0])), 1),
                     "final_train_loss": round(last["recon_loss"], 5),
                     "mse_background_heldout": round(reconstruction_mse(run, validation), 5),
                     "mse_novel_alphabets": round(reconstruction_mse(run, novel), 5),
                     "run_dir": str(run_dir)})
    header = list(rows[0])[:-1]
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in header) + " |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, separators=(",", ":")))


if __name__ == "__main__":
    main()
