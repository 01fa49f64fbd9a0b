"""What a run defaults to for the data it is given: the image sizes a model trains at (what a
folder's size is inferred to) and the line ``train`` prints about the recipe it chose.
``augintae_tf.config`` picks the preset (``preset_for_dataset``); cli/options.py applies both."""
from __future__ import annotations

from typing import Any, Mapping

from augintae_tf.config import DEFAULT_PRESET, DEFAULT_RGB_PRESET, preset_section
from augintae_tf.sections import ModelConfig, section_class

# The one line `train --dataset D` prints about a recipe it chose.
RECIPE_LINES = {
    DEFAULT_PRESET: "for 1-channel images: the AE on the blend target, L1 loss, latent 128, "
                    "constant lr, half the paper's affine ranges (measured best on glyphs: "
                    "README, \"Recommended recipe\"); --config glyphs for the paper's AugIntAE",
    DEFAULT_RGB_PRESET: "for colour images: the same levers (AE on the blend target, L1 loss, "
                        "constant lr, half the affine ranges; measured on glyphs, not yet on "
                        "colour images) on the cifar10 preset (colour jitter, latent 512); "
                        "--config cifar10 for the paper's AugIntAE",
}


def model_choice(preset: str, overrides: Mapping[str, Any]) -> tuple[str, str]:
    """(model name, backbone) that ``preset`` with ``overrides`` selects, read without building
    (or validating) the config: what :func:`trainable_sizes` needs before the size is known."""
    model = preset_section(preset, "model")
    name = overrides.get("model.name") or model.get("name") or ModelConfig.name
    return str(name), str(overrides.get("model.backbone") or model.get("backbone") or "auto")


def trainable_sizes(model_name: str, backbone: str = "auto") -> tuple[int, ...]:
    """The image sizes :func:`augintae_tf.config.validate` accepts for ``model_name`` on
    ``backbone``, ascending: a model's own ``IMAGE_SIZES``, else the backbone's (infogan:
    multiples of 4; dcgan: 64 and 128; auto: infogan's up to 32, then 64 and 128)."""
    sizes = getattr(section_class(model_name), "IMAGE_SIZES", None)
    if sizes is not None:
        return tuple(sorted(sizes))
    if backbone == "infogan":
        return tuple(range(8, 1025, 4))
    if backbone in ("dcgan", "dcgan128"):
        return (64, 128)
    return tuple(range(8, 33, 4)) + (64, 128)
