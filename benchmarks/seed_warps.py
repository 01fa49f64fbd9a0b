"""Few-shot images made by warping the seeds: registration between seeds, and real deformations.

No model generates these rows; each asks where the variety a few-shot classifier can learn from
lies.  Dense registration (:func:`augintae_tf.models.deform.register`, the ``flow`` sampler's)
fits a smooth displacement field ``f`` with ``warp(x_i, f) ~ x_j``: a 6 x 6 lattice of (dy, dx)
in pixels, bilinearly upsampled to the image, fitted by Adam on the squared error of
Gaussian-blurred images (coarse to fine) plus a smoothness penalty.  Rows, each from the K seeds
of one class:

* ``morph``: the classic morph of two seeds i, j at a ~ U(0, 1):
  ``(1 - a) warp(x_i, a f_ij) + a warp(x_j, (1 - a) f_ji)`` -- all K seeds, no cross-fade ghost
  where the registration holds;
* ``warp``: one seed moved part way to another, ``warp(x_i, a f_ij)``, a ~ U(0, 1);
  ``warp-extrap``: a ~ U(-0.5, 1.5), past both seeds (a larger edit along a real difference);
* ``elastic``: a seed under a random smooth field (a 4 x 4 lattice of N(0, 1.5 px), bicubic);
* ``train-flow``: a seed under the field that registers two random images of one *training*
  class (:func:`flow_bank`, 400 pairs): real within-class deformations of other classes, as
  DeltaGAN transfers sample-specific deltas, here in deformation space (the product's ``flow``
  sampler, with its own draw of pairs); ``train-flow x1.5`` the same fields scaled by 1.5;
  ``train-flow+affine`` each such image under a random affine of the augmented copies' ranges
  (the two kinds of variety together); ``train-flow-fit`` the 400 best-registered of 800 pairs
  (:func:`fit_bank`: the fields that explain their pair, not a partial move between two
  differently written members); ``train-flow-shiftless`` (x1.5, x2) the fields less their
  mean (no shift of the whole image); ``train-flow-nonaffine`` (x1.5, x2, x3) the fields less
  their affine part (:func:`without_affine`: no shift, rotation, scale or shear of the whole
  image, only strokes moving against each other); ``... +refiner`` those images through an
  adversarial refiner trained on the training classes (``refiner.py``: SimGAN's, one refiner for
  both kinds of field), the same images made to look real locally;
* ``nn-flow``: the same with label-free pairs (:func:`neighbour_bank`: an image and one of its
  10 nearest neighbours in pixels), what a training folder without classes offers;
* ``thickness`` (strokes only): a seed moved toward its 3 x 3 grey dilation or erosion by
  t ~ U(-0.8, 0.8), a variation the classifier's affine augmentation cannot make.

Scored like ``benchmarks/fewshot_quality.py``: one shared plan (``--num-images``), the quality rows
beside the floor, copies, augmented copies and cross-fade, and the 30-run utility test (10
episodes x 3 classifier seeds) with the paired gains of ``benchmarks/augmented_outputs.py``.

    python benchmarks/seed_warps.py --run RUN --novel digits --out benchmarks/results/w.json
    python benchmarks/seed_warps.py --run RUN --novel patches --rows morph,elastic,train-flow ...

``--run`` gives the augmentation ranges of the augmented copies and the data section (a digits
run: its train split is the flow bank's training classes).  Prints both tables, writes JSON.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import augintae_tf  # noqa: F401  before TensorFlow loads: it picks the CPU's oneDNN kernels
import tensorflow as tf

from augintae_tf.models import deform
from augintae_tf.models.deform import warp

ROWS = ("morph", "warp", "warp-extrap", "elastic", "train-flow", "train-flow x1.5", "nn-flow",
        "thickness", "train-flow+affine", "train-flow-fit", "train-flow-shiftless",
        "train-flow-shiftless x1.5", "train-flow-shiftless x2", "train-flow-nonaffine",
        "train-flow-nonaffine x1.5", "train-flow-nonaffine x2", "train-flow-nonaffine x3",
        "train-flow +refiner", "train-flow-nonaffine +refiner")


def register(src, dst) -> np.ndarray:
    """Dense fields ``[P, H, W, 2]`` with ``warp(src, f) ~ dst``
    (:func:`augintae_tf.models.deform.register`'s lattices, upsampled)."""
    return deform.field(deform.register(src, dst), np.asarray(src).shape[1:3]).numpy()


def _scaled(images, flows, scale) -> np.ndarray:
    return warp(images, flows * np.asarray(scale, np.float32).reshape(-1, 1, 1, 1)).numpy()


def reverse_pairs(i, j, k: int) -> np.ndarray:
    """Row of the pair (j, i) in the row-major order of the off-diagonal pairs of k seeds
    (``np.nonzero(~np.eye(k))``): row of (a, b) = a (k - 1) + b - [b > a]."""
    i, j = np.asarray(i), np.asarray(j)
    return j * (k - 1) + i - (i > j)


def seed_morph(kind: str, lo: float = 0.0, hi: float = 1.0):
    """Generator (seeds, count, seed) -> images: ``morph`` or ``warp`` (module doc), a ~ U(lo, hi)
    over uniformly drawn ordered pairs of distinct seeds."""
    def generate(seeds, count: int, seed: int) -> np.ndarray:
        seeds = np.asarray(seeds, np.float32)
        rng = np.random.default_rng(seed)
        ii, jj = np.nonzero(~np.eye(len(seeds), dtype=bool))
        flows = register(seeds[ii], seeds[jj])
        pick = rng.integers(len(ii), size=count)
        a = rng.uniform(lo, hi, size=count).astype(np.float32)
        moved = _scaled(seeds[ii[pick]], flows[pick], a)
        if kind == "warp":
            return moved
        back = reverse_pairs(ii[pick], jj[pick], len(seeds))
        other = _scaled(seeds[jj[pick]], flows[back], 1 - a)
        a = a.reshape(-1, 1, 1, 1)
        return (1 - a) * moved + a * other

    return generate


def elastic(std: float = 1.5, grid: int = 4):
    """Generator: a uniformly drawn seed under a random field (grid x grid lattice, N(0, std) px,
    bicubic upsampling)."""
    def generate(seeds, count: int, seed: int) -> np.ndarray:
        seeds = np.asarray(seeds, np.float32)
        rng = np.random.default_rng(seed)
        pick = rng.integers(len(seeds), size=count)
        lattice = rng.normal(0, std, size=(count, grid, grid, 2)).astype(np.float32)
        field = tf.image.resize(lattice, seeds.shape[1:3], method="bicubic")
        return warp(seeds[pick], field).numpy()

    return generate


def class_pairs(labels, count: int, seed: int = 0) -> tuple[list, list]:
    """``(src, dst)``: ``count`` same-class pairs, each a class drawn uniformly then two distinct
    members (``np.random.default_rng(seed)``; the draw the recorded train-flow rows used)."""
    labels = np.asarray(labels).reshape(-1)
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    src, dst = [], []
    for _ in range(count):
        i, j = rng.choice(np.flatnonzero(labels == rng.choice(classes)), 2, replace=False)
        src.append(i)
        dst.append(j)
    return src, dst


def flow_bank(images, labels, pairs: int = 400, seed: int = 0) -> np.ndarray:
    """:func:`register` fields of ``pairs`` random same-class pairs (:func:`class_pairs`)."""
    src, dst = class_pairs(labels, pairs, seed)
    return register(np.asarray(images)[src], np.asarray(images)[dst])


def fit_bank(images, labels, pairs: int = 400, candidates: int = 800, seed: int = 0):
    """The ``pairs`` fields of ``candidates`` same-class pairs (:func:`class_pairs`) whose
    registration leaves the least of the pair's difference:
    ``mean (warp(x_i, f) - x_j)^2 / mean (x_i - x_j)^2``, smallest first."""
    images = np.asarray(images, np.float32)
    src, dst = class_pairs(labels, candidates, seed)
    fields = register(images[src], images[dst])
    left = np.mean((warp(images[src], fields).numpy() - images[dst]) ** 2, axis=(1, 2, 3))
    before = np.mean((images[src] - images[dst]) ** 2, axis=(1, 2, 3))
    return fields[np.argsort(left / np.maximum(before, 1e-12))[:pairs]]


def neighbour_pairs(images, pairs: int = 400, neighbours: int = 10, seed: int = 0):
    """``(src, dst)`` index arrays: ``pairs`` random images and, for each, one of its
    ``neighbours`` nearest other images in pixel space (squared distance) -- label-free pairs."""
    flat = np.asarray(images, np.float32).reshape(len(images), -1)
    sq = (flat ** 2).sum(1)
    dist = sq[:, None] + sq[None, :] - 2 * flat @ flat.T
    np.fill_diagonal(dist, np.inf)
    nearest = np.argsort(dist, axis=1)[:, :neighbours]
    rng = np.random.default_rng(seed)
    src = rng.integers(len(flat), size=pairs)
    return src, nearest[src, rng.integers(neighbours, size=pairs)]


def neighbour_bank(images, pairs: int = 400, neighbours: int = 10, seed: int = 0) -> np.ndarray:
    """:func:`register` fields of :func:`neighbour_pairs` (what a folder without classes offers)."""
    src, dst = neighbour_pairs(images, pairs, neighbours, seed)
    return register(np.asarray(images)[src], np.asarray(images)[dst])


def without_affine(lattices) -> np.ndarray:
    """``L - A(L)``: each lattice ``[P, G, G, 2]`` less its least-squares affine part
    ``A(L)(y, x) = t + M (y, x)`` over the lattice points (centred, in [-1, 1]).  What remains moves
    strokes against each other; the shift, rotation, scale and shear of the whole image are gone
    (bilinear upsampling keeps an affine lattice affine, so the split holds for the field too)."""
    lattices = np.asarray(lattices, np.float64)
    count, g = lattices.shape[0], lattices.shape[1]
    y, x = np.meshgrid(np.linspace(-1, 1, g), np.linspace(-1, 1, g), indexing="ij")
    basis = np.stack([np.ones(g * g), y.ravel(), x.ravel()], 1)  # [G*G, 3]
    values = lattices.reshape(count, g * g, 2)
    fitted = basis @ np.linalg.pinv(basis) @ values  # the projection onto the affine lattices
    return (values - fitted).reshape(lattices.shape).astype(np.float32)


def bank_warp(bank: np.ndarray, scale: float = 1.0):
    """Generator: a uniformly drawn seed under a uniformly drawn field of ``bank`` x ``scale``."""
    def generate(seeds, count: int, seed: int) -> np.ndarray:
        seeds = np.asarray(seeds, np.float32)
        rng = np.random.default_rng(seed)
        pick = rng.integers(len(seeds), size=count)
        return warp(seeds[pick], bank[rng.integers(len(bank), size=count)] * scale).numpy()

    return generate


def thickness(most: float = 0.8):
    """Generator: ``x + max(t, 0) (dilate(x) - x) + max(-t, 0) (erode(x) - x)``, t ~ U(-most, most),
    3 x 3 grey dilation / erosion of a uniformly drawn seed."""
    def generate(seeds, count: int, seed: int) -> np.ndarray:
        seeds = np.asarray(seeds, np.float32)
        rng = np.random.default_rng(seed)
        x = tf.constant(seeds[rng.integers(len(seeds), size=count)])
        dilated = tf.nn.max_pool2d(x, 3, 1, "SAME")
        eroded = -tf.nn.max_pool2d(-x, 3, 1, "SAME")
        t = rng.uniform(-most, most, size=(count, 1, 1, 1)).astype(np.float32)
        return (x + np.maximum(t, 0) * (dilated - x) + np.maximum(-t, 0) * (eroded - x)).numpy()

    return generate


def then(generate, affine):
    """Generator: ``generate``'s images, each under ``affine(images, seed)``."""
    return lambda seeds, count, seed: affine(generate(seeds, count, seed), seed)


def generators(names, train_images=None, train_labels=None, bank_seed: int = 0,
               affine=None) -> dict:
    """``{row: generator}`` for the row names of :data:`ROWS` (train-flow rows: a :func:`flow_bank`
    of the training images; nn-flow: a :func:`neighbour_bank`; both drawn with ``bank_seed``;
    ``affine``: the augmented copies' ``(images, seed) -> images``)."""
    bank = near = fit = None
    if any(n.startswith("train-flow") and n != "train-flow-fit" for n in names):
        bank = flow_bank(train_images, train_labels, seed=bank_seed)
    if "train-flow-fit" in names:
        fit = fit_bank(train_images, train_labels, seed=bank_seed)
    if "nn-flow" in names:
        near = neighbour_bank(train_images, seed=bank_seed)
    made = {"morph": lambda: seed_morph("morph"), "warp": lambda: seed_morph("warp"),
            "warp-extrap": lambda: seed_morph("warp", -0.5, 1.5), "elastic": elastic,
            "train-flow": lambda: bank_warp(bank), "train-flow x1.5": lambda: bank_warp(bank, 1.5),
            "nn-flow": lambda: bank_warp(near), "thickness": thickness,
            "train-flow+affine": lambda: then(bank_warp(bank), affine),
            "train-flow-fit": lambda: bank_warp(fit)}
    for scale in (1, 1.5, 2, 3):
        suffix = f" x{scale:g}" if scale != 1 else ""
        made["train-flow-shiftless" + suffix] = lambda scale=scale: bank_warp(
            bank - bank.mean((1, 2), keepdims=True), scale)
        made["train-flow-nonaffine" + suffix] = lambda scale=scale: bank_warp(
            without_affine(bank), scale)
    if any(n.endswith(" +refiner") for n in names):
        from refiner import refined, train_refiner

        refiner = train_refiner(train_images, np.concatenate([bank, without_affine(bank)]),
                                seed=bank_seed, echo=print)
        for name in ("train-flow", "train-flow-nonaffine"):
            made[name + " +refiner"] = lambda name=name: refined(made[name](), refiner)
    return {name: made[name]() for name in names}


def on_plan(generate, images, plan) -> np.ndarray:
    """Per class of ``plan``, as many images as it has rows from that class's seeds, generation seed
    = the class's sorted position (as ``generate_from_plan`` does for a non-slerp sampler)."""
    out = np.zeros((len(plan.alpha),) + np.asarray(images).shape[1:], np.float32)
    for position, cls in enumerate(np.unique(plan.class_label)):
        rows = np.flatnonzero(plan.class_label == cls)
        seeds = np.unique(np.concatenate([plan.index_a[rows], plan.index_b[rows]]))
        out[rows] = generate(np.asarray(images)[seeds], len(rows), position)
    return out


def figure(path, gens: dict, images, labels, affine, classes: int = 3, num: int = 10):
    """A labelled grid: for ``classes`` novel classes spread over the sorted labels, the plan's
    seeds (``sample_seeds(labels, 5, 0)``), then ``num`` images of each row and of the augmented
    copies (``affine``), each drawn with seed 0."""
    from augintae_tf.images import save_labelled_grid
    from augintae_tf.metrics.fewshot import sample_seeds

    seeds = sample_seeds(labels, 5, 0)
    names = sorted(seeds)
    rows, titles = [], []
    for label in names[:: max(1, len(names) // classes)][:classes]:
        chosen = np.asarray(images)[seeds[label]]
        rows.append(chosen)
        titles.append(f"class {label}: the 5 seeds")
        picks = chosen[np.random.default_rng(0).integers(len(chosen), size=num)]
        rows.append(affine(picks, 0))
        titles.append("augmented copies")
        for name, generate in gens.items():
            rows.append(generate(chosen, num, 0))
            titles.append(name)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return save_labelled_grid(path, rows, titles, upscale=2)


def parse_args() -> argparse.Namespace:
    from seed_scoring import add_scoring_args

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a trained digits run (augmentation, data)")
    parser.add_argument("--novel", default="digits", choices=("digits", "patches"))
    parser.add_argument("--rows", default=",".join(ROWS), help="comma list of: " + ", ".join(ROWS))
    parser.add_argument("--bank-seed", type=int, default=0, help="draw of the flow banks' pairs")
    add_scoring_args(parser)
    args = parser.parse_args()
    unknown = [r for r in args.rows.split(",") if r not in ROWS]
    if unknown:
        parser.error(f"--rows: unknown row {unknown[0]!r}; choose from {', '.join(ROWS)}")
    return args


def main() -> None:
    args = parse_args()
    from augintae_tf.data import load_arrays
    from augintae_tf.metrics.reference_rows import affine_fn

    from seed_scoring import score_and_write, scoring_setup

    start = time.perf_counter()
    setup = scoring_setup(args)
    bank_start = time.perf_counter()
    affine = affine_fn(setup.run.config.augment)
    gens = generators(args.rows.split(","), *load_arrays(setup.data, "train", dataset="digits"),
                      bank_seed=args.bank_seed, affine=affine)
    bank_s = time.perf_counter() - bank_start
    generated = {name: on_plan(gen, setup.images, setup.plan) for name, gen in gens.items()}
    score_and_write(args, setup, generated, gens,
                    {"rows": args.rows.split(","), "bank_seed": args.bank_seed,
                     "flow_bank_s": round(bank_s, 1)}, start)
    if args.figure:
        print(f"wrote {figure(args.figure, gens, setup.images, setup.labels, affine)}")


if __name__ == "__main__":
    main()
