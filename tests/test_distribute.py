"""Strategies on a CPU split into 2 logical devices (AUGINTAE_CPU_DEVICES=2), in subprocesses:
logical devices must be configured before TensorFlow initialises, which this process already did.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap

import pytest

from augintae_tf.config import ConfigError
from conftest import run_python
from augintae_tf.distribute import (is_chief_task, make_strategy, read_tf_config,
                                    requested_cpu_devices)

TOLERANCE = 1e-5

# One epoch (4 steps of a global batch of 16) under `mirrored` against the single-device run.
# Identity augmentation and a constant alpha make the step deterministic given the batch; what is
# left to differ is exactly what the strategy does: split the batch, scale and sum gradients,
# count steps, and BatchNorm statistics, compared in both BN modes:
# - per-replica (Keras' default): each replica normalises over its own 8 images, so the reference
#   is a single-device model that runs the two halves separately (the per-replica BN statistics
#   ARE the model then);
# - synchronized: statistics over the global batch, so the reference is the plain run.
# Then, with the real alphas and augmentation, the replicas must draw differently.
SCRIPT = textwrap.dedent("""
    import copy, json
    import keras, numpy as np, tensorflow as tf
    from augintae_tf.config import Config
    from augintae_tf.config import ConfigError
    from augintae_tf.distribute import check_jit, make_strategy
    from augintae_tf.models import build_model
    from augintae_tf.models.contract import derive_seed
    from augintae_tf.models.augintae.model import AugIntAE
    from augintae_tf.augment import sub_seed
    from augintae_tf.models.autoencoder import Autoencoder
    from augintae_tf.augment import augment
    from augintae_tf.latent import sample_alpha

    mirrored, single = make_strategy("mirrored"), make_strategy("none")
    cfg = Config()
    cfg.data.image_size, cfg.model.latent_dim, cfg.model.width = 12, 8, 0.25
    x = np.random.default_rng(0).uniform(size=(64, 12, 12, 1)).astype("float32")
    out = {"replicas": mirrored.num_replicas_in_sync}
    check_jit(mirrored, "off"), check_jit(single, "on")
    try:
        check_jit(mirrored, "on")
    except ConfigError as exc:
        out["jit"] = str(exc)

    class Halves(AugIntAE):  # one model, two half batches: per-replica BN on one device
        def training_batch(self, images, seed):
            parts = [AugIntAE.training_batch(self, half, seed) for half in tf.split(images, 2)]
            return tuple(tf.concat([p[i] for p in parts], 0) for i in (0, 1))

    def train(strategy, model_cfg, synchronized, halves=False):
        keras.utils.set_random_seed(1)  # the same initial weights in every run
        with strategy.scope():
            model = build_model(model_cfg)
            if halves:
                model = Halves(model.encoder, model.generator, model.setup)
            for layer in model._flatten_layers():
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.synchronized = synchronized
            model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
            model.build_for_training()
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(16), epochs=1, verbose=0)
        return model

    def max_diff(a, b):
        return float(max(np.abs(v.numpy() - w.numpy()).max() for v, w in zip(a, b)))

    def replicas_apart(model):
        return float(max(np.abs(c.numpy() - v.value.values[0].numpy()).max()
                         for v in model.weights for c in v.value.values))

    def synchronized_bn(strategy):  # what the backbones choose under each strategy
        with strategy.scope():
            return sorted({layer.synchronized for layer in build_model(cfg)._flatten_layers()
                           if isinstance(layer, keras.layers.BatchNormalization)})
    out["default synchronized"] = {"mirrored": synchronized_bn(mirrored),
                                   "none": synchronized_bn(single)}

    fixed = copy.deepcopy(cfg)
    a = fixed.augment
    a.rotation = a.translation = a.shear = 0.0
    a.scale_min = a.scale_max = 1.0
    real_alphas = vars(Autoencoder)["alphas"]  # the staticmethod object itself
    Autoencoder.alphas = staticmethod(lambda images, seed: tf.fill(tf.shape(images)[:1], 0.5))
    for synchronized in (False, True):
        dist = train(mirrored, fixed, synchronized)
        ref = train(single, fixed, synchronized, halves=not synchronized)
        out[f"sync={synchronized}"] = {
            "trainable": max_diff(dist.trainable_weights, ref.trainable_weights),
            "all": max_diff(dist.weights, ref.weights),
            "replica copies": replicas_apart(dist),
            "steps": int(dist.step_counter.numpy()),
            "iterations": int(dist.optimizer.iterations.numpy())}
    Autoencoder.alphas = real_alphas

    def draws():  # with the real alphas and augmentation, on the model trained 4 steps above
        images = tf.fill([6, 12, 12, 1], 0.5) + tf.eye(12)[None, :, :, None] * 0.5
        seed = dist.step_seed()
        return dist.alphas(images, seed), augment(images, cfg.augment, sub_seed(seed, 1))
    per_replica = mirrored.run(tf.function(draws))
    alphas, views = ([t.numpy() for t in mirrored.experimental_local_results(v)]
                     for v in per_replica)
    expected = [sample_alpha(sub_seed(derive_seed(0, 4, r), 0), [6]).numpy() for r in (0, 1)]
    out["alphas"] = {"apart": float(np.abs(alphas[0] - alphas[1]).max()),
                     "vs derive_seed": max(float(np.abs(a - e).max())
                                           for a, e in zip(alphas, expected)),
                     "views apart": float(np.abs(views[0] - views[1]).max())}
    print("RESULT " + json.dumps(out))
""")


def test_mirrored_one_epoch_equals_single_device_and_replicas_draw_differently():
    proc = run_python(SCRIPT, env={"AUGINTAE_CPU_DEVICES": "2"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert out["replicas"] == 2
    assert "cannot be combined with --strategy mirrored over 2 devices" in out.get("jit", "")
    # The backbones synchronize BatchNorm exactly when there is more than one replica.
    assert out["default synchronized"] == {"mirrored": [True], "none": [False]}
    per_replica_bn, sync_bn = out["sync=False"], out["sync=True"]
    # Per-replica BN: the trained weights are those of the half-batch reference; the BN moving
    # statistics are left out, each replica updates its own copy from its own half batch.
    assert per_replica_bn["trainable"] <= TOLERANCE, per_replica_bn
    # Synchronized BN: every variable, moving statistics included, matches the plain
    # single-device run on the global batch, and the replicas' copies stay identical.
    assert sync_bn["all"] <= TOLERANCE and sync_bn["replica copies"] == 0.0, sync_bn
    for run in (per_replica_bn, sync_bn):  # the RNG counter moves once per global step
        assert run["steps"] == run["iterations"] == 4, run
    alphas = out["alphas"]
    assert alphas["apart"] > 0.05 and alphas["views apart"] > 0.05, alphas
    assert alphas["vs derive_seed"] < 1e-7, alphas  # replica r uses derive_seed(seed, step, r)


def test_train_cli_mirrored_on_two_logical_cpus(tmp_path):
    run = tmp_path / "run"
    proc = run_python("from augintae_tf.cli.main import main; main()", "train",
                      "--strategy", "mirrored", "--epochs", "1", "--batch-size", "16",
                      "--set", "data.limit=64", "--set", "model.width=0.25",
                      "--run-dir", str(run), env={"AUGINTAE_CPU_DEVICES": "2"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 replica(s)" in proc.stdout, proc.stdout
    (record,) = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert record["epoch"] == 1 and record["step"] == 64 // 16  # 4 global steps, not 8
    state = json.loads((run / "checkpoints" / "epoch-00001" / "state.json").read_text())
    assert state["rng_step"] == 4 and state["config"]["train"]["strategy"] == "mirrored"
    assert (run / "samples" / "epoch-001.png").is_file()


@pytest.mark.parametrize("tf_config,chief", [
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}, True),
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}, False),
    ({"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "chief"}}, True),
    ({"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "worker", "index": 0}},
     False),
])
def test_only_the_chief_writes(tf_config, chief):
    assert is_chief_task(tf_config) is chief
    assert read_tf_config({"TF_CONFIG": json.dumps(tf_config)}) == tf_config


@pytest.mark.parametrize("environ,message", [
    ({}, "needs the TF_CONFIG"),
    ({"TF_CONFIG": "{oops"}, "not valid JSON"),
    ({"TF_CONFIG": '{"task": {"type": "worker"}}'}, "must look like"),
    ({"TF_CONFIG": '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}'},
     "not in its cluster"),
])
def test_tf_config_errors_are_one_line(environ, message):
    with pytest.raises(ConfigError, match=message):
        read_tf_config(environ)


def test_cpu_device_variable_and_strategy_errors(monkeypatch):
    assert requested_cpu_devices({}) is None
    assert requested_cpu_devices({"AUGINTAE_CPU_DEVICES": " 2 "}) == 2
    for bad in ("0", "two", "-1"):
        with pytest.raises(ConfigError, match="AUGINTAE_CPU_DEVICES"):
            requested_cpu_devices({"AUGINTAE_CPU_DEVICES": bad})
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv("AUGINTAE_CPU_DEVICES", raising=False)
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        make_strategy("multi-worker")
    with pytest.raises(ConfigError, match="not allowed"):
        make_strategy("parameter-server")
    assert make_strategy("none").num_replicas_in_sync == 1


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def train_two_workers(run_dir, *extra):
    """`augintae-tf train --strategy multi-worker` as two worker processes on this machine, one
    CPU device each: 2 replicas, as on two machines with one GPU each."""
    cluster = {"worker": [f"localhost:{port}" for port in free_ports(2)]}
    command = [sys.executable, "-c", "from augintae_tf.cli.main import main; main()", "train",
               "--strategy", "multi-worker", "--epochs", "2", "--batch-size", "16",
               "--set", "data.limit=64", "--set", "model.width=0.25", "--run-dir", str(run_dir),
               *extra]
    workers = [subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
             "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})})
        for i in range(2)]
    outputs = [worker.communicate(timeout=240) for worker in workers]
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-3000:]
    return [out for out, _ in outputs]


def test_multi_worker_trains_writes_from_the_chief_only_and_resumes(tmp_path):
    run = tmp_path / "run"
    chief_out, other_out = train_two_workers(run)
    assert "2 replica(s)" in chief_out and "2 replica(s)" in other_out
    assert "epoch 2:" in chief_out and "epoch 2:" not in other_out  # per-epoch lines: chief only
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [(r["epoch"], r["step"]) for r in records] == [(1, 4), (2, 8)]  # 64 / 16 global steps

    # An interrupted run: the last checkpoint is lost, both workers resume from epoch 1.
    shutil.rmtree(run / "checkpoints" / "epoch-00002")
    chief_out, other_out = train_two_workers(run, "--resume")
    assert "resuming" in chief_out and "(epoch 2/2" in chief_out and "(epoch 2/2" in other_out
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [(r["epoch"], r["step"]) for r in records] == [(1, 4), (2, 8)]
    state = json.loads((run / "checkpoints" / "epoch-00002" / "state.json").read_text())
    assert state["step"] == state["rng_step"] == 8


def test_multi_worker_needs_a_run_dir_and_only_the_chief_checks_it_is_empty(tmp_path):
    from augintae_tf.config import load_config
    from augintae_tf.errors import RunError
    from augintae_tf.run.directory import prepare_run_dir
    from augintae_tf.training import train

    cfg = load_config("glyphs", {"train.strategy": "multi-worker"})
    with pytest.raises(RunError, match="multi-worker needs --run-dir"):
        train(cfg, None, echo=lambda *_: None)
    (tmp_path / "config.yaml").write_text("written by the chief\n")
    assert prepare_run_dir(cfg, tmp_path, False, "runs", chief=False) == tmp_path
    with pytest.raises(RunError, match="not empty"):
        prepare_run_dir(cfg, tmp_path, False, "runs", chief=True)
