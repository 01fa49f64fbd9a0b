"""FLOPs per image of every model's train step, counted from its traced graph (live ops only:
``flops.py``), at the shapes and batches of ``train_throughput.py --models all``.

No timing: it only traces.  ``train_throughput.py`` counts the same way beside its timings;
this script re-derives the column alone, e.g. after a change to the counter, without a
throughput run.

    python benchmarks/flops_table.py --out benchmarks/results/flops_per_image.json
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from throughput_models import SHAPES, all_pairs, branch_share, example_batch, preset_and_batch  # noqa: E402


def main() -> None:
    import tensorflow as tf

    from augintae_tf.config import load_config
    from flops import count_flops
    from augintae_tf.config.model_table import model_names
    from augintae_tf.training import build

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(model_names()))
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--out", default=None, help="write the JSON here")
    args = parser.parse_args()
    rows = []
    print(f"{'model':<20}{'shape':<10}{'batch':>6}{'MFLOP/img':>12}")
    for name, shape in all_pairs(args.models.split(","), args.shapes.split(",")):
        preset, batch = preset_and_batch(name, shape)
        cfg = load_config(preset, {"model.name": name, "train.batch_size": batch,
                                   "train.jit": "off", "train.precision": "float32"})
        model = build(cfg, steps=1000)
        data, images = example_batch(model, cfg, batch)
        flops = count_flops(model, tf.nest.map_structure(tf.constant, data), branch_share(cfg))
        rows.append({"model": name, "shape": shape, "batch": batch,
                     "mflops_per_image": round(flops / images / 1e6, 1)})
        print(f"{name:<20}{shape:<10}{batch:>6}{flops / images / 1e6:>12.1f}", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
