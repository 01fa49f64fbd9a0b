"""Export a trained run as a TensorFlow Serving SavedModel in ``MODEL_BASE/VERSION/``.

Every signature is ``tensorflow/serving/predict``; image inputs are float32 in [0, 1] of the run's
size and channels, with any batch size; argument names are the serving input keys:

- ``generate(seed_images [K, H, W, C], num int32 [], seed int64 []) -> images [num, H, W, C]``,
  also ``serving_default``: few-shot generation from K >= 2 seed images of one class;
- ``interpolate(images_a [B, ...], images_b [B, ...], alpha [B]) -> images`` (alpha=1 gives
  ``images_a``'s reconstruction, as in :mod:`augintae_tf.latent`);
- ``encode(images) -> latent [B, D]`` (L2-normalised), ``decode(latent) -> images``,
  ``reconstruct(images) -> images``.

``generate`` is :func:`augintae_tf.generation.generate`'s algorithm in graph form: ``num`` ordered
pairs of distinct seeds, alpha = mean of two uniforms per pair, slerp, decode.  Its draws come from
stateless RNG ops seeded by ``seed``, so a request is deterministic on any server.  The alphas equal
the library's (same op, same seed ``[seed, 1]``); the pairs come from TF's stateless integer RNG
(seeds ``[seed, 2]``, ``[seed, 3]``) instead of NumPy's generator, so the images differ from
``augintae-tf generate --seed`` with the same number.

The export is written to a hidden directory, checked in a fresh Python process that imports only
TensorFlow and NumPy (as a server would load it) against the Keras model, and only then renamed to
its version number: TF Serving watches MODEL_BASE and must never see a half-written version.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import saved_model_pb2

from augintae_tf import atomic
from augintae_tf.errors import RunError
from augintae_tf.latent import sample_alpha, slerp

TOLERANCE = 1e-5  # max |SavedModel - Keras| accepted by the verification
REQUEST_FILE = "assets.extra/generate_request.json"  # TF Serving's directory for extra files
VERIFY_TIMEOUT_S = 600


@dataclass
class ExportResult:
    path: Path  # MODEL_BASE/VERSION
    version: int
    checkpoint: Path
    summary: str  # what `saved_model_cli show --all` prints for the signatures
    request_path: Path  # a complete REST request body for `generate`
    max_abs_diff: dict[str, float] = field(default_factory=dict)  # empty without verification


def draw_pairs(num_seeds, num, seed) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """``(first, second, alpha)``, each ``[num]``: ordered pairs of distinct seed indices in
    ``[0, num_seeds)`` and their slerp weights, from stateless RNG (the same for the same ``seed``).

    ``second = (first + offset) % K`` with offset in ``[1, K-1]`` can never equal ``first``.
    """
    seed = tf.cast(seed, tf.int64)
    num_seeds = tf.cast(num_seeds, tf.int32)
    checks = [tf.debugging.assert_greater_equal(num_seeds, 2, message="generate needs at least "
                                                "2 seed images"),
              tf.debugging.assert_non_negative(tf.cast(num, tf.int32), message="num must be >= 0")]
    with tf.control_dependencies(checks):  # before the draws, whose own errors are cryptic
        shape = tf.reshape(tf.cast(num, tf.int32), [1])

    def stream(index):
        return tf.stack([seed, tf.constant(index, tf.int64)])

    first = tf.random.stateless_uniform(shape, stream(2), minval=0, maxval=num_seeds,
                                        dtype=tf.int32)
    offset = tf.random.stateless_uniform(shape, stream(3), minval=1, maxval=num_seeds,
                                         dtype=tf.int32)
    return first, (first + offset) % num_seeds, sample_alpha(stream(1), shape)


def few_shot(model: keras.Model, seed_images, num, seed) -> tf.Tensor:
    """``num`` images decoded from slerps between random pairs of the seeds' latents."""
    first, second, alpha = draw_pairs(tf.shape(seed_images)[0], num, seed)
    latents = model.encode(seed_images)
    return model.decode(slerp(tf.gather(latents, first), tf.gather(latents, second), alpha))


def _endpoints(model: keras.Model, size: int, channels: int, latent_dim: int):
    """``[(name, fn, input_signature)]``; generate first, so ExportArchive makes it the default."""
    def images(name):
        return tf.TensorSpec([None, size, size, channels], tf.float32, name=name)

    def generate(seed_images, num, seed):
        return {"images": few_shot(model, seed_images, num, seed)}

    def interpolate(images_a, images_b, alpha):
        return {"images": model.interpolate(images_a, images_b, alpha)}

    def encode(images):
        return {"latent": model.encode(images)}

    def decode(latent):
        return {"images": model.decode(latent)}

    def reconstruct(images):
        return {"images": model(images, training=False)}

    return [
        ("generate", generate, [images("seed_images"), tf.TensorSpec([], tf.int32, name="num"),
                                tf.TensorSpec([], tf.int64, name="seed")]),
        ("interpolate", interpolate, [images("images_a"), images("images_b"),
                                      tf.TensorSpec([None], tf.float32, name="alpha")]),
        ("encode", encode, [images("images")]),
        ("decode", decode, [tf.TensorSpec([None, latent_dim], tf.float32, name="latent")]),
        ("reconstruct", reconstruct, [images("images")]),
    ]


def next_version(model_base: str | os.PathLike) -> int:
    """One more than the largest numeric subdirectory (TF Serving serves the largest), else 1."""
    base = Path(model_base)
    taken = [int(p.name) for p in base.iterdir() if p.name.isdigit()] if base.is_dir() else []
    return max(taken, default=0) + 1


def rest_request_body(seed_images: np.ndarray, num: int = 8, seed: int = 0) -> dict[str, Any]:
    """A TF Serving REST ``:predict`` body for ``generate``.  It must be the columnar ``inputs``
    format: the row format (``instances``) needs every input to share its first dimension, and
    here K seed images sit beside two scalars."""
    return {"signature_name": "generate",
            "inputs": {"seed_images": np.round(np.asarray(seed_images, np.float64), 3).tolist(),
                       "num": int(num), "seed": int(seed)}}


def export_run(run_dir: str | os.PathLike, out: str | os.PathLike,
               checkpoint: str | os.PathLike | None = None, version: int | None = None,
               verify: bool = True) -> ExportResult:
    """Write ``run_dir``'s model (newest checkpoint unless ``checkpoint``) to ``out/VERSION``.

    ``version`` defaults to the next free number; an existing version is never overwritten.
    With ``verify`` every signature is reloaded in a fresh process and compared with the Keras
    model (RunError above :data:`TOLERANCE`).  The export always runs in float32, whatever
    precision the run trained in, so served outputs match the 1e-5 check.
    """
    from augintae_tf.runs import load_run

    base = Path(out)
    if base.exists() and not base.is_dir():
        raise RunError(f"--out {base} is a file; give the model base directory TF Serving watches")
    version = next_version(base) if version is None else int(version)
    if version < 1:
        raise RunError(f"--version {version}: TF Serving versions are integers >= 1")
    final = base / str(version)
    if final.exists():
        raise RunError(f"{final} already exists and versions are immutable; omit --version for the "
                       f"next free one ({next_version(base)})")
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        run = load_run(run_dir, checkpoint)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    data = run.config.data
    base.mkdir(parents=True, exist_ok=True)
    # Hidden and not a number: TF Serving ignores it until the rename below.
    tmp = base / f".tmp-{version}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _write(run.model, tmp, data.image_size, data.channels, run.config.model.latent_dim)
        request = rest_request_body(_random_images(3, data.image_size, data.channels, seed=1))
        (tmp / REQUEST_FILE).parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(tmp / REQUEST_FILE, json.dumps(request, separators=(",", ":")))
        diffs = verify_export(run.model, tmp) if verify else {}
        summary = signature_summary(tmp)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ExportResult(final, version, run.checkpoint, summary, final / REQUEST_FILE, diffs)


def _write(model: keras.Model, path: Path, size: int, channels: int, latent_dim: int) -> None:
    archive = keras.export.ExportArchive()
    # Only the two networks the endpoints use: an adversarial model's discriminator and the
    # training counters have no business in a serving artifact.
    archive.track(model.encoder)
    archive.track(model.generator)
    for name, fn, signature in _endpoints(model, size, channels, latent_dim):
        archive.add_endpoint(name, fn, input_signature=signature)
    archive.write_out(str(path), verbose=False)


def _random_images(n: int, size: int, channels: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(n, size, size, channels)).astype(np.float32)


def _verification_inputs(model: keras.Model) -> dict[str, dict[str, np.ndarray]]:
    """Per signature, inputs with a different batch size each (the batch dimension is dynamic)."""
    _, size, _, channels = model.encoder.input_shape
    latent_dim = model.generator.input_shape[-1]
    img = lambda n, seed: _random_images(n, size, channels, seed)  # noqa: E731
    latent = np.random.default_rng(5).normal(size=(2, latent_dim)).astype(np.float32)
    generate = {"seed_images": img(5, 0), "num": np.int32(7), "seed": np.int64(11)}
    return {
        "generate": generate, "serving_default": generate,
        "interpolate": {"images_a": img(3, 1), "images_b": img(3, 2),
                        "alpha": np.array([1.0, 0.0, 0.3], np.float32)},
        "encode": {"images": img(4, 3)},
        "decode": {"latent": latent / np.linalg.norm(latent, axis=1, keepdims=True)},
        "reconstruct": {"images": img(5, 4)},
    }


def _keras_reference(model: keras.Model, name: str, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """What the Keras model returns for one signature's inputs (eager, not the exported graph)."""
    if name in ("generate", "serving_default", "REST example"):
        return few_shot(model, tf.constant(inputs["seed_images"], tf.float32), inputs["num"],
                        inputs["seed"]).numpy()
    if name == "interpolate":
        return model.interpolate(inputs["images_a"], inputs["images_b"], inputs["alpha"]).numpy()
    if name == "encode":
        return model.encode(inputs["images"]).numpy()
    if name == "decode":
        return model.decode(inputs["latent"]).numpy()
    return model(inputs["images"], training=False).numpy()


def signature_summary(path: str | os.PathLike) -> str:
    """The SignatureDefs of a SavedModel as ``saved_model_cli show --dir PATH --all`` lists them
    (read from ``saved_model.pb``, without loading the graph)."""
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((Path(path) / "saved_model.pb").read_bytes())
    graph = saved.meta_graphs[0]
    lines = [f"MetaGraphDef with tag-set: '{', '.join(graph.meta_info_def.tags)}' contains the "
             "following SignatureDefs:"]
    for name, sig in sorted(graph.signature_def.items()):
        if name.startswith("__"):  # the init op TF adds for itself
            continue
        lines += ["", f"signature_def['{name}']:",
                  "  The given SavedModel SignatureDef contains the following input(s):"]
        lines += [line for key in sorted(sig.inputs) for line in
                  _tensor_info("inputs", key, sig.inputs[key])]
        lines.append("  The given SavedModel SignatureDef contains the following output(s):")
        lines += [line for key in sorted(sig.outputs) for line in
                  _tensor_info("outputs", key, sig.outputs[key])]
        lines.append(f"  Method name is: {sig.method_name}")
    return "\n".join(lines)


def _tensor_info(kind: str, key: str, info) -> list[str]:
    dims = [d.size for d in info.tensor_shape.dim]
    shape = "unknown_rank" if info.tensor_shape.unknown_rank else str(tuple(dims))
    return [f"    {kind}['{key}'] tensor_info:",
            f"        dtype: {types_pb2.DataType.Name(info.dtype)}",
            f"        shape: {shape}", f"        name: {info.name}"]


def verify_export(model: keras.Model, path: str | os.PathLike) -> dict[str, float]:
    """Max abs difference per signature between the SavedModel at ``path``, run in a fresh
    process by :data:`_RELOAD_SCRIPT`, and the Keras ``model``; RunError above :data:`TOLERANCE`.

    Both sides run on the CPU: GPU kernels (TF32 convolutions, autotuned algorithms) would
    differ between the two processes by more than the tolerance without anything being wrong.
    """
    path = Path(path)
    cases = _verification_inputs(model)
    request = json.loads((path / REQUEST_FILE).read_text())["inputs"]
    with tempfile.TemporaryDirectory(prefix="augintae-export-") as tmp:
        inputs, outputs = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(inputs, **{f"{sig}/{key}": v for sig, args in cases.items()
                            for key, v in args.items()})
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
        try:
            proc = subprocess.run([sys.executable, "-c", _RELOAD_SCRIPT, str(path), str(inputs),
                                   str(outputs)], capture_output=True, text=True, env=env,
                                  timeout=VERIFY_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise RunError(f"reloading the export took over {VERIFY_TIMEOUT_S} s; nothing was "
                           "written (--no-verify skips the check)") from None
        if proc.returncode != 0:
            raise RunError("the exported SavedModel failed to load or run in a fresh process: "
                           + (proc.stderr.strip().splitlines() or ["no output"])[-1])
        with np.load(outputs) as served:
            served = dict(served)
    cases["REST example"] = {"seed_images": np.asarray(request["seed_images"], np.float32),
                             "num": request["num"], "seed": request["seed"]}
    diffs = {}
    with tf.device("/CPU:0"):
        for name, args in cases.items():
            got, want = served[f"{name}/output"], _keras_reference(model, name, args)
            diffs[name] = float(np.max(np.abs(got - want), initial=0.0)) \
                if got.shape == want.shape else float("inf")
    bad = {k: v for k, v in diffs.items() if not v <= TOLERANCE}
    if bad:
        raise RunError("the exported SavedModel disagrees with the Keras model: "
                       + ", ".join(f"{k} max abs diff {v:.3g}" for k, v in bad.items())
                       + f" (tolerance {TOLERANCE:g}); nothing was written")
    return diffs


# Runs in a fresh interpreter: TensorFlow and NumPy only, never augintae_tf, so the export is
# proven self-contained.  argv: SAVED_MODEL INPUTS.npz OUTPUTS.npz.  Inputs are keyed
# "signature/input"; each signature's single output is saved as "signature/output".  The REST
# example body is fed the way TF Serving parses columnar "inputs": JSON lists -> the spec's dtype.
_RELOAD_SCRIPT = r'''
import json, sys
import numpy as np
import tensorflow as tf

path, inputs_path, outputs_path = sys.argv[1:4]
loaded = tf.saved_model.load(path)
cases = {}
with np.load(inputs_path) as inputs:
    for key in inputs.files:
        name, arg = key.split("/")
        cases.setdefault(name, {})[arg] = inputs[key]
results = {}
for name, args in cases.items():
    (value,) = loaded.signatures[name](**{k: tf.constant(v) for k, v in args.items()}).values()
    results[name + "/output"] = value.numpy()
with open(path + "/assets.extra/generate_request.json") as handle:
    request = json.load(handle)
function = loaded.signatures[request["signature_name"]]
specs = function.structured_input_signature[1]
(value,) = function(**{k: tf.constant(v, dtype=specs[k].dtype)
                       for k, v in request["inputs"].items()}).values()
results["REST example/output"] = value.numpy()
leaked = sorted(m for m in sys.modules if m.split(".")[0] == "augintae_tf")
if leaked:
    sys.exit("the SavedModel pulled in " + ", ".join(leaked))
np.savez(outputs_path, **results)
'''
