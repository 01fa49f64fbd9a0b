"""What a model can do for the code around it: the names :attr:`ModelContract.capabilities` holds.

Generation, evaluation, export and the training grids ask ``model.has(Capability.X)`` and use
only the methods that capability promises (:class:`augintae_tf.models.contract.ModelContract`).
A ``StrEnum``: a member equals, hashes and prints as its string (``Capability.LATENT ==
"latent"``), so metric tables and messages written with the plain names keep working.
TensorFlow-free (export's and the CLI's checks read it before TensorFlow loads).
"""
from __future__ import annotations

import enum


class Capability(enum.StrEnum):
    """One thing a model can do, and the methods it promises."""

    LATENT = "latent"  # encode / decode / interpolate / interpolate_latents; call() reconstructs
    FEWSHOT = "fewshot"  # fewshot(seed_images, num, seed)
    SAMPLE = "sample"  # sample(num, seed): unconditional images

