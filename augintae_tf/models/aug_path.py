"""Few-shot samplers along the augmentation paths AugIntAE learned (issue 38).

AugIntAE is trained so that ``D(slerp(z(T(x; rho1)), z(T(x; rho2)), alpha))`` is
``T(x; alpha * rho1 + (1 - alpha) * rho2)`` (:func:`augintae_tf.augment.interpolation_batch`).
With ``rho2`` the identity (the seed itself), the path from ``z(x)`` to ``z(T(x; rho))`` is the one
the model learned to decode as the seed under a partial augmentation.  Per output image ``i``:

- ``a_i`` a random seed (the one-seed samplers' draw, :func:`~augintae_tf.latent.sample_seed_pairs`
  with ``min_seeds=1``, so one seed is enough);
- ``rho_i = id + s * (u_i - id)``, ``u_i`` drawn in the run's augmentation ranges
  (:func:`~augintae_tf.augment.sample_params`, stream ``[seed, 12]``) and pulled toward the
  identity ``id`` (no rotation, shift or shear, scale 1, colour factors 1, hue 0) by the scale
  ``s``: ``s`` 1 is the run's ranges, 2 twice them, 0 the identity;
- ``t_i ~ U(0, 1)`` (stream ``[seed, 11]``);
- ``p_i = slerp(z(T(x_a; rho_i)), z(x_a), t_i)``, the path latent (``t`` weights the augmented end).

Samplers (each ``(model, seed_images, latents, num, seed, scale, batch_size) -> images``, the
``draw`` of its row of :data:`augintae_tf.config.choices.SAMPLER_TABLE`):

- ``aug-path``: ``D(p_i)``;
- ``aug-path-within``: ``D(normalise(p_i + s F eps_i))``, a within-class step on top of the path
  latent (``F F^T = W``, the pooled within-class covariance of the labelled training latents;
  ``eps ~ N(0, I)``, stream ``[seed, 8]``, the ``within`` samplers' stream);
- ``aug-path-edit``: ``clip(x_a + D(normalise(p_i + s F eps_i)) - D(z(x_a)), 0, 1)``, the same
  change added to the seed image itself, as ``within-edit`` adds its change.

At ``s = 0`` the first two decode the seed's latent (its reconstruction) and the edit returns the
seed.  Every draw is stateless in ``seed``: the same images eagerly and in a SavedModel graph.
"""
from __future__ import annotations

import tensorflow as tf

from augintae_tf.augment import apply_params, sample_params
from augintae_tf.latent import l2_normalize, sample_seed_pairs, slerp

# the identity value of each augmentation parameter (augintae_tf.augment.PARAM_NAMES)
IDENTITY = {"rotation": 0.0, "tx": 0.0, "ty": 0.0, "scale": 1.0, "shear": 0.0,
            "brightness": 1.0, "contrast": 1.0, "saturation": 1.0, "hue": 0.0}


def _stream(seed, index: int) -> tf.Tensor:
    return tf.stack([tf.cast(seed, tf.int64), tf.constant(index, tf.int64)])


def path_params(cfg, num, seed, scale) -> dict[str, tf.Tensor]:
    """``rho = id + scale * (u - id)``, ``u`` in ``cfg``'s ranges: each parameter ``[num]``; the
    scale may be a tensor (the served signatures pass one)."""
    scale = tf.cast(scale, tf.float32)
    drawn = sample_params(_stream(seed, 12), num, cfg)
    return {name: IDENTITY[name] + scale * (value - IDENTITY[name]) for name, value in drawn.items()}


def path_draws(model, seed_images, latents, num, seed, scale) -> dict[str, tf.Tensor]:
    """Every random draw of ``num`` outputs, made once (so that chunked decoding gives the same
    images as one call): ``first`` ``[num]`` (each output's seed), ``params`` (its ``rho``),
    ``t`` ``[num]`` and ``eps`` ``[num, D]``."""
    num = tf.cast(num, tf.int32)
    first = sample_seed_pairs(tf.shape(seed_images)[0], num, seed, min_seeds=1)[0]
    return {"first": first, "params": path_params(model.setup.augment, num, seed, scale),
            "t": tf.random.stateless_uniform(tf.reshape(num, [1]), _stream(seed, 11)),
            "eps": tf.random.stateless_normal(tf.stack([num, tf.shape(latents)[1]]),
                                              _stream(seed, 8))}


def path_latents(model, seed_images, latents, draws, rows) -> tf.Tensor:
    """The path latents ``p`` ``[n, D]`` of the outputs ``rows`` (a slice) of ``draws``."""
    first = draws["first"][rows]
    params = {name: value[rows] for name, value in draws["params"].items()}
    augmented = apply_params(tf.gather(seed_images, first), params, model.setup.augment)
    return slerp(model.encode(augmented), tf.gather(latents, first), draws["t"][rows])


def within_step(model, sampler: str, path, eps, scale) -> tf.Tensor:
    """``normalise(p + scale * F eps)``, ``F F^T = W`` (the run's within-class factor; a
    one-line RunError naming ``sampler`` when the run has none)."""
    factor = tf.cast(model.noise_factor(sampler), tf.float32)
    return l2_normalize(path + tf.cast(scale, tf.float32) * tf.matmul(eps, factor, transpose_b=True))


def _chunked(rows_fn, num, batch_size) -> tf.Tensor:
    """``rows_fn(slice(None))``, or (eagerly, with ``batch_size``) the same in chunks."""
    if batch_size is None or not tf.executing_eagerly():
        return rows_fn(slice(None))
    parts = [rows_fn(slice(i, i + batch_size)) for i in range(0, int(num), batch_size)]
    return tf.concat(parts, axis=0) if parts else rows_fn(slice(None))


def aug_path(model, seed_images, latents, num, seed, scale, batch_size=None) -> tf.Tensor:
    """``D(p)``: the decoded path latent."""
    images = tf.cast(seed_images, tf.float32)
    draws = path_draws(model, images, latents, num, seed, scale)
    return _chunked(lambda rows: model.decode(path_latents(model, images, latents, draws, rows)),
                    num, batch_size)


def aug_path_within(model, seed_images, latents, num, seed, scale, batch_size=None) -> tf.Tensor:
    """``D(normalise(p + s F eps))``: a within-class step on top of the path latent."""
    images = tf.cast(seed_images, tf.float32)
    draws = path_draws(model, images, latents, num, seed, scale)

    def rows(s):
        path = path_latents(model, images, latents, draws, s)
        return model.decode(within_step(model, "aug-path-within", path, draws["eps"][s], scale))

    return _chunked(rows, num, batch_size)


def aug_path_edit(model, seed_images, latents, num, seed, scale, batch_size=None) -> tf.Tensor:
    """``clip(x_a + D(normalise(p + s F eps)) - D(z(x_a)), 0, 1)``: that change added to the
    seed image itself (each seed's reconstruction decoded once)."""
    images = tf.cast(seed_images, tf.float32)
    draws = path_draws(model, images, latents, num, seed, scale)
    recon = model.decode(latents)

    def rows(s):
        path = path_latents(model, images, latents, draws, s)
        first = draws["first"][s]
        change = (model.decode(within_step(model, "aug-path-edit", path, draws["eps"][s], scale))
                  - tf.gather(recon, first))
        return tf.clip_by_value(tf.gather(images, first) + change, 0.0, 1.0)

    return _chunked(rows, num, batch_size)

