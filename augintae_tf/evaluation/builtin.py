"""The built-in metric functions of the table (:mod:`augintae_tf.evaluation.table`), each
``metric(run, data, options) -> dict`` of values for ``metrics.json``; the ``quality`` and
``generalization`` metrics have modules of their own."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from augintae_tf.capabilities import Capability
from augintae_tf.evaluation.classifiers import chance_problem
from augintae_tf.evaluation.inputs import EvalData
from augintae_tf.evaluation.figures import interpolation_figure, plot_noise_curve
from augintae_tf.evaluation.options import EvalOptions
from augintae_tf.metrics.fewshot import random_latent_samples
from augintae_tf.metrics.frechet import (activation_statistics, frechet_distance, too_few_for_fd,
                                         frechet_distance_from_activations)
from augintae_tf.metrics.inception import (FeatureExtractor, cached_statistics,
                                           statistics_cache_path)
from augintae_tf.metrics.noise import noise_reconstruction_curve, reconstruction_error


def load_fid_network(options: EvalOptions):
    """The FID metric's prepare hook: runs before the run loads, so a missing network fails fast."""
    return FeatureExtractor(options.fid_network)


def fid(run, data: EvalData, options: EvalOptions) -> dict:
    """Few-shot FID (plan images vs novel images) and random-sample FID (Gaussian fitted to the
    encoded training images vs the training-domain test split), Inception-v3 pool3."""
    extractor, cfg, progress = data.prepared["fid"], data.cfg, data.progress

    def real_stats(dataset, split, which):
        images, _ = data.arrays(which)
        path = statistics_cache_path(_fid_cache_dir(), dataset, split, extractor.name,
                                     cfg.data.image_size, len(images))
        return cached_statistics(path, lambda: extractor(images, progress=progress))

    def fid_of(images, reference):
        return frechet_distance(*activation_statistics(extractor(images, progress=progress)),
                                *reference)

    out = {"fid_network": extractor.name}
    if run.model.has(Capability.FEWSHOT):
        out["fid_fewshot"] = fid_of(data.fewshot_images,
                                    real_stats(data.novel_dataset, data.novel_split, "novel"))
    if run.model.has(Capability.LATENT):
        samples = random_latent_samples(run.model, data.arrays(cfg.data.train_split)[0],
                                        options.num_images, options.seed)
    elif run.model.has(Capability.SAMPLE):  # a sample-only model (e.g. FastGAN): its noise prior
        samples = data.samples
    else:  # DAGAN, the statistician: nothing to sample without seeds
        out["fid_random"] = None
        return out
    out["fid_random"] = fid_of(samples, real_stats(*data.source("held_out"), "held_out"))
    return out


def pixel_features(images, size: int = 8) -> np.ndarray:
    """Images area-resized to ``size`` x ``size``, flattened: a crude, offline feature space."""
    small = tf.image.resize(np.asarray(images, np.float32), (size, size), method="area")
    return small.numpy().reshape(len(images), -1).astype(np.float64)


def samples(run, data: EvalData, options: EvalOptions) -> dict:
    """Fréchet distance between ``num_images`` samples and the held-out (test split) images in
    8x8-pixel features (``fd_px8_samples``), beside the floor ``fd_px8_floor`` (training vs
    held-out images: what a generator that reproduced the training set would score)."""
    cfg = data.cfg.data
    test, _ = data.arrays("held_out")
    train, _ = data.arrays(cfg.train_split)
    reference = pixel_features(test)
    out = {"samples_seed": options.seed, "samples_num": len(data.samples)}
    for key, images in (("fd_px8_samples", data.samples), ("fd_px8_floor", train)):
        value = frechet_distance_from_activations(pixel_features(images), reference)
        out[f"{key}_images"] = f"{len(images)} vs {len(test)} held-out images"
        problem = too_few_for_fd(min(len(images), len(test)), reference.shape[1])
        out[key] = None if problem else value
        if problem:  # a distance from too few images measures their number (metrics.frechet)
            out[f"{key}_raw"], out[f"{key}_note"] = value, problem
    return out


def _fid_cache_dir() -> Path:
    return Path(os.environ.get("AUGINTAE_CACHE_DIR") or Path.home() / ".cache" / "augintae_tf") / "fid"


def _classifier_accuracies(data: EvalData) -> dict:
    domain, classes = data.classifiers
    return {"domain_classifier_accuracy": domain.accuracy,
            "class_classifier_accuracy": classes.accuracy}


def fd_clf(run, data: EvalData, options: EvalOptions) -> dict:
    """Fréchet distance in the novel-class classifier's penultimate features."""
    return {**_classifier_accuracies(data), "fd_clf": data.classifier_values["fd_clf"]}


def classifier(run, data: EvalData, options: EvalOptions) -> dict:
    """Share of few-shot images judged novel-domain; accuracy on their seeds' class (A.3: by a
    classifier trained on every novel image, the seeds included; the quality table's class
    accuracy uses one that never saw the seeds).  A value from a classifier whose held-out
    accuracy is within chance is None, with ``KEY_note`` saying so and ``KEY_raw`` the value."""
    values, out = data.classifier_values, _classifier_accuracies(data)
    for key, trained, what in (("domain_share", data.classifiers[0], "domain"),
                               ("class_accuracy", data.classifiers[1], "novel-class")):
        problem = chance_problem(trained, what)
        out[key] = None if problem else values[key]
        if problem:
            out[f"{key}_raw"], out[f"{key}_note"] = values[key], problem
    return out


def recon(run, data: EvalData, options: EvalOptions) -> dict:
    """Reconstruction MSE per pixel on novel images and on the training domain's test split."""
    test_images, _ = data.arrays("held_out")
    return {"recon_novel": data.recon_novel, "recon_novel_images": f"{len(data.novel[0])} images",
            "recon_test": reconstruction_error(data.reconstruct, test_images),
            "recon_test_images": f"{len(test_images)} images"}


def noise(run, data: EvalData, options: EvalOptions) -> dict:
    """Reconstruction error of uniform noise per frequency (``noise.png``, novel error dotted)."""
    cfg = data.cfg
    curve = noise_reconstruction_curve(data.reconstruct, cfg.data.image_size, cfg.data.channels,
                                       trials=options.noise_trials, seed=options.seed,
                                       progress=data.step)
    plot_noise_curve({cfg.model.name: curve}, {cfg.model.name: data.recon_novel},
                     data.out / "noise.png", title=f"{run.directory.name}: noise reconstruction")
    return {"recon_novel": data.recon_novel, "noise": {str(f): e for f, e in curve.items()},
            "noise_mean": float(np.mean(list(curve.values())))}


def interp(run, data: EvalData, options: EvalOptions) -> dict:
    """Pixel fade and slerp rows for same-class novel pairs (``interpolations.png``)."""
    images, labels = data.novel
    interpolation_figure(data.out / "interpolations.png", [run], images, labels, options.seed)
    return {}
