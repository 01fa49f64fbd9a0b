"""The novelty line's ratio for a run's samplers beside real new instances of the novel classes.

For each sampler and each of ``--draws`` seed draws (``sample_seeds(labels, shots, draw)``) and
novel class, ``Run.generate(..., with_novelty=True)`` makes ``--num`` images and reports the ratio
of their median nearest-seed distance to the training classes' within-class spread
(:mod:`augintae_tf.metrics.novelty`).  The reference row: for each class and ``--real-draws``
random draws of ``shots`` real seeds, the other real images of the class in their place.

    python benchmarks/novelty.py --run-dir runs/fewshot_quality/digits-augintae-38400img \\
        --samplers local-edit,slerp,local

Prints a table (mean, min, max ratio per row) and writes JSON (``--out``).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--samplers", default=None, help="comma list (default: the run's own)")
    parser.add_argument("--shots", type=int, default=5)
    parser.add_argument("--num", type=int, default=100, help="images per request")
    parser.add_argument("--draws", type=int, default=3, help="seed draws per class and sampler")
    parser.add_argument("--real-draws", type=int, default=20, help="seed draws of the real row")
    parser.add_argument("--out", default="benchmarks/results/novelty_digits.json")
    args = parser.parse_args()

    from augintae_tf.data import load_arrays, resolve_novel
    from augintae_tf.inference.loaded import load_run
    from augintae_tf.metrics.fewshot import sample_seeds
    from augintae_tf.metrics.novelty import novelty, verdict

    run = load_run(args.run_dir)
    dataset, split = resolve_novel(run.config.data)
    images, labels = load_arrays(run.config.data, split, dataset=dataset, limit=None)
    reference, source = run.novelty_reference()
    rows = {}
    for sampler in (args.samplers.split(",") if args.samplers else [None]):
        found = [run.generate(images[idx], args.num, draw, sampler=sampler, warn=None,
                              with_novelty=True).novelty.as_dict()
                 for draw in range(args.draws)
                 for idx in sample_seeds(labels, args.shots, draw).values()]
        rows[sampler or run.model.default_sampler()] = found
    rng = np.random.default_rng(0)
    real = []
    for cls in np.unique(labels):
        for _ in range(args.real_draws):
            members = rng.permutation(np.flatnonzero(labels == cls))
            seeds, others = images[members[:args.shots]], images[members[args.shots:]]
            real.append(novelty(others, seeds, reference, source).as_dict())
    rows["other real images of the class"] = real
    print(f"novelty of {args.run_dir} on {dataset}:{split}; spread {source}\n")
    print("| images | requests | ratio mean | min | max | verdict of the mean |\n|---|---|---|---|---|---|")
    summary = {}
    for name, found in rows.items():
        ratios = np.array([f["ratio"] for f in found])
        summary[name] = {"requests": len(found), "mean": float(ratios.mean()),
                         "min": float(ratios.min()), "max": float(ratios.max())}
        print(f"| {name} | {len(found)} | {ratios.mean():.2f} | {ratios.min():.2f} | "
              f"{ratios.max():.2f} | {verdict(ratios.mean())} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"run_dir": str(args.run_dir), "novel": [str(dataset), split],
                               "shots": args.shots, "num": args.num, "reference_source": source,
                               "summary": summary, "requests": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
