"""An export proven as a server would load it: every signature run in a fresh Python process that
imports only TensorFlow and NumPy, against the Keras model, before the version is published.

The child (:data:`WATCHDOG` + :data:`_RELOAD_SCRIPT`) gets inputs with a different batch size per
signature and the example REST body as TF Serving parses it; it must not outlive the exporting
process, and it fails if the SavedModel pulls in ``augintae_tf``.  Both sides run on the CPU.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from augintae_tf.capabilities import Capability
from augintae_tf.config.choices import SCALED_SAMPLERS
from augintae_tf.errors import RunError
from augintae_tf.inference.serving import sampler_signature, served_samplers

TOLERANCE = 1e-5  # max |SavedModel - Keras| accepted by the verification
REQUEST_FILE = "assets.extra/generate_request.json"  # TF Serving's directory for extra files
VERIFY_TIMEOUT_S = 600
VERIFY_PREFIX = "augintae-export-"  # + the exporting PID: a dead exporter's folder is removable


def random_images(n: int, size: int, channels: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(n, size, size, channels)).astype(np.float32)


def _verification_inputs(model: keras.Model) -> dict[str, dict[str, np.ndarray]]:
    """Per signature the model exports, inputs with a different batch size each (the batch
    dimension is dynamic); ``interpolate`` gets a per-pair alpha and ``interpolate_scalar`` one
    alpha for all pairs."""
    size, _, channels = model.setup.image_shape
    img = lambda n, seed: random_images(n, size, channels, seed)  # noqa: E731
    cases = {}
    if model.has(Capability.FEWSHOT):
        cases["generate"] = {"seed_images": img(5, 0), "num": np.int32(7), "seed": np.int64(11)}
        for sampler in served_samplers(model):
            case = {"seed_images": img(4, 6), "num": np.int32(5), "seed": np.int64(3)}
            if sampler in SCALED_SAMPLERS:
                case["scale"] = np.float32(0.6)
            cases[sampler_signature(sampler)] = case
    if model.has(Capability.SAMPLE):
        cases["sample"] = {"num": np.int32(6), "seed": np.int64(11)}
    cases["serving_default"] = cases.get("generate", cases.get("sample"))
    if model.has(Capability.LATENT):
        latent = np.random.default_rng(5).normal(size=(2, model.generator.input_shape[-1]))
        cases.update({
            "interpolate": {"images_a": img(3, 1), "images_b": img(3, 2),
                            "alpha": np.array([1.0, 0.0, 0.3], np.float32)},
            "interpolate_scalar": {"images_a": img(2, 1), "images_b": img(2, 2),
                                   "alpha": np.float32(0.4)},
            "encode": {"images": img(4, 3)},
            "decode": {"latent": (latent / np.linalg.norm(latent, axis=1, keepdims=True))
                       .astype(np.float32)},
            "reconstruct": {"images": img(5, 4)}})
    return {name: args for name, args in cases.items() if args is not None}


def _keras_reference(model: keras.Model, name: str, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """What the Keras model returns for one signature's inputs (eager, not the exported graph)."""
    if "seed_images" in inputs:
        sampler = name[len("generate_"):].replace("_", "-") if name.startswith("generate_") else None
        scale = float(inputs["scale"]) if "scale" in inputs else None
        return model.fewshot(tf.constant(inputs["seed_images"], tf.float32), int(inputs["num"]),
                             int(inputs["seed"]), sampler=sampler, scale=scale).numpy()
    if "num" in inputs:
        return model.sample(int(inputs["num"]), int(inputs["seed"])).numpy()
    if name.startswith("interpolate"):
        return model.interpolate(inputs["images_a"], inputs["images_b"], inputs["alpha"]).numpy()
    if name == "encode":
        return model.encode(inputs["images"]).numpy()
    if name == "decode":
        return model.decode(inputs["latent"]).numpy()
    return model(inputs["images"], training=False).numpy()


_NOT_THE_MESSAGE = ("Graph execution error:", "Detected at node", "<stack traces unavailable>",
                    "[[", "File ")


def failure_line(stderr: str) -> str:
    """The line of a failed process's stderr that says what went wrong, as ``Type: message``.

    A TensorFlow op error raised in Python reads ``Graph execution error:``, then the node and
    its definition's stack, and only then the op's own message (e.g. ``assertion failed: [num
    must be ...]``): that message is the line kept.  Output without a Python exception gives its
    last line (``sys.exit("...")``)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines)
              if re.match(r"^[A-Za-z_][\w.]*(Error|Exception)\w*: ", line)]
    if not starts:
        return lines[-1] if lines else "no output"
    kind, _, text = lines[starts[-1]].partition(": ")
    candidates = [text, *lines[starts[-1] + 1:]]
    useful = [line for line in candidates if not line.startswith(_NOT_THE_MESSAGE)]
    return f"{kind.rsplit('.', 1)[-1]}: {useful[0] if useful else text}"


def verify_export(model: keras.Model, path: str | os.PathLike) -> dict[str, float]:
    """Max abs difference per signature between the SavedModel at ``path``, run in a fresh
    process by :data:`_RELOAD_SCRIPT`, and the Keras ``model``; RunError above :data:`TOLERANCE`.

    Both sides run on the CPU: GPU kernels (TF32 convolutions, autotuned algorithms) would
    differ between the two processes by more than the tolerance without anything being wrong.
    """
    path = Path(path)
    cases = _verification_inputs(model)
    request = json.loads((path / REQUEST_FILE).read_text())["inputs"]
    with tempfile.TemporaryDirectory(prefix=f"{VERIFY_PREFIX}{os.getpid()}-") as tmp:
        inputs, outputs = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(inputs, **{f"{sig}/{key}": v for sig, args in cases.items()
                            for key, v in args.items()})
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
        try:
            proc = subprocess.run([sys.executable, "-c", WATCHDOG + _RELOAD_SCRIPT, str(os.getpid()),
                                   tmp, str(path), str(inputs), str(outputs)], capture_output=True, text=True, env=env,
                                  timeout=VERIFY_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise RunError(f"reloading the export took over {VERIFY_TIMEOUT_S} s; nothing was "
                           "written (--no-verify skips the check)") from None
        if proc.returncode != 0:
            raise RunError("the exported SavedModel failed to load or run in a fresh process: "
                           + failure_line(proc.stderr))
        with np.load(outputs) as served:
            served = dict(served)
    cases["REST example"] = {k: np.asarray(v, np.float32) if k == "seed_images" else v
                             for k, v in request.items()}
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


# Prepended to the verification script: argv[1] is the exporting PID, argv[2] the scratch folder.
# The child must not outlive its parent (a killed export left it running for minutes with its
# folder): a daemon thread polls the parent and, once it is gone, removes the folder and exits.
# (Polling, not PR_SET_PDEATHSIG: that fires when the *thread* that started the child exits,
# which would kill a verification started from a worker thread of a live process.)
WATCHDOG = r'''
import os, sys, shutil, threading, time
def _watch(parent=int(sys.argv[1])):
    while os.getppid() == parent:
        time.sleep(0.2)
    shutil.rmtree(sys.argv[2], ignore_errors=True)
    os._exit(1)
threading.Thread(target=_watch, daemon=True).start()
'''

# Runs in a fresh interpreter: TensorFlow and NumPy only, never augintae_tf, so the export is
# proven self-contained.  argv: PARENT_PID SCRATCH SAVED_MODEL INPUTS.npz OUTPUTS.npz.  Inputs are keyed
# "signature/input"; each signature's single output is saved as "signature/output".  The REST
# example body is fed the way TF Serving parses columnar "inputs": JSON lists -> the spec's dtype.
_RELOAD_SCRIPT = r'''
import json, sys
import numpy as np
import tensorflow as tf

path, inputs_path, outputs_path = sys.argv[3:6]
loaded = tf.saved_model.load(path)
cases = {}
with np.load(inputs_path) as inputs:
    for key in inputs.files:
        name, arg = key.split("/")
        cases.setdefault(name, {})[arg] = inputs[key]
results = {}
for name, args in cases.items():
    signature = loaded.signatures[name.replace("_scalar", "")]
    (value,) = signature(**{k: tf.constant(v) for k, v in args.items()}).values()
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
