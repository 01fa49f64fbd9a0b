"""Variety carried to unseen classes: one trained run, several (sampler, scale) rows, one scoring.

Every row generates from the same plan (K seeds per novel class) and is scored with one quality
classifier beside the reference rows (floor, copies, augmented copies, cross-fade;
:func:`augintae_tf.evaluation.quality.score`).  ``--utility`` adds a few-shot classification
check: a small CNN trained from scratch (random affine augmentation in the run's ranges) on (a) the
seeds, (b) the seeds + ``--per-class`` generated images of a row, (c) the seeds + as many
augmented copies, (d) the seeds + as many other real images (the comparison half), tested on the
floor half (real images never seeds), averaged over ``--classifier-seeds``; the share of the
real-image gain a row recovers is ``(b - a) / (d - a)``.

    python benchmarks/variety.py --run RUN --rows local-edit:0.7,within-edit:1.0 --utility
    python benchmarks/variety.py --run RUN --novel-dataset patches --rows ...

Prints the quality table and the utility table, and writes JSON (``--out``).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def parse_rows(text: str) -> list[tuple[str, float]]:
    rows = []
    for item in text.split(","):
        sampler, _, scale = item.partition(":")
        rows.append((sampler, float(scale) if scale else 1.0))
    return rows


def small_cnn(num_classes: int, shape, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input(shape), keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
        keras.layers.MaxPooling2D(), keras.layers.Conv2D(64, 3, activation="relu", padding="same"),
        keras.layers.MaxPooling2D(), keras.layers.Flatten(), keras.layers.Dropout(0.3),
        keras.layers.Dense(128, activation="relu"), keras.layers.Dense(num_classes)])


def classify(train_x, train_y, test_x, test_y, augment_fn, seed: int, steps: int) -> float:
    """Test accuracy of :func:`small_cnn` trained ``steps`` batches of 64 with a fresh random
    affine per batch (``augment_fn``)."""
    import keras
    import numpy as np

    model = small_cnn(int(train_y.max()) + 1, train_x.shape[1:], seed)
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng([seed, 7])
    for step in range(steps):
        pick = rng.integers(0, len(train_x), 64)
        model.train_on_batch(augment_fn(train_x[pick], seed * 100_003 + step), train_y[pick])
    logits = model.predict(test_x, batch_size=512, verbose=0)
    return float(np.mean(np.argmax(logits, axis=1) == test_y))


def utility(generated: dict, plan, images, labels, split, seeds: dict, augment_fn, per_class: int,
            classifier_seeds: int, steps: int, echo=print) -> dict:
    """Accuracies ``{row: [per classifier seed]}`` for seeds alone, each generated row, augmented
    copies and real images (module doc); classes relabelled 0..C-1 in sorted order."""
    import numpy as np

    classes = sorted(seeds)
    relabel = {c: i for i, c in enumerate(classes)}
    seed_x = np.concatenate([images[seeds[c]] for c in classes])
    seed_y = np.concatenate([[relabel[c]] * len(seeds[c]) for c in classes])
    test = split.floor
    test_x, test_y = images[test], np.array([relabel[c] for c in labels[test]])
    rng = np.random.default_rng(5)
    extra = {}
    for row, array in generated.items():
        picks = [rng.permutation(np.flatnonzero(plan.class_label == c))[:per_class] for c in classes]
        extra[row] = (np.concatenate([array[p] for p in picks]),
                      np.concatenate([[relabel[c]] * len(p) for c, p in zip(classes, picks)]))
    copies = np.concatenate([np.resize(seeds[c], per_class) for c in classes])
    extra["augmented copies"] = (augment_fn(images[copies], 77), np.repeat(np.arange(len(classes)), per_class))
    real = [rng.permutation(split.comparison[labels[split.comparison] == c])[:per_class] for c in classes]
    extra["real images (ceiling)"] = (images[np.concatenate(real)],
                                      np.concatenate([[relabel[c]] * len(r) for c, r in zip(classes, real)]))
    out = {"seeds alone": [classify(seed_x, seed_y, test_x, test_y, augment_fn, s, steps)
                           for s in range(classifier_seeds)]}
    for row, (x, y) in extra.items():
        start = time.perf_counter()
        out[row] = [classify(np.concatenate([seed_x, x]), np.concatenate([seed_y, y]), test_x,
                             test_y, augment_fn, s, steps) for s in range(classifier_seeds)]
        echo(f"  utility {row}: {np.mean(out[row]):.3f} ({time.perf_counter() - start:.0f} s)")
    return out


def utility_table(acc: dict, test_images: int) -> str:
    import numpy as np

    base, ceiling = np.mean(acc["seeds alone"]), np.mean(acc["real images (ceiling)"])
    lines = [f"utility: {test_images} real test images; mean +- std over classifier seeds",
             "| training set | accuracy | share of the real-image gain |", "|---|---|---|"]
    for row, values in acc.items():
        share = (np.mean(values) - base) / (ceiling - base) if ceiling > base else float("nan")
        lines.append(f"| {row} | {np.mean(values):.3f} +- {np.std(values):.3f} | {share:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--rows", required=True, help="comma list of SAMPLER:SCALE")
    parser.add_argument("--novel-dataset", default=None, help="default: the run's novel split")
    parser.add_argument("--split", default=None)
    parser.add_argument("--num-images", type=int, default=1000)
    parser.add_argument("--shots", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--classifier-epochs", type=int, default=10)
    parser.add_argument("--utility", action="store_true")
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--classifier-seeds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--out", default="benchmarks/results/variety.json")
    args = parser.parse_args()

    import dataclasses

    import numpy as np

    from augintae_tf.data import load_arrays, resolve_novel
    from augintae_tf.evaluation.quality import _split, quality_classifier, score
    from augintae_tf.inference.loaded import load_run
    from augintae_tf.metrics.fewshot import generate_from_plan, sample_fewshot_plan, sample_seeds
    from augintae_tf.metrics.quality_table import quality_table
    from augintae_tf.metrics.reference_rows import affine_fn

    run = load_run(args.run)
    data = dataclasses.replace(run.config.data, limit=None)
    dataset, split_name = resolve_novel(data)
    if args.novel_dataset:
        dataset, split_name = args.novel_dataset, "test"
    split_name = args.split or split_name
    images, labels = load_arrays(data, split_name, dataset=dataset)
    plan = sample_fewshot_plan(labels, args.shots, args.num_images, args.seed)
    split = _split(labels, plan, args.shots, args.seed)
    classifier = quality_classifier(Path(args.run) / "variety-scoring", run.config,
                                    [str(dataset), split_name], images, labels, split,
                                    epochs=args.classifier_epochs, limit=10_000, seed=args.seed,
                                    echo=print)
    generated = {}
    for sampler, scale in parse_rows(args.rows):
        start = time.perf_counter()
        generated[f"{sampler} {scale:g}"] = generate_from_plan(run.model, images, plan,
                                                                sampler=sampler, scale=scale)
        print(f"  generated {sampler} {scale:g} in {time.perf_counter() - start:.0f} s")
    augment_fn = affine_fn(run.config.augment)
    result = score(generated, plan, images, labels, classifier, shots=args.shots, seed=args.seed,
                   augment_fn=augment_fn)
    print(f"\nrun {args.run}; novel {dataset}/{split_name}; {args.num_images} images per row\n")
    print(quality_table(result))
    out = {"run": args.run, "novel": [str(dataset), split_name], "num_images": args.num_images,
           "shots": args.shots, "seed": args.seed, "rows": args.rows,
           "quality": {k: v for k, v in result.items() if k != "per_class"}}
    if args.utility:
        acc = utility(generated, plan, images, labels, split,
                      sample_seeds(labels, args.shots, args.seed), augment_fn, args.per_class,
                      args.classifier_seeds, args.steps)
        print(utility_table(acc, len(split.floor)))
        out["utility"] = {"accuracy": acc, "per_class": args.per_class, "steps": args.steps,
                          "test_images": int(len(split.floor))}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, separators=(",", ":"), default=float))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
