"""Do a few-shot model's images show their seeds' class?  The share of its images that an
independent classifier calls the seeds' class, on the real digits (issue 41): training classes
(seeds = held-out instances of the digits 0-4, the ``validation`` split) and novel classes (the
digits 5-9, ``test``).

    python benchmarks/seed_class.py --recipes digits-dagan,digits-statistician,digits-augintae \
        --images 32000 --out benchmarks/results/seed_class.json

Each recipe (:data:`fewshot_quality.RECIPES`) is trained by :func:`fewshot_quality.train_recipe`
for the budget of ``--images`` seen (``--reuse`` scores finished runs).  For every class of a
domain, ``--draws`` seed sets of ``--shots`` distinct images are drawn (one fixed plan for every
run) and each set gives ``--per-set`` images (``model.fewshot``).

The judge is scikit-learn's multinomial logistic regression on 14x14 average-pooled pixels,
fitted on real digits of all 10 classes (every split) except the seed images and a held-out
fifth (its accuracy on that fifth, per domain, is the ``real held-out`` row; the seeds' own
share is the ``seed copies`` row).  It never sees the model: a generated image counts as its
seeds' class only when it looks like real instances of that digit.  The table also gives the
share of images the judge calls one of the TRAINING digits 0-4 (on novel seeds: collapse onto
the classes the model trained on), and the spread: the mean absolute pixel difference between
two images of one seed set (the seed copies row: between two of its seeds); near 0, the model
gives one image whatever the noise and the seed.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
DOMAINS = {"training classes (0-4, held-out instances)": "validation",
           "novel classes (5-9)": "test"}
TRAINING_DIGITS = (0, 1, 2, 3, 4)


def pooled(images: np.ndarray) -> np.ndarray:
    """``[N, 28, 28, 1]`` -> ``[N, 196]``: 2x2 average pooling, flattened (the judge's input)."""
    n, s = images.shape[0], images.shape[1]
    return images[..., 0].reshape(n, s // 2, 2, s // 2, 2).mean(axis=(2, 4)).reshape(n, -1)


def seed_plan(labels: np.ndarray, shots: int, draws: int, seed: int) -> list[tuple[int, np.ndarray]]:
    """``(class, indices of shots distinct images)`` for every class and draw, reproducible."""
    rng = np.random.default_rng(seed)
    return [(int(c), rng.choice(np.flatnonzero(labels == c), shots, replace=False))
            for c in np.unique(labels) for _ in range(draws)]


def fit_judge(data, plans: dict, seed: int):
    """The logistic-regression judge on every real digit but the seeds and a held-out fifth;
    returns it and the held-out (images, labels)."""
    from sklearn.linear_model import LogisticRegression

    from augintae_tf.data import load_arrays

    xs, ys = [], []
    for split in ("train", "validation", "test"):
        images, labels = load_arrays(data, split)
        used = {int(i) for _, idx in plans.get(split, []) for i in idx}
        keep = np.array([i not in used for i in range(len(labels))], bool)
        xs.append(images[keep]), ys.append(labels[keep])
    x, y = np.concatenate(xs), np.concatenate(ys)
    held = np.random.default_rng(seed).random(len(y)) < 0.2
    judge = LogisticRegression(max_iter=2000, C=0.5)
    judge.fit(pooled(x[~held]), y[~held])
    return judge, (x[held], y[held])


def spread(images: np.ndarray) -> float:
    """Mean absolute pixel difference between the images of one set, over its pairs."""
    flat = images.reshape(len(images), -1)
    return float(np.abs(flat[:, None] - flat[None]).mean() * len(flat) / max(len(flat) - 1, 1))


def score_run(model, images, plan, per_set: int, judge, seed: int) -> dict:
    """Share of the generated images judged their seeds' class (and judged a training digit),
    and their spread (:func:`spread` within each seed set's first 10 images; 0: the noise
    changes nothing)."""
    hits = training = total = 0
    spreads, figure_rows = [], {}
    per_class: dict[int, list[int]] = {}
    for k, (c, idx) in enumerate(plan):
        generated = np.asarray(model.fewshot(images[idx], per_set, seed + k))
        predicted = judge.predict(pooled(generated))
        spreads.append(spread(generated[:10]))
        figure_rows.setdefault(c, np.concatenate([images[idx], generated[:8]]))
        hits += int((predicted == c).sum())
        training += int(np.isin(predicted, TRAINING_DIGITS).sum())
        total += len(predicted)
        per_class.setdefault(c, [0, 0])
        per_class[c][0] += int((predicted == c).sum())
        per_class[c][1] += len(predicted)
    return {"seed_class": hits / total, "training_digit": training / total, "images": total,
            "spread": float(np.mean(spreads)),
            "per_class": {str(c): h / n for c, (h, n) in per_class.items()},
            "figure_rows": figure_rows}


def reference_rows(images, labels, plan, judge, held) -> dict:
    """The seeds themselves, and real held-out images of the domain's classes."""
    seeds = np.concatenate([idx for _, idx in plan])
    truth = np.concatenate([[c] * len(idx) for c, idx in plan])
    predicted = judge.predict(pooled(images[seeds]))
    held_x, held_y = held
    mine = np.isin(held_y, np.unique(labels))
    real = judge.predict(pooled(held_x[mine]))
    return {"seed copies": {"seed_class": float((predicted == truth).mean()),
                            "spread": float(np.mean([spread(images[idx]) for _, idx in plan])),
                            "training_digit": float(np.isin(predicted, TRAINING_DIGITS).mean()),
                            "images": int(len(seeds))},
            "real held-out": {"seed_class": float((real == held_y[mine]).mean()),
                              "training_digit": float(np.isin(real, TRAINING_DIGITS).mean()),
                              "images": int(mine.sum())}}


def save_figure(path: str, results: dict) -> None:
    """One labelled row per (run, class): 5 seeds then 8 of their images."""
    from augintae_tf.images import save_labelled_grid

    rows, labels = [], []
    for rows_of_domain in results.values():
        for name, row in rows_of_domain.items():
            for c, images in row.get("figure_rows", {}).items():
                rows.append(images)
                labels.append(f"{name}: {c} (5 seeds | 8 images)")
    save_labelled_grid(path, rows, labels)


def table(results: dict) -> str:
    lines = []
    for domain, rows in results.items():
        lines += [f"\n{domain}\n", "| row | judged the seeds' class | judged a digit 0-4 | "
                  "spread | images |", "|---|---|---|---|---|"]
        lines += [f"| {name} | {r['seed_class']:.1%} | {r['training_digit']:.1%} | "
                  f"{r['spread']:.3f} | {r['images']} |" if "spread" in r else
                  f"| {name} | {r['seed_class']:.1%} | {r['training_digit']:.1%} | - | "
                  f"{r['images']} |" for name, r in rows.items()]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="digits-dagan")
    parser.add_argument("--images", type=int, default=32_000, help="budget in images seen")
    parser.add_argument("--shots", type=int, default=5)
    parser.add_argument("--draws", type=int, default=4, help="seed sets per class")
    parser.add_argument("--per-set", type=int, default=50, help="images per seed set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs-root", default="runs/seed_class")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--label", default="", help="suffix of the row names (e.g. 'before')")
    parser.add_argument("--set", action="append", default=[], help="extra overrides, every recipe")
    parser.add_argument("--out", default="benchmarks/results/seed_class.json")
    parser.add_argument("--figure", default=None,
                        help="PNG: per run and class, the first seed set's 5 seeds, then 8 images")
    args = parser.parse_args(argv)

    import dataclasses

    import fewshot_quality
    from augintae_tf.atomic import write_json
    from augintae_tf.config import parse_overrides
    from augintae_tf.data import load_arrays
    from augintae_tf.inference.loaded import load_run

    extra = parse_overrides(args.set)
    recipes = {name: fewshot_quality.train_recipe(name, args.images, extra, Path(args.runs_root),
                                                  args.reuse)
               for name in args.recipes.split(",")}
    runs = {name: load_run(r["run_dir"]) for name, r in recipes.items()}
    data = dataclasses.replace(next(iter(runs.values())).config.data, limit=None)
    arrays = {split: load_arrays(data, split) for split in DOMAINS.values()}
    plans = {split: seed_plan(labels, args.shots, args.draws, args.seed)
             for split, (_, labels) in arrays.items()}
    start = time.perf_counter()
    judge, held = fit_judge(data, plans, args.seed)
    results = {}
    for domain, split in DOMAINS.items():
        images, labels = arrays[split]
        rows = reference_rows(images, labels, plans[split], judge, held)
        for name, run in runs.items():
            rows[name + args.label] = score_run(run.model, images, plans[split], args.per_set,
                                                judge, args.seed)
        results[domain] = rows
    if args.figure:
        save_figure(args.figure, results)
    for rows in results.values():
        for row in rows.values():
            row.pop("figure_rows", None)
    print(table(results))
    print("\n| recipe | model | batch | steps | images seen | train s | img/s |\n|---|---|---|---|---|---|---|")
    for name, r in recipes.items():
        print(f"| {name}{args.label} | {r['model']} | {r['batch_size']} | {r['steps']} | "
              f"{r['images_seen']} | {r['train_s']} | {r['images_per_s']} |")
    write_json(Path(args.out), {"budget_images": args.images, "shots": args.shots,
                                "draws": args.draws, "per_set": args.per_set, "seed": args.seed,
                                "label": args.label, "extra_overrides": extra, "recipes": recipes,
                                "scoring_s": round(time.perf_counter() - start, 1),
                                "results": results})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
