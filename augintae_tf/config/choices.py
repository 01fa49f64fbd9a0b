"""Every list of allowed values, written once, and the one-line refusal of a value outside one.

Config validation, the CLI's ``--choice`` options and the code that acts on a value (the warp's
fill, the sampler, the backbone builders) all read these tuples. TensorFlow-free.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from augintae_tf.errors import ConfigError

# data / augment
FILL_MODES = ("constant", "reflect")  # augment.fill: zeros | symmetric padding

# data.image_size: the sides a run may have (each backbone or model narrows them)
IMAGE_SIDES = (8, 1024)


@dataclass(frozen=True)
class Backbone:
    """A backbone's image-size facts (its networks: :mod:`augintae_tf.nets`)."""

    name: str
    factor: int  # 2 ** its stride-2 layers: every side it is built at is a multiple of this
    sizes: tuple[int, ...] | None  # the sides a run trains it at; None: every multiple of factor
    auto_up_to: int  # model.backbone "auto" picks the first backbone whose auto_up_to >= the side


# model.backbone, besides "auto"
BACKBONE_TABLE = {b.name: b for b in (
    Backbone("infogan", 4, None, 32),
    Backbone("dcgan", 16, (64, 128), 64),
    Backbone("dcgan128", 32, (64, 128), IMAGE_SIDES[1]),
)}
BACKBONES = tuple(BACKBONE_TABLE)


def auto_backbone(image_size: int) -> str:
    """``model.backbone: auto`` at side ``image_size``: the first backbone whose ``auto_up_to``
    is at least the side (infogan up to 32 px, dcgan up to 64 px, dcgan128 above)."""
    return next(b.name for b in BACKBONE_TABLE.values() if image_size <= b.auto_up_to)


def backbone_sizes(backbone: str) -> tuple[int, ...]:
    """The sides a run trains ``backbone`` at, ascending (``auto``: each side its own
    backbone takes)."""
    if backbone == "auto":
        return tuple(s for name in BACKBONES for s in backbone_sizes(name)
                     if auto_backbone(s) == name)
    row = BACKBONE_TABLE[backbone]
    low, high = IMAGE_SIDES
    return row.sizes or tuple(s for s in range(low, high + 1) if s % row.factor == 0)


def backbone_expects(backbone: str) -> str:
    """What :func:`backbone_sizes` allows, in words: ``a multiple of 4``, ``64 or 128``."""
    row = BACKBONE_TABLE[backbone]
    return " or ".join(map(str, row.sizes)) if row.sizes else f"a multiple of {row.factor}"


# model: the networks
PIXEL_LOSSES = ("l2", "l1", "l1+l2", "bce")  # model.pixel_loss
UPSAMPLING = ("transpose", "resize")  # model.upsampling

# model: what the autoencoders are trained toward (augment.interpolation_batch) and how training
# draws the interpolation weight (latent.sample_alpha)
TARGETS = ("augmentation", "blend")  # model.target of ae, augintae, augintae-adv
INTAE_TARGETS = ("critic", "blend")  # model.target of intae
ALPHAS = ("midpoint", "uniform")  # model.alpha

# model: the few-shot samplers, one row each: what ``--sampler`` and ``model.sampler`` allow and
# what the code around a sampler reads of it.
@dataclass(frozen=True)
class Sampler:
    """A few-shot sampler.  ``draw`` is its function, ``"module:function"`` (imported when it
    draws).  For ``output`` ``latents``, ``pair`` and ``edit``
    (:func:`augintae_tf.latent.sample_latents` calls it): the seeds' unit latents, the drawn
    ``(first, second, alpha)`` seed pairs, ``num``, ``seed``, the noise ``scale`` and ``factor`` ->
    ``num`` unit latents.  For ``output`` ``images`` (the model's
    :meth:`~augintae_tf.models.autoencoder.Autoencoder.fewshot` calls it): the model, the seed
    images, their unit latents, ``num``, ``seed``, ``scale`` and ``batch_size`` -> ``num`` images."""

    name: str
    draw: str
    seeds: int = 2  # the fewest seed images it takes (1: it starts from one random seed)
    # the latent statistic it reads (models/latent_stats.py): "local" (the factor of the
    # covariance of training latents around their neighbours), "within" (the within-class one's)
    # or "flow" (the bank of deformation fields of training pairs); None: none
    statistic: str | None = None
    # what the model makes of it: "latents" (decoded), "pair" (the model's own interpolation of
    # the drawn pair, Autoencoder.interpolate_latents), "edit" (the seed image plus the decoded
    # change, models/autoencoder.edit_fn) or "images" (the draw makes the images itself)
    output: str = "latents"
    # whether it takes a scale without a statistic (aug-path: the multiple of the run's
    # augmentation ranges); every sampler with a statistic takes one
    scaled: bool = False


_L, _A = "augintae_tf.latent", "augintae_tf.models.aug_path"
SAMPLER_TABLE = {s.name: s for s in (
    Sampler("slerp", f"{_L}:draw_slerp", output="pair"),  # the paper's
    Sampler("local", f"{_L}:draw_near_seed", seeds=1, statistic="local"),
    Sampler("slerp-local", f"{_L}:draw_near_slerp", statistic="local"),
    Sampler("local-edit", f"{_L}:draw_near_seed", seeds=1, statistic="local", output="edit"),
    Sampler("convex", f"{_L}:draw_convex"),
    Sampler("within", f"{_L}:draw_near_seed", seeds=1, statistic="within"),
    Sampler("within-edit", f"{_L}:draw_near_seed", seeds=1, statistic="within", output="edit"),
    Sampler("set-edit", f"{_L}:draw_near_seed_set", statistic="within", output="edit"),
    # AugIntAE's learned augmentation paths (models/aug_path.py)
    Sampler("aug-path", f"{_A}:aug_path", seeds=1, output="images", scaled=True),
    Sampler("aug-path-within", f"{_A}:aug_path_within", seeds=1, statistic="within",
            output="images"),
    Sampler("aug-path-edit", f"{_A}:aug_path_edit", seeds=1, statistic="within",
            output="images"),
    # a seed under a training class's real deformation (models/deform.py)
    Sampler("flow", "augintae_tf.models.deform:flow", seeds=1, statistic="flow", output="images"),
)}
SAMPLERS = tuple(SAMPLER_TABLE)
# the samplers that take a scale (--scale, model.sampler_scale, a served signature's scale input)
SCALED_SAMPLERS = tuple(s.name for s in SAMPLER_TABLE.values() if s.statistic or s.scaled)
# the samplers that start from one seed (a random one of K; K = 1 is one-shot generation); the
# others combine two or more (a slerp between two, a convex combination of all, the seeds' scatter)
ONE_SEED_SAMPLERS = tuple(s.name for s in SAMPLER_TABLE.values() if s.seeds == 1)
# the noise scale of the scaled samplers: model.sampler_scale's and --scale's range
SAMPLER_SCALE = (0, 10)


def min_seeds(sampler: str | None) -> int:
    """How many seed images ``sampler`` needs (``""`` or None: a model's own few-shot way, a
    pair of seeds)."""
    return SAMPLER_TABLE[sampler].seeds if sampler in SAMPLER_TABLE else 2


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
