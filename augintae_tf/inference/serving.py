"""The SavedModel's signatures: which ones a model's capabilities allow, and their input checks.

Every signature checks its inputs inside the graph (so TF Serving, which feeds tensors without
looking at the declared shapes, reports them too) and fails with a message naming the input and
what it expected.  Image inputs are declared ``[-1, -1, -1, -1]`` float32 for that reason; the
expected shape is in the messages, in :func:`signature_docs` and in the README.

- ``generate(seed_images [K, H, W, C], num int32 [], seed int64 []) -> images [num, H, W, C]``
  (capability ``fewshot``; also ``serving_default``): K >= 2, 0 <= num <= ``max_num``, with the
  run's own sampler (``model.sampler``, ``model.sampler_scale``);
- ``generate_SAMPLER`` for each sampler the model has (``generate_slerp``, ``generate_convex``;
  ``generate_local``, ``generate_slerp_local`` and ``generate_local_edit`` take a ``scale float32
  []`` in [0, 10] as well, and exist when the run has its latent statistics): the same images as ``augintae-tf generate
  --sampler SAMPLER [--scale S] --seed N``;
- ``sample(num int32 [], seed int64 []) -> images`` (capability ``sample``);
- ``interpolate(images_a [B, ...], images_b [B, ...], alpha float32 [] or [B]) -> images``,
  ``encode(images) -> latent [B, D]``, ``decode(latent [B, D]) -> images``,
  ``reconstruct(images) -> images`` (capability ``latent``).
"""
from __future__ import annotations

from typing import Callable

import tensorflow as tf

from augintae_tf.capabilities import Capability
from augintae_tf.config.choices import SAMPLER_SCALE, SAMPLER_TABLE, SCALED_SAMPLERS
from augintae_tf.models.latent_stats import has_statistic

DEFAULT_MAX_NUM = 1024  # largest `num` one request may ask for (export --max-num)


def _fail_unless(condition, message: str, *data):
    return tf.debugging.Assert(condition, [message, *data], summarize=8)


def checked_images(x, name: str, shape: tuple[int, int, int]) -> tf.Tensor:
    """``x`` with the static shape ``[B, *shape]``, after checking its shape and [0, 1] range."""
    expected = tf.constant(shape, tf.int32)
    dims = tf.shape(x)
    # Padded to rank >= 4 before comparing: a rank-3 or rank-5 input must reach the message
    # below, not fail comparing [3] with [2] dims (logical_and evaluates both sides).
    padded = tf.concat([dims, tf.zeros([4], tf.int32)], 0)[1:4]
    shape_ok = tf.logical_and(tf.equal(tf.size(dims), 4),
                              tf.reduce_all(tf.equal(padded, expected)))
    shown = f"[N, {', '.join(map(str, shape))}]"
    checks = [_fail_unless(shape_ok, f"{name} must have shape {shown} (float32 in [0, 1]); got",
                           dims)]
    with tf.control_dependencies(checks):
        in_range = tf.logical_and(tf.reduce_all(x >= 0.0), tf.reduce_all(x <= 1.0))
        checks.append(_fail_unless(in_range, f"{name} must hold pixel values in [0, 1]; got min",
                                   tf.reduce_min(x), "max", tf.reduce_max(x)))
    with tf.control_dependencies(checks):
        return tf.ensure_shape(tf.identity(x), [None, *shape])


def checked_seeds(seeds) -> tf.Tensor:
    """``seeds`` once they are known to hold K >= 2 images. Everything downstream waits for the
    check, the encoder too: with the check only beside the pair draws, an empty batch reached
    the encoder's convolution first in some runs and failed there with a bare shape error."""
    count = tf.shape(seeds)[0]
    with tf.control_dependencies([_fail_unless(
            count >= 2, "generate needs at least 2 seed images (seed_images [K, ...] with "
                        "K >= 2 of one class); got K =", count)]):
        return tf.identity(seeds)


def checked_num(num, max_num: int) -> tf.Tensor:
    ok = tf.logical_and(num >= 0, num <= max_num)
    with tf.control_dependencies([_fail_unless(
            ok, f"num must be an int32 in [0, {max_num}] (the limit chosen at export, "
                "--max-num); got", num)]):
        return tf.identity(num)


def checked_alpha(alpha, batch) -> tf.Tensor:
    """A scalar alpha (one for every pair) or one per pair -> ``[B]``; values in [0, 1]."""
    flat = tf.reshape(alpha, [-1])
    size_ok = tf.logical_or(tf.equal(tf.size(flat), 1), tf.equal(tf.size(flat), batch))
    checks = [_fail_unless(size_ok, "alpha must be a scalar or have one value per pair "
                                    "(the batch size of images_a); got", tf.size(flat),
                           "values for", batch, "pairs")]
    with tf.control_dependencies(checks):
        in_range = tf.logical_and(tf.reduce_all(flat >= 0.0), tf.reduce_all(flat <= 1.0))
        checks.append(_fail_unless(in_range, "alpha must be in [0, 1] (1 gives images_a); got",
                                   flat))
    with tf.control_dependencies(checks):
        return tf.cond(tf.equal(tf.size(flat), 1), lambda: tf.fill([batch], flat[0]),
                       lambda: tf.identity(flat))


def checked_latent(latent, latent_dim: int) -> tf.Tensor:
    dims = tf.shape(latent)
    ok = tf.logical_and(tf.equal(tf.size(dims), 2), tf.equal(dims[-1], latent_dim))
    checks = [_fail_unless(ok, f"latent must have shape [N, {latent_dim}] (float32, "
                               "L2-normalised); got", dims)]
    with tf.control_dependencies(checks):  # NaN/inf would decode to NaN images, silently
        checks.append(_fail_unless(tf.reduce_all(tf.math.is_finite(latent)),
                                   "latent must hold finite values (no NaN or inf)"))
    with tf.control_dependencies(checks):
        return tf.ensure_shape(tf.identity(latent), [None, latent_dim])


def batched(fn: Callable, x, empty_shape) -> tf.Tensor:
    """``fn(x)``, or an empty ``[0, *empty_shape]`` result for an empty batch (convolutions
    refuse a batch of 0; the signatures promise any batch size)."""
    return tf.cond(tf.equal(tf.shape(x)[0], 0),
                   lambda: tf.zeros([0, *empty_shape], tf.float32), lambda: tf.cast(fn(x), tf.float32))


def _images_spec(name: str) -> tf.TensorSpec:
    return tf.TensorSpec([None, None, None, None], tf.float32, name=name)


NUM = tf.TensorSpec([], tf.int32, name="num")
SEED = tf.TensorSpec([], tf.int64, name="seed")
SCALE = tf.TensorSpec([], tf.float32, name="scale")
MIN_SCALE, MAX_SCALE = SAMPLER_SCALE  # model.sampler_scale's and --scale's range


def sampler_signature(sampler: str) -> str:
    """The signature of one sampler: ``generate_`` + its name with ``-`` as ``_``."""
    return "generate_" + sampler.replace("-", "_")


def checked_scale(scale) -> tf.Tensor:
    ok = tf.logical_and(scale >= MIN_SCALE, scale <= MAX_SCALE)
    with tf.control_dependencies([_fail_unless(
            ok, f"scale must be a float32 in [{MIN_SCALE:g}, {MAX_SCALE:g}]; got", scale)]):
        return tf.identity(scale)


def served_samplers(model) -> list[str]:
    """The samplers the export serves: the model's, those that read a latent statistic only when
    the run's statistics hold it (:func:`augintae_tf.models.latent_stats.has_statistic`)."""
    return [s for s in model.samplers
            if has_statistic(model.latent_stats, SAMPLER_TABLE[s].statistic)]
Endpoint = tuple[str, Callable, list]


def endpoints(model, shape: tuple[int, int, int], latent_dim: int | None,
              max_num: int = DEFAULT_MAX_NUM) -> list[Endpoint]:
    """``[(name, fn, input_signature)]`` for the model's capabilities; generate (or sample) first,
    so ExportArchive makes it ``serving_default``."""
    out: list[Endpoint] = []
    if model.has(Capability.FEWSHOT):
        def generate(seed_images, num, seed):
            seeds = checked_seeds(checked_images(seed_images, "seed_images", shape))
            return {"images": model.fewshot(seeds, checked_num(num, max_num), seed)}

        out.append(("generate", generate, [_images_spec("seed_images"), NUM, SEED]))
        out += [_sampler_endpoint(model, sampler, shape, max_num)
                for sampler in served_samplers(model)]
    if model.has(Capability.SAMPLE):
        def sample(num, seed):
            return {"images": model.sample(checked_num(num, max_num), seed)}

        out.append(("sample", sample, [NUM, SEED]))
    if model.has(Capability.LATENT):
        out += _latent_endpoints(model, shape, latent_dim)
    return out


def _sampler_endpoint(model, sampler: str, shape, max_num: int) -> Endpoint:
    if sampler in SCALED_SAMPLERS:
        def fn(seed_images, num, seed, scale):
            seeds = checked_images(seed_images, "seed_images", shape)
            return {"images": model.fewshot(seeds, checked_num(num, max_num), seed,
                                            sampler=sampler, scale=checked_scale(scale))}

        return sampler_signature(sampler), fn, [_images_spec("seed_images"), NUM, SEED, SCALE]

    def plain(seed_images, num, seed):
        seeds = checked_images(seed_images, "seed_images", shape)
        return {"images": model.fewshot(seeds, checked_num(num, max_num), seed, sampler=sampler)}

    return sampler_signature(sampler), plain, [_images_spec("seed_images"), NUM, SEED]


def _latent_endpoints(model, shape, latent_dim: int) -> list[Endpoint]:
    def interpolate(images_a, images_b, alpha):
        a = checked_images(images_a, "images_a", shape)
        b = checked_images(images_b, "images_b", shape)
        same = _fail_unless(tf.equal(tf.shape(a)[0], tf.shape(b)[0]),
                            "images_a and images_b must hold the same number of images; got",
                            tf.shape(a)[0], "and", tf.shape(b)[0])
        # Everything downstream waits for the check, the images too: gating alpha alone let the
        # slerp's z_a * z_b run first and fail with a bare shape error (seen once in the suite).
        with tf.control_dependencies([same]):
            a, b = tf.identity(a), tf.identity(b)
            alpha = checked_alpha(alpha, tf.shape(a)[0])
        # An empty batch is an empty result, as for encode/decode/reconstruct (convolutions
        # refuse a batch of 0).
        return {"images": tf.cond(tf.equal(tf.shape(a)[0], 0),
                                  lambda: tf.zeros([0, *shape], tf.float32),
                                  lambda: tf.cast(model.interpolate(a, b, alpha), tf.float32))}

    def encode(images):
        return {"latent": batched(model.encode, checked_images(images, "images", shape),
                                  [latent_dim])}

    def decode(latent):
        return {"images": batched(model.decode, checked_latent(latent, latent_dim), shape)}

    def reconstruct(images):
        return {"images": batched(lambda x: model(x, training=False),
                                  checked_images(images, "images", shape), shape)}

    return [("interpolate", interpolate, [_images_spec("images_a"), _images_spec("images_b"),
                                          tf.TensorSpec(None, tf.float32, name="alpha")]),
            ("encode", encode, [_images_spec("images")]),
            ("decode", decode, [tf.TensorSpec([None, latent_dim], tf.float32, name="latent")]),
            ("reconstruct", reconstruct, [_images_spec("images")])]


def signature_docs(names: list[str], shape: tuple[int, int, int], latent_dim: int | None,
                   max_num: int) -> str:
    """Plain-text docs of the signatures ``names`` (written to ``assets.extra/signatures.txt``)."""
    image = f"float32 [N, {', '.join(map(str, shape))}] in [0, 1]"
    docs = {
        "generate": f"generate(seed_images: {image} with N = K >= 2 seeds of one class, num: int32 "
                    f"scalar in [0, {max_num}], seed: int64 scalar) -> images [num, ...]; "
                    "deterministic for a seed (the same images as `augintae-tf generate --seed`)",
        "sample": f"sample(num: int32 scalar in [0, {max_num}], seed: int64 scalar) -> images",
        "interpolate": f"interpolate(images_a: {image}, images_b: the same shape, alpha: float32 "
                       "scalar or [N], in [0, 1]; 1 gives images_a) -> images",
        "encode": f"encode(images: {image}) -> latent float32 [N, {latent_dim}] (unit norm)",
        "decode": f"decode(latent: float32 [N, {latent_dim}], unit norm) -> images",
        "reconstruct": f"reconstruct(images: {image}) -> images",
    }
    for name in names:
        if name.startswith("generate_"):
            noisy = name in map(sampler_signature, SCALED_SAMPLERS)
            scale = f", scale: float32 scalar in [{MIN_SCALE:g}, {MAX_SCALE:g}]" if noisy else ""
            docs[name] = (f"{name}(seed_images, num, seed{scale}) -> images: generate with the "
                          f"{name[9:].replace('_', '-')} sampler (`augintae-tf generate --sampler`)")
    default = next((n for n in ("generate", "sample") if n in names), None)
    lines = [docs[n] for n in names if n in docs]
    if default:
        lines.append(f"serving_default = {default}")
    return "\n".join(lines) + "\n"
