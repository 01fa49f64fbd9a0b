"""The precision a model computes in: the dtype every model receives in its
:class:`~augintae_tf.models.build.ModelSetup` (its layers are built in it; no process-wide Keras
policy is set), chosen here for each use.

- **Training** (:func:`resolve`) computes in ``train.precision``.  ``auto`` (the default) resolves,
  once, at the start of training, to ``mixed_bfloat16`` where the hardware computes in bfloat16
  (a CPU with AVX512_BF16 or AMX; a GPU of compute capability >= 8.0) AND the model's config
  section says its few-shot quality was measured to hold in bf16 (``ModelConfig.BF16_MEASURED``:
  ae and augintae; benchmarks/RESULTS.md, "bf16 as a recipe choice"); else ``float32``: a CPU
  without native bf16 runs TensorFlow's emulated bf16 kernels (several times slower than float32),
  and a model whose bf16 quality nobody measured is not switched silently.  The resolved value is
  what the run's ``config.yaml`` records, so a resumed run keeps the precision it trained in
  whatever machine it moves to.  An explicit ``--precision`` is never changed (``train`` still
  warns when it is slow here: :func:`augintae_tf.cpu.slow_setting_warnings`).
- **Inference and export** (:data:`INFERENCE`) compute in float32 whatever the run trained in:
  every mixed policy keeps its variables in float32, so the weights load unchanged, and an
  exported SavedModel's outputs match the Keras model's within the export's 1e-5 check.
"""
from __future__ import annotations

import dataclasses

import tensorflow as tf

from augintae_tf import cpu

AUTO = "auto"
BF16 = "mixed_bfloat16"
FLOAT32 = "float32"
INFERENCE = FLOAT32  # what a trained run is loaded (generate, evaluate, export) and served in
# NVIDIA GPUs compute bfloat16 natively from Ampere (compute capability 8.0) on.
GPU_BF16_CAPABILITY = (8, 0)


def choose(model: str, quality_holds: bool, *, gpu: bool, gpu_capability: tuple[int, int] | None,
           native_bf16: bool | None) -> tuple[str, str]:
    """(precision, why) for ``auto`` on this hardware; pure, so every branch is testable."""
    if gpu:
        where = f"GPU of compute capability {gpu_capability}" if gpu_capability else "GPU"
        hardware = gpu_capability is not None and tuple(gpu_capability) >= GPU_BF16_CAPABILITY
        lacking = f"this {where} has no native bf16 (needs compute capability >= 8.0)"
    else:
        where = f"CPU ({cpu.cpu_model()})"
        hardware = bool(native_bf16)
        lacking = (f"this {where} has no native bf16 (AVX512_BF16 or AMX); TensorFlow would "
                   "emulate bf16, several times slower" if native_bf16 is False
                   else f"whether this {where} has native bf16 is unknown")
    if not hardware:
        return FLOAT32, lacking
    if not quality_holds:
        return FLOAT32, (f"this {where} has native bf16, but model {model}'s few-shot quality in "
                         f"bf16 has not been measured; --precision {BF16} to use it anyway")
    return BF16, (f"this {where} has native bf16 and model {model}'s few-shot quality measured "
                  f"the same as in float32; --precision {FLOAT32} to keep float32")


def gpu_capability() -> tuple[bool, tuple[int, int] | None]:
    """(a GPU is visible, the first GPU's compute capability or None)."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return False, None
    capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability")
    return True, None if capability is None else tuple(capability)


def training_dtype(cfg) -> str:
    """The dtype a model of ``cfg`` trains in: ``train.precision`` once :func:`resolve` chose it
    (``train`` does, first); float32 for a config still at ``auto``."""
    return FLOAT32 if cfg.train.precision == AUTO else cfg.train.precision


def resolve(cfg):
    """(``cfg`` with ``train.precision`` resolved, the line saying why, or None if it was
    explicit)."""
    if cfg.train.precision != AUTO:
        return cfg, None
    gpu, capability = gpu_capability()
    measured = cfg.model.name in type(cfg.model).BF16_MEASURED
    precision, why = choose(cfg.model.name, measured, gpu=gpu,
                            gpu_capability=capability, native_bf16=cpu.has_native_bf16())
    train = dataclasses.replace(cfg.train, precision=precision)
    return dataclasses.replace(cfg, train=train), f"precision {precision} (auto): {why}"
