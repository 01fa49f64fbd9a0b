"""The evaluation's figures and the names and pairs they share with its tables: the appendix
A.6 interpolation figure, the generalization figure, the noise curve (A.4), the same-class novel
pairs and the runs' row names.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from augintae_tf.atomic import atomic_path
from augintae_tf.capabilities import Capability
from augintae_tf.errors import RunError
from augintae_tf.evaluation import generalization
from augintae_tf.images import save_labelled_grid
from augintae_tf.inference.generation import interpolation_path, pixel_fade

INTERP_PAIRS = 8
INTERP_STEPS = 9  # alpha 1, 7/8, ..., 0: the middle column is alpha 0.5


def novel_pairs(labels: np.ndarray, n: int = INTERP_PAIRS, seed: int = 0) -> list[tuple[int, int]]:
    """``n`` pairs of distinct same-class image indices (classes drawn without replacement if possible)."""
    labels = np.asarray(labels).reshape(-1)
    classes = [c for c in np.unique(labels) if np.count_nonzero(labels == c) >= 2]
    if not classes:
        raise RunError("no novel class has 2 images: cannot draw interpolation pairs")
    rng = np.random.default_rng([seed, 2])
    chosen = rng.choice(len(classes), size=n, replace=len(classes) < n)
    pairs = []
    for k in chosen:
        members = np.flatnonzero(labels == classes[k])
        a, b = rng.choice(members, size=2, replace=False)
        pairs.append((int(a), int(b)))
    return pairs


def unique_names(runs) -> list[str]:
    """Row names for runs: the directory name, with ``-2``, ``-3`` ... where names repeat."""
    names, seen = [], {}
    for run in runs:
        base = run.directory.name
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return names


def model_labels(runs) -> list[str]:
    """Row labels for runs in a figure: the model each trained (``augintae``), with the run's
    folder name in brackets where two runs trained the same model (a folder name alone,
    ``00000-shapes-augintae`` or ``quickstart``, does not say what the row shows)."""
    models = [run.config.model.name for run in runs]
    return [model if models.count(model) == 1 else f"{model} ({name})"
            for model, name in zip(models, unique_names(runs))]


def interpolation_figure(path: Path, runs, novel_images, novel_labels, seed) -> Path:
    """The paper's appendix A.6 figure: per same-class novel pair (the same pairs for every
    run), a block of rows, the pixel fade ``alpha * a + (1 - alpha) * b`` and then each run's
    slerp path, at INTERP_STEPS alphas from 1 to 0; every row is labelled in a left margin
    ("pixel fade", or the run's model and the path: ``augintae: slerp``, :func:`model_labels`).
    Runs without a latent (wgan-gp) are left out."""
    named = [(f"{label}: slerp", run) for label, run in zip(model_labels(runs), runs)
             if run.model.has(Capability.LATENT)]
    rows, labels = [], []
    for k, (a, b) in enumerate(novel_pairs(novel_labels, INTERP_PAIRS, seed), start=1):
        rows.append(pixel_fade(novel_images[a], novel_images[b], INTERP_STEPS))
        rows.extend(_pair_row(run.model, novel_images[a], novel_images[b]) for _, run in named)
        labels += [f"{k}. pixel fade"] + [name for name, _ in named]
    return save_labelled_grid(path, rows, labels)


def _pair_row(model, a, b):
    """The run's row for a same-class pair: its slerp path, or for a model without a latent
    (DAGAN, Neural Statistician) its few-shot images from the pair as seeds."""
    if model.has(Capability.LATENT):
        return interpolation_path(model, a, b, INTERP_STEPS)
    return model.fewshot(np.stack([a, b]), INTERP_STEPS, 0).numpy()


def generalization_figure(path: Path, runs, novel_images, seed: int = 0) -> Path:
    """A row of novel inputs, then one row per run of its reconstructions (wgan-gp: inverted and
    refined), labelled with the run's model (:func:`model_labels`): the paper's generalization
    figure for several runs."""
    rng = np.random.default_rng([seed, 7])
    chosen = np.sort(rng.choice(len(novel_images), min(generalization.FIGURE_COLUMNS,
                                                       len(novel_images)), replace=False))
    inputs = novel_images[chosen]
    rows, labels = [], []
    for name, run in zip(model_labels(runs), runs):
        for suffix, fn in generalization.reconstructors(run.model).items():
            rows.append(generalization.reconstruct_all(fn, inputs))
            labels.append(f"{name}{suffix}")
    return generalization.figure(path, inputs, rows, labels)


def plot_noise_curve(curves: Mapping[str, Mapping[int, float]], reference_lines: Mapping[str, float] | None,
                     path: str | os.PathLike, title: str | None = None) -> Path:
    """Plot error-vs-frequency curves (solid) and reference errors (dotted), as the paper's Fig. 1.

    A reference line whose label matches a curve's takes that curve's colour (the model's own
    novel-domain error).  The PNG is written atomically (temp file then ``os.replace``).
    """
    figure = Figure(figsize=(6.4, 4.2), dpi=120)
    FigureCanvasAgg(figure)  # render off-screen with Agg, never through pyplot's global state
    axes = figure.subplots()
    colours = {}
    for i, (label, curve) in enumerate(curves.items()):
        points = sorted(curve.items())
        line, = axes.plot([f for f, _ in points], [e for _, e in points], marker=".", label=label,
                          color=f"C{i % 10}")
        colours[label] = line.get_color()
    extra = len(colours)
    for label, value in (reference_lines or {}).items():
        if label in colours:
            colour, legend = colours[label], f"{label} (novel images)"
        else:
            colour, legend, extra = f"C{extra % 10}", label, extra + 1
        axes.axhline(float(value), linestyle=":", color=colour, label=legend)
    axes.set_xlabel("noise frequency (f x f grid, upscaled)")
    axes.set_ylabel("reconstruction error (MSE per pixel)")
    if title:
        axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    path = Path(path)
    with atomic_path(path, what="the noise plot") as tmp:
        figure.savefig(tmp, format="png")
    return path
