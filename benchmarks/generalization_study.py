"""The paper's generalization study on glyphs: do VAE and WGAN-GP latent spaces represent novel
alphabets as well as the autoencoders'?

Trains each model at the same budget (``--epochs``; wgan-gp trains ``model.epoch_factor`` = 2
times as many, as the paper says, then its inversion stage), evaluates ``generalization`` (MSE and
FD of reconstructions of held-out background vs novel-alphabet images; wgan-gp inverted and
refined) and writes ``compare``'s table and figure.

    python benchmarks/generalization_study.py --epochs 4 --out benchmarks/results/generalization.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--models", default="ae,vae,wgan-gp,augintae")
    parser.add_argument("--runs-root", default="runs/generalization")
    parser.add_argument("--images", type=int, default=256, help="images per set (test, novel)")
    parser.add_argument("--classifier-epochs", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/generalization.json")
    parser.add_argument("--set", action="append", default=[], help="extra config overrides")
    args = parser.parse_args()

    from augintae_tf.config import load_config, parse_overrides
    from augintae_tf.evaluation.compare_runs import compare
    from augintae_tf.evaluation.evaluate_run import evaluate
    from augintae_tf.training import train

    root = Path(args.runs_root)
    rows, run_dirs = [], []
    for name in args.models.split(","):
        cfg = load_config("glyphs", {**parse_overrides(args.set), "model.name": name,
                                     "train.epochs": args.epochs})
        run_dir = root / name
        start = time.perf_counter()
        if not (run_dir / "checkpoints").is_dir():
            train(cfg, run_dir, echo=print)
        trained = time.perf_counter() - start
        record = evaluate(run_dir, metrics="generalization", data_limit=args.images,
                          classifier_epochs=args.classifier_epochs, progress=False, echo=print)
        rows.append({"model": name, "train_s": round(trained, 1),
                     **{k: v for k, v in record.items() if k.startswith("gen_")}})
        run_dirs.append(run_dir)
        print(json.dumps(rows[-1]))
    result = compare(run_dirs, root / "compare", echo=print)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"epochs": args.epochs, "overrides": args.set,
                                          "rows": rows, "figure": result["generalization_figure"]},
                                         separators=(",", ":")))


if __name__ == "__main__":
    main()
