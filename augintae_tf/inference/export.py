"""Export a trained run as a TensorFlow Serving SavedModel in ``MODEL_BASE/VERSION/``.

The signatures are those the model's capabilities allow (:mod:`augintae_tf.inference.serving`, which also
checks every input in the graph): ``generate`` (also ``serving_default``), ``interpolate``,
``encode``, ``decode``, ``reconstruct`` for the autoencoders.  ``generate`` is the model's own
``fewshot`` with the one sampler (:func:`augintae_tf.latent.sample_seed_pairs`), so a request with
seed N returns the images ``augintae-tf generate --seed N`` writes.  ``num`` is bounded by
``max_num`` (``--max-num``), chosen at export and written into ``assets.extra/signatures.txt``.

The export is written to a hidden directory, checked in a fresh Python process that imports only
TensorFlow and NumPy (as a server would load it) against the Keras model
(:mod:`augintae_tf.inference.verify`), and only then renamed to its version number: TF Serving
watches MODEL_BASE and must never see a half-written version.
"""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
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
from augintae_tf.capabilities import Capability
from augintae_tf.errors import RunError
from augintae_tf.inference.loaded import load_run
from augintae_tf.inference.serving import DEFAULT_MAX_NUM, endpoints, signature_docs
from augintae_tf.inference.verify import REQUEST_FILE, VERIFY_PREFIX, random_images, verify_export
from augintae_tf.metrics.novelty import serving_metadata

DOCS_FILE = "assets.extra/signatures.txt"
NOVELTY_FILE = "assets.extra/novelty.json"  # augintae_tf.metrics.novelty.serving_metadata


@dataclass
class ExportResult:
    path: Path  # MODEL_BASE/VERSION
    version: int
    checkpoint: Path
    summary: str  # what `saved_model_cli show --all` prints for the signatures
    request_path: Path  # a complete REST request body for `generate`
    max_abs_diff: dict[str, float] = field(default_factory=dict)  # empty without verification
    docs: str = ""  # the signatures' inputs, shapes, dtypes and limits (DOCS_FILE)


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
               verify: bool = True, max_num: int = DEFAULT_MAX_NUM) -> ExportResult:
    """Write ``run_dir``'s model (newest checkpoint unless ``checkpoint``) to ``out/VERSION``.

    ``version`` defaults to the next free number; an existing version is never overwritten.
    ``max_num`` bounds ``num`` in ``generate``/``sample`` (one request cannot exhaust a server).
    With ``verify`` every signature is reloaded in a fresh process and compared with the Keras
    model (RunError above :data:`augintae_tf.inference.verify.TOLERANCE`).  The run is loaded and exported in float32, whatever
    precision it trained in (:data:`augintae_tf.models.precision.INFERENCE`), so served outputs
    match the 1e-5 check.
    """
    if not 1 <= int(max_num) <= 2 ** 31 - 1:
        raise RunError(f"--max-num {max_num}: the largest num one request may ask for must be an "
                       "integer >= 1")
    base = Path(out)
    if base.exists() and not base.is_dir():
        raise RunError(f"--out {base} is a file; give the model base directory TF Serving watches")
    explicit = version is not None
    version = next_version(base) if version is None else int(version)
    if version < 1:
        raise RunError(f"--version {version}: TF Serving versions are integers >= 1")
    final = base / str(version)
    if final.exists():
        raise RunError(f"{final} already exists and versions are immutable; omit --version for the "
                       f"next free one ({next_version(base)})")
    check_writable(base)  # a read-only or full disk fails here, before the run is loaded
    run = load_run(run_dir, checkpoint)  # in float32 (models/precision.py: INFERENCE)
    remove_stale_exports(base)
    # Hidden and not a number: TF Serving ignores it until the rename below.
    tmp = base / f".tmp-{version}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        docs = _write(run, tmp, int(max_num))
        diffs = verify_export(run.model, tmp) if verify else {}
        summary = signature_summary(tmp)
        version = publish(tmp, base, version, explicit)
    except Exception as exc:  # TensorFlow's own types wrap ENOSPC and EROFS
        problem = write_problem(exc, base)
        if problem is None:
            raise
        raise problem from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    final = base / str(version)
    return ExportResult(final, version, run.checkpoint, summary, final / REQUEST_FILE, diffs, docs)


def check_writable(base: Path) -> None:
    """Make the model base (never through a link) and probe that a file can be made in it: a
    read-only or full disk is one line before anything slow runs."""
    atomic.safe_dir(base, base.parent)
    try:
        problem = atomic.read_only_problem(base)
    except OSError as exc:
        problem = exc
    if problem is not None:
        raise write_problem(problem, base) or problem


def write_problem(exc: BaseException, base: Path) -> RunError | None:
    """The one line for an export that a full or read-only disk stopped (no version is left:
    the hidden folder is removed), else None. TensorFlow raises ResourceExhaustedError and
    PermissionDeniedError (its message says why) where Python raises OSError."""
    if atomic.is_no_space(exc):
        return atomic.no_space_error("the SavedModel", base, "; nothing was exported")
    text = str(exc)
    if getattr(exc, "errno", None) in atomic.READ_ONLY or isinstance(
            exc, tf.errors.PermissionDeniedError) or "Read-only file system" in text:
        why = "Read-only file system" if "Read-only" in text else (
            getattr(exc, "strerror", None) or "permission denied")
        return RunError(f"cannot write the SavedModel to {base}: {why} (a read-only model base "
                        "or disk); nothing was exported, choose a writable --out")
    return None


PUBLISH_RETRIES = 100


def publish(tmp: Path, base: Path, version: int, explicit: bool) -> int:
    """Rename the finished export ``tmp`` to ``base/VERSION``; returns the version used.

    ``rename(2)`` of a directory fails when the target is a non-empty directory, so the version
    is taken atomically: when another export to the same base took ``version`` meanwhile, the
    next free number is tried (an explicit ``--version`` is refused instead).  An export is never
    empty, so two racing renames cannot replace each other; only an empty folder of that number
    (which holds nothing to lose) would be replaced.
    """
    for _ in range(PUBLISH_RETRIES):
        target = base / str(version)
        try:
            os.rename(tmp, target)  # atomic; refused when target is a non-empty directory
            return version
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                raise
        if explicit:
            raise RunError(f"{target} already exists and versions are immutable; omit --version "
                           f"for the next free one ({next_version(base)})")
        version = max(version + 1, next_version(base))
    raise RunError(f"could not take a free version in {base} after {PUBLISH_RETRIES} tries")


STALE = re.compile(r"^\.tmp-\d+-(\d+)$")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_exports(base: Path) -> list[Path]:
    """Remove ``.tmp-VERSION-PID`` folders (in ``base``) and ``augintae-export-PID-*`` verification
    folders (in the temp dir) whose exporting process is dead: a killed export's leftovers.
    Folders of live exports (another export running now) are kept."""
    found = [p for p in base.iterdir() if (m := STALE.match(p.name)) and p.is_dir()
             and not p.is_symlink() and not pid_alive(int(m.group(1)))]
    scratch = Path(tempfile.gettempdir())
    found += [p for p in scratch.glob(f"{VERIFY_PREFIX}*")
              if (m := re.match(rf"^{VERIFY_PREFIX}(\d+)-", p.name)) and p.is_dir()
              and not p.is_symlink() and not pid_alive(int(m.group(1)))]
    for path in found:
        shutil.rmtree(path, ignore_errors=True)
    return found


def _write(run, path: Path, max_num: int) -> str:
    """The SavedModel, its signature docs and an example REST body in ``path``; returns the docs."""
    model, data = run.model, run.config.data
    shape = (data.image_size, data.image_size, data.channels)
    latent_dim = run.config.model.latent_dim if model.has(Capability.LATENT) else None
    archive = keras.export.ExportArchive()
    # Only the networks inference uses: an adversarial model's discriminator and the training
    # counters have no business in a serving artifact.
    for network in model.serving_networks().values():
        archive.track(network)
    names = []
    for name, fn, signature in endpoints(model, shape, latent_dim, max_num):
        archive.add_endpoint(name, fn, input_signature=signature)
        names.append(name)
    archive.write_out(str(path), verbose=False)
    docs = signature_docs(names, shape, latent_dim, max_num)
    if model.has(Capability.FEWSHOT) and model.samplers:
        note = model.sampler_note()
        docs += (f"generate's sampler: {model.default_sampler()}"
                 + (f" ({note})" if note else "") + "\n")
    if model.has(Capability.FEWSHOT):
        reference, source = run.novelty_reference()
        atomic.write_json(path / NOVELTY_FILE, serving_metadata(reference, source),
                          what="the novelty reference")
        docs += (f"novelty: {NOVELTY_FILE} holds the training classes' within-class spread "
                 f"({'unknown: ' + source if reference is None else source}); a response's "
                 "median nearest-seed distance over it reads 0 for copies of the seeds, ~1 for "
                 "new real instances\n")
    atomic.write_text(path / DOCS_FILE, docs)
    if model.has(Capability.FEWSHOT):
        request = rest_request_body(random_images(3, *shape[1:], seed=1))
    else:
        request = {"signature_name": "sample", "inputs": {"num": 8, "seed": 0}}
    atomic.write_text(path / REQUEST_FILE, json.dumps(request, separators=(",", ":")))
    return docs


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
