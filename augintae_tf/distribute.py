"""tf.distribute strategy selection: one device, MirroredStrategy, MultiWorkerMirroredStrategy.

For testing on a CPU-only machine, ``AUGINTAE_CPU_DEVICES=2`` splits the CPU into two logical
devices before TensorFlow starts, and ``mirrored`` then mirrors across them.

What a strategy changes in training (see ``models/autoencoder.py``): the global batch is split evenly
across replicas, each replica scales its mean loss by 1/replicas so the summed gradients equal
the single-device gradient, and each replica folds its id into the step's RNG seed so the replicas
draw different augmentations and alphas.
"""
from __future__ import annotations

import json
import os
from typing import Any, Mapping

import tensorflow as tf

from augintae_tf.errors import ConfigError

CPU_DEVICES_ENV = "AUGINTAE_CPU_DEVICES"


def requested_cpu_devices(environ: Mapping[str, str] = os.environ) -> int | None:
    """The logical CPU device count asked for by ``AUGINTAE_CPU_DEVICES`` (None: not set)."""
    value = environ.get(CPU_DEVICES_ENV, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{CPU_DEVICES_ENV}={value!r} is not allowed; expected an integer >= 1")
    return int(value)


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
        raise ConfigError(f"{CPU_DEVICES_ENV}={count}: TensorFlow's devices were already "
                          "initialised; set the variable before the process starts") from exc


def _mirrored_devices() -> list[str] | None:
    """GPUs when there are any; otherwise every logical CPU (see ``AUGINTAE_CPU_DEVICES``)."""
    if tf.config.list_logical_devices("GPU"):
        return None  # MirroredStrategy's default: all visible GPUs
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def read_tf_config(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The parsed ``TF_CONFIG`` cluster description; ConfigError (one line) when missing or bad."""
    raw = environ.get("TF_CONFIG")
    if not raw:
        raise ConfigError("train.strategy: multi-worker needs the TF_CONFIG environment variable "
                          "describing the cluster (see README, 'Distributed training')")
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"TF_CONFIG is not valid JSON: {exc}") from None
    task = config.get("task") if isinstance(config, dict) else None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict) or "type" not in task:
        raise ConfigError('TF_CONFIG must look like {"cluster": {"worker": ["host:port", ...]}, '
                          '"task": {"type": "worker", "index": 0}}')
    members = cluster.get(task["type"], [])
    if not 0 <= int(task.get("index", 0)) < len(members):
        raise ConfigError(f"TF_CONFIG task {task} is not in its cluster {sorted(cluster)}")
    return config


def make_strategy(name: str) -> tf.distribute.Strategy:
    """``auto``: mirrored when more than one GPU is visible, else the default (one device)."""
    count = requested_cpu_devices()
    if count is not None:
        split_cpu(count)
    if name == "auto":
        name = "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "none"
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices=_mirrored_devices())
    if name == "multi-worker":
        read_tf_config()  # a clear error here instead of a hang or a C++ one from the strategy
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ConfigError(f"train.strategy: {name!r} is not allowed; expected auto, none, mirrored or "
                      "multi-worker")


def check_jit(strategy: tf.distribute.Strategy, jit: str) -> None:
    """Refuse ``train.jit: on`` with MirroredStrategy over several devices: Keras compiles the
    whole ``strategy.run`` into one XLA computation, which cannot touch variables that live on
    other devices (TF's XLA known issue; the error surfaces at the first step as "Trying to access
    resource ... located in device ...").  ``auto`` already resolves to off under a strategy."""
    if jit == "on" and isinstance(strategy, tf.distribute.MirroredStrategy) \
            and strategy.num_replicas_in_sync > 1:
        raise ConfigError(f"train.jit: 'on' cannot be combined with --strategy mirrored over "
                          f"{strategy.num_replicas_in_sync} devices (XLA cannot compile a step "
                          "whose variables live on several devices); use --no-jit")


def is_chief_task(tf_config: Mapping[str, Any]) -> bool:
    """The task that writes: the ``chief`` task, or worker 0 when the cluster names no chief
    (TensorFlow's convention)."""
    task, cluster = tf_config.get("task", {}), tf_config.get("cluster", {})
    if task.get("type") == "chief":
        return True
    worker_zero = task.get("type") == "worker" and int(task.get("index", 0)) == 0
    return worker_zero and "chief" not in cluster


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Only the chief writes checkpoints, samples and logs; single-machine strategies always do."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    return is_chief_task(json.loads(os.environ.get("TF_CONFIG", "{}")))


def multi_worker(strategy: tf.distribute.Strategy) -> bool:
    """True under MultiWorkerMirroredStrategy with more than one worker: its cluster (the public
    ``cluster_resolver``) names more than one chief or worker task, as TensorFlow counts them."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    cluster = strategy.cluster_resolver.cluster_spec().as_dict()
    return len(cluster.get("chief", [])) + len(cluster.get("worker", [])) > 1


def step_outputs(logs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """A train/test step's logs, shaped so Keras can reduce them across replicas.

    Keras 3 (3.15) reduces step outputs under multi-worker training with
    ``strategy.reduce("MEAN", value, axis=0)``, which fails for the scalars every other strategy
    expects ("Invalid reduction dimension 0 for input with 0 dimensions", keras-team/keras#20585).
    A ``[1]``-shaped value reduces to the same scalar: the mean over all replicas of all workers.
    """
    if not multi_worker(tf.distribute.get_strategy()):
        return logs
    return {name: tf.reshape(value, [1]) for name, value in logs.items()}
