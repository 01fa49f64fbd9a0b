"""Few-shot quality of trained glyph runs on novel classes and on held-out instances of training
classes (issue 16: the paper says DAGAN and the Neural Statistician work on training classes and
fail on novel ones).

    python benchmarks/fewshot_baselines.py RUN [RUN ...] --out benchmarks/results/fewshot_baselines.json

Domains: ``test`` (evaluation alphabets, classes no model trained on) and ``validation``
(training alphabets' characters, instances never trained on; 4 per class, so K = 2 seeds there
leaves 1 comparison and 1 floor image per class).  Every run is scored on the same plan against
the same comparison set with :func:`augintae_tf.metrics.fewshot_quality.fewshot_quality`, reference rows
included.  Feature network: a classifier on the comparison set's classes; on ``validation``,
whose comparison set has one image per class, a classifier trained on the training split
(the same classes, none of the scored images).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path


def score_domain(runs, split: str, shots: int, num_images: int, seed: int, epochs: int) -> dict:
    from augintae_tf.data import load_arrays
    from augintae_tf.evaluation.classifiers import train_classifier
    from augintae_tf.metrics.fewshot import generate_from_plan, sample_fewshot_plan, sample_seeds
    from augintae_tf.metrics.fewshot_quality import fewshot_quality
    from augintae_tf.metrics.quality_table import quality_table
    from augintae_tf.metrics.reference_rows import real_split

    cfg = runs[0].config
    data = dataclasses.replace(cfg.data, limit=None)  # whole splits, whatever the runs trained on
    images, labels = load_arrays(data, split)
    plan = sample_fewshot_plan(labels, shots, num_images, seed)
    seeds = sample_seeds(labels, shots, seed)
    if split == "validation":
        train_images, train_labels = load_arrays(data, cfg.data.train_split)
        classifier = train_classifier(train_images, train_labels, backbone=cfg.backbone,
                                      width=0.5, epochs=epochs, seed=seed)
    else:
        comparison = real_split(labels, plan, seeds=seeds, seed=seed).comparison
        classifier = train_classifier(images[comparison], labels[comparison],
                                      backbone=cfg.backbone, width=0.5, epochs=epochs, seed=seed)
    generated = {run.config.model.name: generate_from_plan(run.model, images, plan)
                 for run in runs}
    result = fewshot_quality(generated, plan, images, labels, classifier.embed,
                             classify_fn=classifier.predict, seeds=seeds, seed=seed)
    result["classifier_accuracy"] = classifier.accuracy
    result["markdown"] = quality_table(result)
    result.pop("per_class")
    return result


def main(argv=None) -> int:
    from augintae_tf.inference.loaded import load_run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--num-images", type=int, default=1500)
    parser.add_argument("--classifier-epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    runs = [load_run(r) for r in args.runs]
    results = {}
    for split, shots in (("test", 5), ("test", 2), ("validation", 2)):
        key = f"{split}-K{shots}"
        results[key] = score_domain(runs, split, shots, args.num_images, args.seed,
                                    args.classifier_epochs)
        print(f"## {key} (classifier accuracy {results[key]['classifier_accuracy']:.3f})\n")
        print(results[key]["markdown"], flush=True)
    from augintae_tf.atomic import write_json

    write_json(Path(args.out), {"runs": args.runs, "num_images": args.num_images,
                                "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
