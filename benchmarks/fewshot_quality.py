"""Few-shot quality of several models/recipes at one budget in images seen, beside reference rows.

Trains each recipe on glyphs (the preset: full width, background alphabets) for the same number of
images seen (``train.steps = images / batch size``, lr drops scaled to it), then generates every
run's few-shot images of the evaluation alphabets on ONE shared plan (5 seeds per character, slerp
paths at alpha 0.25/0.5/0.75) and scores them with :mod:`augintae_tf.metrics.fewshot_quality` beside the
floor, the seed copies and the pixel cross-fade on the same plan (``augintae_tf.evaluation.quality``:
the feature/class network is trained on the comparison half of the real images only).  Each
recipe also gets a diagnostic row ``NAME: seed reconstructions`` (decode(encode(seed)) of the
seed-copies row's seeds, no interpolation): beside the seed copies it measures the decoder's blur,
beside the recipe's own row what interpolation adds.  A recipe with ``model.ema`` is scored
twice from its one run: with the averaged weights (its name) and with the trained weights
(``NAME (trained weights)``; training is identical with or without the average).

    python benchmarks/fewshot_quality.py --images 38400 --recipes ae,intae,augintae
    python benchmarks/fewshot_quality.py --images 38400 --recipes augintae,augintae-l1 --reuse
    python benchmarks/fewshot_quality.py --images 38400 --reuse --novel-split far  # far domain
    python benchmarks/fewshot_quality.py --images 76800 --recipes \
        t20-augintae-aug-half,t20-augintae-blend-half,t20-ae-aug-half,t20-intae-critic-half

Each generated row also gets the utility columns (``--utility-seeds 0`` leaves them out): a
few-shot classifier of the novel classes trained on the seeds + that row's images, beside the
seeds alone, + augmented copies and + other real images (:mod:`augintae_tf.metrics.fewshot_utility`).

Prints one table (the quality rows, the utility table, then training cost per recipe) and writes
JSON (``--out``).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

# half the paper's handwritten-character ranges (appendix A.1)
WEAK_AUGMENT = {"augment.rotation": 10, "augment.translation": 2, "augment.scale_min": 0.9,
                "augment.scale_max": 1.1, "augment.shear": 3}
# the paper's handwritten-character ranges: the glyphs preset's augment section
PAPER_AUGMENT = {"augment.rotation": 20, "augment.translation": 4, "augment.scale_min": 0.8,
                 "augment.scale_max": 1.2, "augment.shear": 6}
L1C = {"config": "glyphs", "model.pixel_loss": "l1", "train.lr_drops": []}
# name -> config overrides on top of the glyphs preset (paper recipe = no override).  Every
# recipe here predates issue 20, when all four autoencoders regressed the pixel blend: they pin
# ``model.target: blend`` below so that their rows stay reproducible under the new defaults.
_BLEND_ERA = {
    "ae": {"model.name": "ae"},
    "intae": {"model.name": "intae"},
    "augintae": {"model.name": "augintae"},
    "augintae-adv": {"model.name": "augintae-adv"},
    "augintae-l1": {"model.name": "augintae", "model.pixel_loss": "l1"},
    "augintae-l1l2": {"model.name": "augintae", "model.pixel_loss": "l1+l2"},
    "augintae-resize": {"model.name": "augintae", "model.upsampling": "resize"},
    "augintae-nodrop": {"model.name": "augintae", "train.lr_drops": []},
    "ae-nodrop": {"model.name": "ae", "train.lr_drops": []},
    "augintae-b64": {"model.name": "augintae", "train.batch_size": 64},
    "augintae-b32": {"model.name": "augintae", "train.batch_size": 32},
    "augintae-l1-b32": {"model.name": "augintae", "model.pixel_loss": "l1", "train.batch_size": 32},
    "augintae-l1-nodrop": {"model.name": "augintae", "model.pixel_loss": "l1", "train.lr_drops": []},
    "augintae-w05": {"model.name": "augintae", "model.width": 0.5},
    "augintae-aug-half": {"model.name": "augintae", "augment.rotation": 10, "augment.translation": 2,
                          "augment.scale_min": 0.9, "augment.scale_max": 1.1, "augment.shear": 3},
    "ae-l1": {"model.name": "ae", "model.pixel_loss": "l1"},
    "ae-b32": {"model.name": "ae", "train.batch_size": 32},
    "ae-l1-b32": {"model.name": "ae", "model.pixel_loss": "l1", "train.batch_size": 32},
    "recommended": {"config": "recommended"},
    "l1c": dict(L1C),
    # the paper's ordering on the recommended recipe; the -ema runs are scored with and without
    # their weight average (one training run each)
    "recommended-ae": {"config": "recommended", "model.name": "ae"},
    "recommended-intae": {"config": "recommended", "model.name": "intae"},
    **{f"rec-{m}-ema": {"config": "recommended", "model.name": m, "model.ema": True}
       for m in ("augintae", "ae", "intae")},
    # levers measured on the L1 + constant lr recipe (L1C: the recommended one before issue 14's
    # third round); pinned to it so their rows stay reproducible whatever recommended.yaml holds
    "rec-l1l2": {**L1C, "model.pixel_loss": "l1+l2"},
    "rec-bce": {**L1C, "model.pixel_loss": "bce"},
    "rec-ema": {**L1C, "model.ema": True},
    "rec-w05": {**L1C, "model.width": 0.5},
    "rec-w15": {**L1C, "model.width": 1.5},
    "rec-aug-weak": {**L1C, **WEAK_AUGMENT},
    "rec-aug-strong": {**L1C, "augment.rotation": 30, "augment.translation": 6,
                       "augment.scale_min": 0.7, "augment.scale_max": 1.3, "augment.shear": 9},
    "rec-z64": {**L1C, "model.latent_dim": 64},
    "rec-z128": {**L1C, "model.latent_dim": 128},
    "rec-z128-aw": {**L1C, "model.latent_dim": 128, **WEAK_AUGMENT},
    "rec-z256-aw": {**L1C, "model.latent_dim": 256, **WEAK_AUGMENT},
    "rec-ae": {**L1C, "model.name": "ae"},
    "rec-intae": {**L1C, "model.name": "intae"},
}
RECIPES = {name: {**overrides, "model.target": "blend"} for name, overrides in _BLEND_ERA.items()}


def target_matrix() -> dict[str, dict]:
    """Issue 20's measurement matrix on the recommended preset (latent 128, L1, constant lr):
    ``t20-MODEL-TARGET-RANGES`` for ae, intae, augintae, augintae-adv; TARGET ``aug`` (the
    paper's interpolated-augmentation target; intae: ``critic``, ACAI) or ``blend`` (the pixel
    blend, the student report's reading); RANGES ``half`` (the recommended preset's) or ``full``
    (the paper's, :data:`PAPER_AUGMENT`)."""
    recipes = {}
    for model in ("ae", "intae", "augintae", "augintae-adv"):
        new = ("critic", "critic") if model == "intae" else ("aug", "augmentation")
        for short, target in (new, ("blend", "blend")):
            for ranges, augment in (("half", {}), ("full", PAPER_AUGMENT)):
                recipes[f"t20-{model}-{short}-{ranges}"] = {
                    "config": "recommended", "model.name": model, "model.target": target,
                    **augment}
    return recipes


RECIPES.update(target_matrix())
# issue 20's lever on the paper's target: uniform alphas (reconstructions of a view as often as
# midpoints; the paper's mean of two uniforms rarely trains alpha near 0 or 1)
RECIPES.update({f"{name}-ua": {**RECIPES[name], "model.alpha": "uniform"}
                for name in ("t20-augintae-aug-half", "t20-augintae-aug-full",
                             "t20-augintae-adv-aug-full")})

# issue 23: the recommended recipe's compute precision.  On a CPU without native bf16 TensorFlow
# runs bf16 through Eigen's emulation (several times slower) unless XLA compiles the step, so the
# bf16 rows train with XLA on (``-xla``: same numerics class, bf16 storage and fp32 accumulation).
RECIPES.update({
    "recommended-bf16": {**RECIPES["recommended"], "train.precision": "mixed_bfloat16"},
    "recommended-bf16-xla": {**RECIPES["recommended"], "train.precision": "mixed_bfloat16",
                             "train.jit": "on"},
    "recommended-xla": {**RECIPES["recommended"], "train.jit": "on"},
    # issue 20's AugIntAE (the paper's target) in bf16 (measured as t20-augintae-aug-half-bf16-xla)
    "t23-augintae-aug-half-bf16-xla": {**RECIPES["t20-augintae-aug-half"],
                                       "train.precision": "mixed_bfloat16", "train.jit": "on"},
})

# Real handwriting (the digits preset: digits 0-4 train, novel digits 5-9): the recommended recipe
# and the paper's models on their own targets, for the samplers' measurement.
RECIPES.update({
    # the AE named explicitly: the digits preset itself trains the recommended AugIntAE
    "digits-ae": {"config": "digits", "model.name": "ae", "model.target": "blend"},
    "digits-ae-aug": {"config": "digits", "model.name": "ae", "model.target": "augmentation"},
    "digits-augintae": {"config": "digits", "model.name": "augintae", "model.target": "augmentation"},
    "digits-augintae-adv": {"config": "digits", "model.name": "augintae-adv",
                            "model.target": "augmentation"},
    "digits-intae": {"config": "digits", "model.name": "intae", "model.target": "critic"},
    # issue 41: the supervised baselines on the same data (DAGAN: 32 pairs a batch, as its code)
    "digits-dagan": {"config": "digits", "model.name": "dagan", "train.batch_size": 64,
                     "model.critic_updates": 5},
    "digits-dagan-1to1": {"config": "digits", "model.name": "dagan", "train.batch_size": 64,
                          "model.critic_updates": 1},
    "digits-statistician": {"config": "digits", "model.name": "neural-statistician"},
    # issue 38's family rows: the plain autoencoder (``digits-ae`` is the digits preset, AugIntAE)
    "digits-ae-baseline": {"config": "digits", "model.name": "ae", "model.target": "augmentation"},
    "digits-vae": {"config": "digits", "model.name": "vae"},
    "digits-gaia": {"config": "digits", "model.name": "gaia"},
    "digits-wgan-gp": {"config": "digits", "model.name": "wgan-gp"},
})
# The local covariance's neighbours (model.sampler_neighbours): copies of a trained digits run
# whose latent-stats stage was rerun with another k (`train --stage latent-stats`), scored in one
# pass with the original so that one classifier scores them all.
RECIPES.update({f"{name}-k{k}": {**RECIPES[name], "model.sampler_neighbours": k}
                for name in ("digits-ae", "digits-augintae") for k in (5, 20)})
# A second training seed of the recipes the recommendation chooses between.
RECIPES.update({f"{name}-s1": {**RECIPES[name], "train.seed": 1}
                for name in ("digits-ae", "digits-augintae", "t20-ae-blend-half",
                             "t20-augintae-aug-half")})

TRAINED = " (trained weights)"  # row of an EMA recipe's run scored without the average


def recipe_config(name: str, images: int, extra: dict):
    """The glyphs preset (or the recipe's own preset) + the recipe's overrides, ``train.steps``
    set so that ``steps * batch_size`` is the budget of ``images`` seen."""
    from augintae_tf.config import load_config

    overrides = dict(RECIPES[name])
    preset = overrides.pop("config", "glyphs")
    cfg = load_config(preset, {**overrides, **extra})
    steps = max(1, round(images / cfg.train.batch_size))
    return load_config(preset, {**overrides, **extra, "train.steps": steps})


def finished(run_dir: Path) -> bool:
    from augintae_tf.run import checkpoints
    from augintae_tf.inference.loaded import load_run

    latest = checkpoints.latest_checkpoint(run_dir / "checkpoints") if run_dir.is_dir() else None
    if latest is None:
        return False
    return checkpoints.read_state(latest)["epoch"] >= load_run(run_dir).config.train.epochs


def train_recipe(name: str, images: int, extra: dict, root: Path, reuse: bool) -> dict:
    from augintae_tf.run.metrics_log import read_metrics
    from augintae_tf.training import train

    cfg = recipe_config(name, images, extra)
    run_dir = root / f"{name}-{images}img"
    if not (reuse and finished(run_dir)):
        if run_dir.exists():
            raise SystemExit(f"{run_dir} exists; pass --reuse to score a finished run or remove it")
        start = time.perf_counter()
        train(cfg, run_dir, echo=print)
        print(f"{name}: trained in {time.perf_counter() - start:.0f} s")
    history = read_metrics(run_dir)
    timed = history[1:] or history  # the first epoch includes tracing, unless it is the only one
    rates = sorted(r["images_per_s"] for r in timed if "images_per_s" in r) or [0.0]
    return {"run_dir": str(run_dir), "overrides": RECIPES[name], "model": cfg.model.name,
            "batch_size": cfg.train.batch_size, "steps": cfg.train.steps,
            "images_seen": cfg.train.steps * cfg.train.batch_size,
            "train_s": round(float(history[-1].get("elapsed_s", 0.0)), 1) if history else None,
            "images_per_s": round(float(rates[len(rates) // 2]), 1)}


def load_runs(recipes: dict) -> tuple[list, dict[str, str]]:
    """The recipes' runs (an EMA recipe's twice: averaged, then trained weights) and the map from
    compare's row names (run directory names, ``-2`` for the repeat) to recipe row names."""
    from augintae_tf.inference.loaded import load_run

    runs, rename = [], {}
    for name, r in recipes.items():
        runs.append(load_run(r["run_dir"]))
        rename[Path(r["run_dir"]).name] = name
        if getattr(runs[-1].config.model, "ema", False):  # also score its trained weights
            runs.append(load_run(r["run_dir"]))
            runs[-1].model.use_average = False
            rename[Path(r["run_dir"]).name + "-2"] = name + TRAINED
    return runs, rename


def parse_args() -> argparse.Namespace:
    """The command line, checked (unknown recipes and bad double-exposure options: one line)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=38_400, help="budget in images seen per recipe")
    parser.add_argument("--recipes", default="ae,intae,augintae,augintae-adv",
                        help="comma list of: " + ", ".join(RECIPES))
    parser.add_argument("--num-images", type=int, default=2000, help="few-shot images per recipe")
    parser.add_argument("--shots", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--classifier-epochs", type=int, default=10,
                        help="the comparison set has ~8 images per character: a few more passes")
    parser.add_argument("--runs-root", default="runs/fewshot_quality")
    parser.add_argument("--out", default="benchmarks/results/fewshot_quality.json")
    parser.add_argument("--reuse", action="store_true", help="score finished runs instead of retraining")
    parser.add_argument("--per-class", action="store_true",
                        help="keep every class's values in the JSON (large; no table reads them)")
    parser.add_argument("--set", action="append", default=[], help="extra overrides for every recipe")
    parser.add_argument("--novel-split", default=None,
                        help="score on this split of the novel dataset (default: the preset's "
                             "data.novel_split; glyphs: test = held-out alphabets, far = symbols)")
    parser.add_argument("--novel-dataset", default=None,
                        help="score on this dataset's novel split instead of the runs' own (a far "
                             "pairing: glyphs runs on digits, digits runs on glyphs)")
    parser.add_argument("--samplers", default=None,
                        help="comma list of few-shot samplers, one row per run and sampler "
                             "(slerp, local-edit, aug-path, ...; SAMPLER:SCALE gives the row its "
                             "own scale); default: each run's own")
    parser.add_argument("--scale", type=float, default=None,
                        help="noise scale of the local samplers (default: each run's)")
    parser.add_argument("--double-exposure-ratio", type=float, default=0.5,
                        help="flagged when a two-seed blend fits with under RATIO x one seed's error")
    parser.add_argument("--double-exposure-shift", type=int, default=2, help="seed shifts (px) in that test")
    parser.add_argument("--utility-seeds", type=int, default=3,
                        help="utility: classifier seeds per episode and set (0: no utility)")
    parser.add_argument("--utility-episodes", type=int, default=2, help="utility: seed draws")
    parser.add_argument("--utility-extra", type=int, default=100,
                        help="utility: images added per class (at most half the non-seed ones)")
    parser.add_argument("--utility-steps", type=int, default=300, help="utility: Adam steps")
    args = parser.parse_args()
    from augintae_tf.errors import RunError
    from augintae_tf.evaluation.options import check_double_exposure
    try:
        check_double_exposure(args.double_exposure_ratio, args.double_exposure_shift)
    except RunError as error:
        parser.error(str(error))
    unknown = [r for r in args.recipes.split(",") if r not in RECIPES]
    if unknown:
        parser.error(f"unknown recipe(s) {', '.join(unknown)}; choose from {', '.join(RECIPES)}")
    return args


def main() -> None:
    args = parse_args()

    from augintae_tf.config import parse_overrides
    from augintae_tf.data import load_arrays, resolve_novel
    from augintae_tf.evaluation.options import CompareOptions
    from augintae_tf.evaluation.quality import RECONSTRUCTIONS, compare_quality
    from augintae_tf.metrics.quality_table import quality_table

    extra = parse_overrides(args.set)
    recipes = {name: train_recipe(name, args.images, extra, Path(args.runs_root), args.reuse)
               for name in args.recipes.split(",")}
    runs, rename = load_runs(recipes)
    data = dataclasses.replace(runs[0].config.data, limit=None)  # data.limit caps training only
    dataset, split = resolve_novel(data)
    if args.novel_dataset:
        dataset, split = args.novel_dataset, "test"
    split = args.novel_split or split
    images, labels = load_arrays(data, split, dataset=dataset)
    start = time.perf_counter()
    # Row names are the run directory names; map them back to the recipe names for the table.
    options = CompareOptions(shots=args.shots, num_images=args.num_images, seed=args.seed,
                             classifier_epochs=args.classifier_epochs, classifier_limit=10_000,
                             double_exposure_ratio=args.double_exposure_ratio,
                             double_exposure_shift=args.double_exposure_shift,
                             samplers=tuple(args.samplers.split(",")) if args.samplers else (),
                             scale=args.scale, utility=args.utility_seeds > 0,
                             utility_seeds=max(1, args.utility_seeds),
                             utility_episodes=args.utility_episodes,
                             utility_extra=args.utility_extra, utility_steps=args.utility_steps)
    result = compare_quality(runs, images, labels, [str(dataset), split],
                             Path(args.runs_root) / "scoring", options, echo=print,
                             reconstructions=True)
    rename.update({run + RECONSTRUCTIONS: name + RECONSTRUCTIONS for run, name in list(rename.items())})

    def renamed(row: str) -> str:  # "RUN [sampler]" -> "RECIPE [sampler]"
        base, bracket, rest = row.partition(" [")
        return rename.get(row, rename.get(base, base) + bracket + rest if bracket else row)

    for key in ("rows", "per_class"):
        result[key] = {renamed(k): v for k, v in result[key].items()}
    if result.get("utility"):
        utility = result["utility"]
        utility["rows"] = {renamed(k): v for k, v in utility["rows"].items()}
        utility["order"] = [renamed(k) for k in utility["order"]]
    saved = result if args.per_class else {k: v for k, v in result.items() if k != "per_class"}
    scoring_s = time.perf_counter() - start
    print(f"\nBudget: {args.images} images seen per recipe; device: see RESULTS.md\n")
    print(quality_table(result))
    header = ["recipe", "model", "batch", "steps", "images seen", "train s", "img/s"]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for name, r in recipes.items():
        print(f"| {name} | {r['model']} | {r['batch_size']} | {r['steps']} | {r['images_seen']} | "
              f"{r['train_s']} | {r['images_per_s']} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"budget_images": args.images, "novel": [str(dataset), split],
                               "shots": args.shots, "samplers": args.samplers, "scale": args.scale,
                               "num_images": args.num_images, "seed": args.seed,
                               "extra_overrides": extra, "recipes": recipes,
                               "scoring_s": round(scoring_s, 1), "quality": saved}, separators=(",", ":")))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
