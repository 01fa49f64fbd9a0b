"""Every list of allowed values, written once, and the one-line refusal of a value outside one.

Config validation, the CLI's ``--choice`` options and the code that acts on a value (the warp's
fill, the sampler, the backbone builders) all read these tuples. TensorFlow-free.
"""
from __future__ import annotations

from typing import Any

from augintae_tf.errors import ConfigError

# data / augment
FILL_MODES = ("constant", "reflect")  # augment.fill: zeros | symmetric padding

# model: the networks
BACKBONES = ("infogan", "dcgan", "dcgan128")  # model.backbone, besides "auto" (from the size)
PIXEL_LOSSES = ("l2", "l1", "l1+l2", "bce")  # model.pixel_loss
UPSAMPLING = ("transpose", "resize")  # model.upsampling

# model: what the autoencoders are trained toward (augment.interpolation_batch) and how training
# draws the interpolation weight (latent.sample_alpha)
TARGETS = ("augmentation", "blend")  # model.target of ae, augintae, augintae-adv
INTAE_TARGETS = ("critic", "blend")  # model.target of intae
ALPHAS = ("midpoint", "uniform")  # model.alpha

# model: few-shot samplers (latent.sample_latents); the noisy ones read the latent-stats stage's
# local or within-class covariance (models/latent_stats.py); the -edit ones add the decoded change
# to the seed image (models/autoencoder.edit_fn); the aug-path ones decode AugIntAE's learned
# augmentation paths (models/aug_path.py: they take a scale, and the within-class covariance
# where their name says within or edit)
AUG_PATH_SAMPLERS = ("aug-path", "aug-path-within", "aug-path-edit")
SAMPLERS = ("slerp", "local", "slerp-local", "local-edit", "convex", "within", "within-edit",
            "set-edit", *AUG_PATH_SAMPLERS)
NOISY_SAMPLERS = ("local", "slerp-local", "local-edit", "within", "within-edit", "set-edit",
                  *AUG_PATH_SAMPLERS)
# the within-class covariance's
WITHIN_SAMPLERS = ("within", "within-edit", "set-edit", "aug-path-within", "aug-path-edit")
EDIT_SAMPLERS = ("local-edit", "within-edit", "set-edit")
# the samplers that start from one seed (a random one of K; K = 1 is one-shot generation); the
# others combine two or more (a slerp between two, a convex combination of all, the seeds' scatter)
ONE_SEED_SAMPLERS = ("local", "local-edit", "within", "within-edit", *AUG_PATH_SAMPLERS)


def min_seeds(sampler: str | None) -> int:
    """How many seed images ``sampler`` needs (``""`` or None: a model's own few-shot way, a
    pair of seeds)."""
    return 1 if sampler in ONE_SEED_SAMPLERS else 2


def seed_count_problem(count: int, sampler: str | None, seeds: str, default: bool) -> str | None:
    """The one line refusing ``count`` seed images (from ``--seeds seeds``) for ``sampler`` (the
    run's own when ``default``), or None when they are enough."""
    if count >= min_seeds(sampler):
        return None
    which = (f"the run's sampler {sampler}" if default else f"--sampler {sampler}") if sampler \
        else "this model's few-shot generation"
    return (f"--seeds {seeds} holds {count} image{'s' * (count != 1)}; {which} needs at least "
            f"{min_seeds(sampler)} of one class (--sampler {_one_of(ONE_SEED_SAMPLERS)} generates "
            "from one)")


def _one_of(names) -> str:
    """``a, b or c``."""
    return " or ".join(names) if len(names) < 3 else f"{', '.join(names[:-1])} or {names[-1]}"

# model: FastGAN's DiffAugment operations, each applied to an image with probability p_<op>
DIFFAUGMENT_OPERATIONS = ("translation", "cutout", "brightness", "saturation", "contrast", "flip")

# train
STRATEGIES = ("auto", "none", "mirrored", "multi-worker")
# auto: mixed_bfloat16 where the hardware computes in bf16 and the model measured the same in
# it, else float32 (models/precision.py)
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
JIT_MODES = ("auto", "on", "off")


def require(ok: bool, key: str, value: Any, allowed: str) -> None:
    """ConfigError ``KEY: VALUE is not allowed; expected ALLOWED`` unless ``ok`` (config
    validation and the model sections' ``check()``)."""
    if not ok:
        raise ConfigError(f"{key}: {value!r} is not allowed; expected {allowed}")
