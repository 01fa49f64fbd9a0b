"""What ``train_throughput.py`` needs to know per model: its shapes, batch, data layout, and how
its step's FLOPs are averaged.  Imports no TensorFlow until a batch is made.

- Shapes: every model at 28x28x1 (the glyphs preset, batch 128) and 64x64x3 (the cifar10 preset,
  batch 64), except FastGAN, whose own networks start at 64 px: 64x64x3 at its own batch 8
  (``FastGANConfig.PRESET_DEFAULTS``, FastGAN's).  (128 px is no cheap row on a CPU: ~4x the FLOPs
  of 64 px per image.)
- Data: DAGAN and the Neural Statistician train on labelled same-class sets (``batches ==
  "sets"``): ``(images [B // n, n, S, S, C], labels [B // n])`` with ``n = model.set_size``, so a
  batch holds ``B // n * n`` images; every other model takes ``[B, S, S, C]``.
- FLOPs: wgan-gp and DAGAN update the generator on one step in ``critic_steps`` /
  ``critic_updates`` (a ``tf.cond``); their FLOPs per image are the average step's
  (:func:`flops.graph_flops`' ``branch_share``).  Any other conditional (e.g. Keras'
  spectral norm's "kernel all zero" guard in FastGAN) counts its costlier branch.
"""
from __future__ import annotations

SHAPES = {"28x28x1": ("glyphs", 128), "64x64x3": ("cifar10", 64)}  # preset, batch size
OWN_SHAPES = {"fastgan": {"64x64x3": ("cifar10", 8)}}  # models with their own shapes and batch


def model_shapes(name: str, shapes: list[str]) -> list[str]:
    """The shapes of ``shapes`` model ``name`` runs at (all of them but its own for FastGAN)."""
    own = OWN_SHAPES.get(name)
    return [s for s in shapes if own is None or s in own]


def preset_and_batch(name: str, shape: str) -> tuple[str, int]:
    return OWN_SHAPES.get(name, SHAPES).get(shape) or SHAPES[shape]


def all_pairs(names: list[str], shapes: list[str]) -> list[tuple[str, str]]:
    """(model, shape) in the order the table shows them: shape by shape, models in order."""
    return [(n, s) for s in shapes for n in names if s in model_shapes(n, [s])]


def branch_share(cfg) -> float | None:
    """The fraction of steps that take a model's conditional generator update (None: none)."""
    m = cfg.model
    if m.name == "wgan-gp":
        return 1.0 / m.critic_steps
    if m.name == "dagan":
        return 1.0 / m.critic_updates
    return None


def example_batch(model, cfg, batch: int, seed: int = 0):
    """One random training batch as ``model`` takes it and the number of images in it."""
    import numpy as np

    size, channels = cfg.data.image_size, cfg.data.channels
    rng = np.random.default_rng(seed)
    if model.batches == "sets":
        n = cfg.model.set_size
        sets = rng.uniform(size=(batch // n, n, size, size, channels)).astype(np.float32)
        return (sets, np.zeros(batch // n, np.int64)), batch // n * n
    return rng.uniform(size=(batch, size, size, channels)).astype(np.float32), batch
