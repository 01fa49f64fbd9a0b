"""The generalization study (paper sec. 1 and appendix A.2/A.4): do a model's latent space and
generator represent images of classes it never saw?

For held-out training-domain images (the run's ``test_split``) and novel-domain images, each
model reconstructs: the AE family and the VAE encode and decode; wgan-gp inverts (inversion
network, then the per-image refinement), reported both ways (``_inverted`` and the default,
refined).  Two errors per set:

- ``gen_{test,novel}_mse``: mean squared error per pixel;
- ``gen_{test,novel}_fd``: Fréchet distance between the reconstructions and the originals in the
  evaluation's feature space (the novel-class classifier's penultimate features, as ``fd-clf``).

``gen_novel_ratio`` = novel MSE / test MSE: near 1 when the model represents novel images as well
as its own domain.  The figure (``generalization.png``; ``compare`` writes one for several runs)
has a row of novel inputs, then one row of reconstructions per model (and variant).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from augintae_tf.images import save_labelled_grid
from augintae_tf.metrics.frechet import frechet_distance_from_activations

DEFAULT_IMAGES = 256  # per set, unless --data-limit says otherwise (refinement is per image)
FIGURE_COLUMNS = 12


def reconstructors(model) -> dict[str, Callable]:
    """``{suffix: images -> reconstructions}``: ``""`` is the model's own reconstruction; a model
    may add variants (wgan-gp: ``"_inverted"``, the inversion network without refinement)."""
    return {"": lambda images: model(images, training=False), **model.reconstruction_variants()}


def reconstruct_all(fn: Callable, images: np.ndarray, batch_size: int = 128) -> np.ndarray:
    images = np.asarray(images, np.float32)
    out = [np.asarray(fn(images[i:i + batch_size]), np.float32)
           for i in range(0, len(images), batch_size)]
    return np.concatenate(out)


def errors(originals: np.ndarray, recon: np.ndarray, embed: Callable | None) -> dict[str, float]:
    """``{"mse": per-pixel MSE, "fd": FD of embed(recon) vs embed(originals)}`` (no fd without
    ``embed``)."""
    out = {"mse": float(np.mean(np.square(recon - originals)))}
    if embed is not None:
        out["fd"] = float(frechet_distance_from_activations(embed(recon), embed(originals)))
    return out


def generalization_values(model, test_images, novel_images, embed: Callable | None
                          ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """(metric values, ``{suffix: novel reconstructions}``) for one model."""
    values, novel_rows = {}, {}
    for suffix, fn in reconstructors(model).items():
        for name, images in (("test", test_images), ("novel", novel_images)):
            recon = reconstruct_all(fn, images)
            if name == "novel":
                novel_rows[suffix] = recon[:FIGURE_COLUMNS]
            for key, value in errors(images, recon, embed).items():
                values[f"gen_{name}_{key}{suffix}"] = value
        values[f"gen_novel_ratio{suffix}"] = (values[f"gen_novel_mse{suffix}"]
                                              / max(values[f"gen_test_mse{suffix}"], 1e-12))
    return values, novel_rows


def figure(path, novel_images: np.ndarray, rows: list[np.ndarray], labels: list[str]):
    """Row 1: novel inputs; then one reconstruction row per model (paper's fig. 2 layout), each
    row named by ``labels`` in a left margin."""
    return save_labelled_grid(path, [np.asarray(novel_images[:FIGURE_COLUMNS])] + rows,
                              ["novel inputs", *labels])


def metric(run, data, options) -> dict:
    """The evaluation table's ``generalization`` row (see the module docstring)."""
    n = options.data_limit or DEFAULT_IMAGES
    test, _ = data.arrays("held_out", limit=n)
    novel, _ = data.arrays("novel", limit=n)
    embed = data.classifiers[1].embed  # the novel-class classifier (cached in RUN/eval)
    values, rows = data.timer("generalization_reconstruct", lambda: generalization_values(
        run.model, test, novel, embed))
    figure(data.out / "generalization.png", novel, list(rows.values()),
           [f"{run.config.model.name}{suffix}: reconstructions" for suffix in rows])
    return {**values, "gen_images": int(min(len(test), len(novel)))}
