"""Latent-space utilities: L2 normalisation, spherical interpolation, the interpolation weight.

The paper L2-normalises latents and interpolates along the great circle (SLERP).  Convention used
everywhere in this package: ``alpha`` weights the FIRST argument, exactly like AugIntAE's target
``T(x; alpha * rho1 + (1 - alpha) * rho2)`` (and the pixel blend ``alpha * x1 + (1 - alpha) * x2``
of ``model.target: blend``), so ``slerp(z1, z2, 1) == z1`` and ``slerp(z1, z2, 0) == z2``.
"""
from __future__ import annotations

import tensorflow as tf

from augintae_tf.config.choices import ALPHAS, SAMPLER_TABLE, SAMPLERS
from augintae_tf.config.model_table import resolve

# Below this sin(omega) the slerp weights sin(a*omega)/sin(omega) are 0/0-prone; there the great
# circle is indistinguishable from the chord, so the normalised linear blend is used instead.
_MIN_SIN = 1e-3


def l2_normalize(z, eps: float = 1e-12) -> tf.Tensor:
    """``z / ||z||`` along the last axis, in float32; ``eps`` bounds the squared norm from below
    so that a zero vector maps to zero with finite gradients."""
    return tf.math.l2_normalize(tf.cast(z, tf.float32), axis=-1, epsilon=eps)


def _as_column(alpha, like: tf.Tensor) -> tf.Tensor:
    """Scalar, ``[B]`` or ``[B, 1]`` alpha -> something that broadcasts against ``[B, D]``."""
    alpha = tf.cast(alpha, like.dtype)
    if alpha.shape.rank == 1:
        alpha = alpha[:, None]
    return alpha


def slerp(z1, z2, alpha) -> tf.Tensor:
    """Spherical interpolation between L2-normalised latents ``[B, D]``; alpha=1 gives ``z1``.

    The result is re-normalised.  Where ``z1`` and ``z2`` are (anti)parallel it falls back to the
    normalised linear blend; both branches are computed from safe inputs and joined with
    ``tf.where``, so neither the value nor the gradient can be NaN.  (At exactly antiparallel
    latents and alpha=0.5 the blend is the zero vector: no great circle is preferred there.)
    """
    z1 = tf.cast(z1, tf.float32)
    z2 = tf.cast(z2, tf.float32)
    alpha = _as_column(alpha, z1)
    cos = tf.clip_by_value(tf.reduce_sum(z1 * z2, axis=-1, keepdims=True), -1.0, 1.0)
    sin = tf.sqrt(tf.maximum(1.0 - tf.square(cos), 0.0))
    degenerate = sin < _MIN_SIN
    # Feed the slerp branch an angle of pi/2 where it will be discarded: acos'(+-1) and 1/sin(0)
    # are infinite, and tf.where does not stop an inf * 0 = NaN in the backward pass.
    safe_cos = tf.where(degenerate, tf.zeros_like(cos), cos)
    omega = tf.acos(safe_cos)
    safe_sin = tf.sin(omega)
    spherical = (tf.sin(alpha * omega) * z1 + tf.sin((1.0 - alpha) * omega) * z2) / safe_sin
    linear = alpha * z1 + (1.0 - alpha) * z2
    return l2_normalize(tf.where(degenerate, linear, spherical))


def sample_alpha(seed, shape, kind: str = "midpoint") -> tf.Tensor:
    """Interpolation weights in [0, 1].

    ``midpoint`` (the paper's, appendix A.1): the mean of two U(0, 1) draws, triangular and
    peaked at 0.5, "because the network learned interpolations near the seed images more easily
    than near the midpoint".  ``uniform``: the first of those draws alone, U(0, 1), so that
    training sees alphas near 0 and 1 (plain reconstructions of a view) as often as midpoints.
    ``seed`` is a shape-[2] integer tensor (stateless RNG); both kinds draw the same stream.
    """
    if kind not in ALPHAS:
        raise ValueError(f"alpha kind {kind!r} is not allowed; expected one of {', '.join(ALPHAS)}")
    shape = tf.reshape(tf.cast(shape, tf.int32), [-1])
    draws = tf.random.stateless_uniform(tf.concat([[2], shape], axis=0), seed=seed)
    return draws[0] if kind == "uniform" else tf.reduce_mean(draws, axis=0)


def sample_seed_pairs(num_seeds, num, seed, min_seeds: int = 2
                      ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Few-shot generation's one sampler: ``(first, second, alpha)``, each ``[num]``.

    Ordered pairs of distinct seed indices in ``[0, num_seeds)`` and their slerp weights (mean of
    two uniforms, as in training), from stateless RNG streams of ``seed`` (alpha ``[seed, 1]``,
    first ``[seed, 2]``, offset ``[seed, 3]``): the same draws eagerly (``augintae-tf generate``,
    the evaluation) and inside a SavedModel graph (the served ``generate``).
    ``second = (first + offset) % K`` with offset in ``[1, K-1]`` can never equal ``first``.
    ``min_seeds=1`` (the one-seed samplers, which read ``first`` only) also accepts K = 1: the
    offset is drawn in ``[1, max(K, 2))``, the same draws as before for K >= 2, and the one
    seed is both ``first`` and ``second``.
    """
    seed = tf.cast(seed, tf.int64)
    num_seeds = tf.cast(num_seeds, tf.int32)
    needed = "1 seed image" if min_seeds == 1 else f"{min_seeds} seed images"
    checks = [tf.debugging.assert_greater_equal(num_seeds, min_seeds,
                                                message=f"generate needs at least {needed}"),
              tf.debugging.assert_non_negative(tf.cast(num, tf.int32), message="num must be >= 0")]
    with tf.control_dependencies(checks):  # before the draws, whose own errors are cryptic
        shape = tf.reshape(tf.cast(num, tf.int32), [1])

    def stream(index):
        return tf.stack([seed, tf.constant(index, tf.int64)])

    first = tf.random.stateless_uniform(shape, stream(2), minval=0, maxval=num_seeds,
                                        dtype=tf.int32)
    offset = tf.random.stateless_uniform(shape, stream(3), minval=1,
                                         maxval=tf.maximum(num_seeds, 2), dtype=tf.int32)
    return first, (first + offset) % num_seeds, sample_alpha(stream(1), shape)




def _stream(seed, index: int) -> tf.Tensor:
    return tf.stack([tf.cast(seed, tf.int64), tf.constant(index, tf.int64)])


def sample_latents(latents, num, seed, sampler: str = "slerp", scale=1.0,
                   factor=None) -> tf.Tensor:
    """``num`` unit latents ``[num, D]`` from the K seeds' unit latents ``latents [K, D]``.

    - ``slerp``: ``slerp(z_a, z_b, alpha)`` for random ordered pairs of distinct seeds at alpha =
      mean of two uniforms (:func:`sample_seed_pairs`), the paper's sampler;
    - ``local``: local variation transfer, ``normalise(z_a + scale * F eps)`` with ``z_a`` a random
      seed (the pair's first), ``eps ~ N(0, I)`` (stream ``[seed, 8]``) and ``F F^T = C`` the
      covariance of training latents around their nearest neighbours
      (:mod:`augintae_tf.models.latent_stats`): it stays near one seed and moves along the directions in
      which training images vary locally, so it never draws two seeds at once;
    - ``slerp-local``: the same noise around the pair's slerp point;
    - ``local-edit``: the latents of ``local`` (the model then adds their decoded change to the
      seed image itself: :meth:`augintae_tf.models.autoencoder.Autoencoder.fewshot`);
    - ``convex``: ``normalise(sum_k w_k z_k)`` with ``w ~ Dirichlet(1, ..., 1)`` over all K seeds
      (stream ``[seed, 9]``), uniform on the simplex;
    - ``within`` / ``within-edit``: as ``local`` / ``local-edit`` with ``F F^T = W``, the pooled
      within-class covariance of the labelled training latents (how one class varies, not how
      neighbours of any class differ), so ``scale`` 1 draws a latent as far from the seed as
      real members of a training class lie from their class mean;
    - ``set-edit``: the edit with noise of covariance ``SET_WEIGHT * S + (1 - SET_WEIGHT) * W``,
      ``S = sum_k (z_k - mean)(z_k - mean)^T / (K - 1)`` the K seeds' own scatter (conditioning
      on the whole set, shrunk toward the training classes' ``W`` because K is far below D):
      ``sqrt(SET_WEIGHT / (K - 1)) sum_k g_k (z_k - mean) + sqrt(1 - SET_WEIGHT) F eps``,
      ``g ~ N(0, I_K)`` (stream ``[seed, 10]``), independent of ``eps``.

    Each sampler is a row of :data:`augintae_tf.config.choices.SAMPLER_TABLE` whose ``draw`` is
    one of the ``draw_*`` functions below.  Every draw is stateless in ``seed``, so the same seed
    gives the same latents eagerly and in a SavedModel graph.  ``factor`` ``[D, D]`` is required by the noisy samplers (the local one for
    the local samplers, the within-class one for the others).
    """
    if sampler not in SAMPLER_TABLE:
        raise ValueError(f"sampler {sampler!r} is unknown; expected one of {', '.join(SAMPLERS)}")
    row = SAMPLER_TABLE[sampler]
    if row.output == "images":
        raise ValueError(f"sampler {sampler!r} draws images, not latents "
                         "(augintae_tf.models.autoencoder.Autoencoder.fewshot draws it)")
    latents = tf.cast(latents, tf.float32)
    pair = sample_seed_pairs(tf.shape(latents)[0], num, seed, row.seeds)
    if row.statistic is not None and factor is None:
        raise ValueError(f"sampler {sampler!r} needs the run's latent statistics (factor)")
    return resolve(row.draw)(latents, pair, num, seed, scale, factor)


def draw_slerp(latents, pair, num, seed, scale, factor) -> tf.Tensor:
    """``slerp``: the slerp of each drawn pair of seeds at its alpha."""
    first, second, alpha = pair
    return slerp(tf.gather(latents, first), tf.gather(latents, second), alpha)


def draw_convex(latents, pair, num, seed, scale, factor) -> tf.Tensor:
    """``convex``: ``normalise(sum_k w_k z_k)``, ``w ~ Dirichlet(1, ..., 1)`` (stream
    ``[seed, 9]``)."""
    weights = tf.random.stateless_gamma(tf.stack([tf.cast(num, tf.int32), tf.shape(latents)[0]]),
                                        _stream(seed, 9), alpha=1.0)
    weights /= tf.reduce_sum(weights, axis=1, keepdims=True)
    return l2_normalize(tf.matmul(weights, latents))


def draw_near_seed(latents, pair, num, seed, scale, factor) -> tf.Tensor:
    """``local``, ``within`` and their edits: noise of covariance ``F F^T`` around the first
    seed of each pair."""
    return _noisy(tf.gather(latents, pair[0]), scale, factor, seed)


def draw_near_slerp(latents, pair, num, seed, scale, factor) -> tf.Tensor:
    """``slerp-local``: the same noise around each pair's slerp point."""
    return _noisy(draw_slerp(latents, pair, num, seed, scale, factor), scale, factor, seed)


def draw_near_seed_set(latents, pair, num, seed, scale, factor) -> tf.Tensor:
    """``set-edit``: noise of the seeds' own scatter mixed with ``F F^T`` (:func:`set_noise`)
    around the first seed of each pair."""
    return _noisy(tf.gather(latents, pair[0]), scale, factor, seed, latents)


def _noisy(base, scale, factor, seed, seeds=None) -> tf.Tensor:
    """``normalise(base + scale * F eps)``, ``eps ~ N(0, I)`` (stream ``[seed, 8]``); with
    ``seeds``, the noise is :func:`set_noise`'s."""
    factor = tf.cast(factor, tf.float32)
    eps = tf.random.stateless_normal(tf.shape(base), _stream(seed, 8))
    noise = tf.matmul(eps, factor, transpose_b=True)
    if seeds is not None:
        noise = set_noise(seeds, noise, tf.shape(base)[0], seed)
    return l2_normalize(base + tf.cast(scale, tf.float32) * noise)


SET_WEIGHT = 0.5  # set-edit: the share of the seeds' own scatter in the noise covariance


def set_noise(latents, prior_noise, num, seed) -> tf.Tensor:
    """``set-edit``'s noise ``[num, D]`` (:func:`sample_latents`): the seeds' scatter ``S`` drawn
    as ``sum_k g_k (z_k - mean) / sqrt(K - 1)`` (covariance exactly ``S``), mixed with
    ``prior_noise`` (covariance ``W``) at :data:`SET_WEIGHT`."""
    centred = latents - tf.reduce_mean(latents, axis=0, keepdims=True)
    count = tf.cast(tf.shape(latents)[0], tf.float32)
    g = tf.random.stateless_normal(tf.stack([num, tf.shape(latents)[0]]), _stream(seed, 10))
    own = tf.matmul(g, centred) / tf.sqrt(tf.maximum(count - 1.0, 1.0))
    return tf.sqrt(SET_WEIGHT) * own + tf.sqrt(1.0 - SET_WEIGHT) * prior_noise
