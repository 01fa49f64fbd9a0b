"""tf.distribute strategy selection: one GPU, MirroredStrategy, MultiWorkerMirroredStrategy.

For testing on a CPU-only machine, ``AUGINTAE_CPU_DEVICES=2`` splits the CPU into two logical
devices before TensorFlow starts, and ``mirrored`` then mirrors across them.
"""
from __future__ import annotations

import json
import os

import tensorflow as tf

from augintae_tf.config import ConfigError

CPU_DEVICES_ENV = "AUGINTAE_CPU_DEVICES"


def split_cpu(count: int) -> None:
    """Expose ``count`` logical CPU devices; must run before TensorFlow initialises its devices."""
    cpus = tf.config.list_physical_devices("CPU")
    existing = tf.config.get_logical_device_configuration(cpus[0])
    if existing is not None and len(existing) == count:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
    except RuntimeError as exc:
        raise ConfigError(f"{CPU_DEVICES_ENV}={count}: TensorFlow's devices were already initialised; "
                          "set the variable before the process starts") from exc


def _mirrored_devices() -> list[str] | None:
    """GPUs when there are any; otherwise every logical CPU (see ``AUGINTAE_CPU_DEVICES``)."""
    if tf.config.list_logical_devices("GPU"):
        return None  # MirroredStrategy's default: all visible GPUs
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def make_strategy(name: str) -> tf.distribute.Strategy:
    """``auto``: mirrored when more than one GPU is visible, else the default (one device)."""
    if os.environ.get(CPU_DEVICES_ENV):
        split_cpu(int(os.environ[CPU_DEVICES_ENV]))
    if name == "auto":
        name = "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "none"
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices=_mirrored_devices())
    if name == "multi-worker":
        if "TF_CONFIG" not in os.environ:
            raise ConfigError("train.strategy: multi-worker needs the TF_CONFIG environment variable "
                              "describing the cluster (see README, 'Distributed training')")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ConfigError(f"train.strategy: {name!r} is not allowed; expected auto, none, mirrored or "
                      "multi-worker")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Only the chief writes checkpoints, samples and logs (worker 0 when no chief is named)."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
    return task.get("type") == "chief" or (task.get("type") == "worker" and task.get("index") == 0)
