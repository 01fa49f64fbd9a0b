"""Realism as a classifier two-sample test (Lopez-Paz & Oquab 2017, "Revisiting classifier
two-sample tests").

A fresh small CNN is trained to tell real images (label 1) from a generated set (label 0); its
accuracy on held-out images of both sets is the score: 0.5 means the CNN found nothing that
separates them (indistinguishable at this capacity and budget), 1.0 means every held-out image
was told apart.  Unlike a Fréchet distance it reacts to what a person sees at pixel level: a
model's blur and a pixel cross-fade's double strokes both make it rise.

Choices, all fixed so rows are comparable:

* balanced: the larger set is subsampled (without replacement) to the size of the smaller, so
  always guessing one side scores exactly 0.5;
* split per side: ``holdout`` of each side is held out, so the held-out set is balanced too;
* the CNN: conv 16 (3x3, stride 2) -> conv 32 (3x3, stride 2) -> flatten -> sigmoid unit, Adam
  1e-3, batch 64, ``epochs`` passes (more when ``min_steps`` asks for more optimizer steps:
  small sets get more passes) -- about a second for 2,000 28x28 images on a CPU core;
* power grows with the set sizes: with a few dozen images a side the CNN stays near 0.5 whatever
  the sets are, so compare rows of similar size only, and read a value within chance of 0.5
  (:func:`chance_margin`) as "indistinguishable" only where a row known to differ (the pixel
  cross-fade) was told apart (:mod:`.fewshot_quality`);
* deterministic for a ``seed`` without touching global RNG state: the initialisers are seeded,
  and the per-epoch shuffles are drawn with NumPy and fed in order, one ``train_on_batch`` per
  batch (the same steps as ``fit(shuffle=False)`` per epoch, without its per-call overhead, which
  dominated the many short epochs of small sets).
"""
from __future__ import annotations

import keras
import numpy as np


def seeded_init(seed: int):
    """``init(offset)``: a Glorot-uniform initialiser seeded ``seed * 8 + offset``."""
    return lambda offset: keras.initializers.GlorotUniform(seed=seed * 8 + offset)


def conv_trunk(inputs, init):
    """conv 16 (3x3, stride 2) -> conv 32 (3x3, stride 2) -> flatten, ReLUs, initialisers
    ``init(0)``, ``init(1)``: the small scorers' shared trunk (realism, utility)."""
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu",
                            kernel_initializer=init(0), name="conv1")(inputs)
    x = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu",
                            kernel_initializer=init(1), name="conv2")(x)
    return keras.layers.Flatten()(x)


def build_realism_cnn(shape: tuple[int, ...], seed: int = 0) -> keras.Model:
    """images ``[B, H, W, C]`` -> P(real) ``[B, 1]``; every initialiser seeded from ``seed``."""
    init = seeded_init(seed)
    inputs = keras.Input(shape, name="images")
    x = conv_trunk(inputs, init)
    outputs = keras.layers.Dense(1, activation="sigmoid", kernel_initializer=init(2), name="real")(x)
    return keras.Model(inputs, outputs, name="realism_cnn")


def balanced_split(n_real: int, n_fake: int, holdout: float, seed: int):
    """Index arrays ``(real_train, real_test, fake_train, fake_test)``: both sides cut to
    ``min(n_real, n_fake)`` at random, then ``holdout`` of each (at least 1) held out."""
    n = min(n_real, n_fake)
    if n < 2:
        raise ValueError(f"the realism test needs at least 2 images on each side, got {n_real} real "
                         f"and {n_fake} generated")
    if not 0.0 < holdout < 1.0:
        raise ValueError(f"holdout must be in (0, 1), got {holdout}")
    rng = np.random.default_rng([seed, 7])
    held = min(n - 1, max(1, int(round(n * holdout))))
    real = rng.permutation(n_real)[:n]
    fake = rng.permutation(n_fake)[:n]
    return real[held:], real[:held], fake[held:], fake[:held]


def test_size(n_real: int, n_fake: int, holdout: float = 1 / 3) -> int:
    """How many held-out images (both sides) :func:`realism_accuracy` scores on."""
    n = min(n_real, n_fake)
    return 2 * min(n - 1, max(1, int(round(n * holdout)))) if n >= 2 else 0


def chance_margin(n_test: int) -> float:
    """Two standard errors of a coin's accuracy on ``n_test`` images: ``2 sqrt(0.25 / n)``."""
    return 2 * 0.5 / np.sqrt(max(n_test, 1))


def realism_accuracy(real, generated, *, seed: int = 0, epochs: int = 5, holdout: float = 1 / 3,
                     batch_size: int = 64, min_steps: int = 0) -> float:
    """Held-out accuracy of a CNN trained to tell ``real`` from ``generated`` (module doc), for
    ``epochs`` passes or as many as ``min_steps`` optimizer steps take.

    Both are images ``[N, H, W, C]`` of one shape, values as the models see them ([0, 1]).
    """
    real = np.asarray(real, np.float32)
    generated = np.asarray(generated, np.float32)
    if real.ndim != 4 or real.shape[1:] != generated.shape[1:]:
        raise ValueError(f"real and generated must be images [N, H, W, C] of one shape, got "
                         f"{real.shape} and {generated.shape}")
    if epochs < 1:
        raise ValueError(f"the realism test needs epochs >= 1, got {epochs}")
    real_train, real_test, fake_train, fake_test = balanced_split(len(real), len(generated),
                                                                  holdout, seed)
    x = np.concatenate([real[real_train], generated[fake_train]])
    y = np.concatenate([np.ones(len(real_train)), np.zeros(len(fake_train))]).astype(np.float32)
    rng = np.random.default_rng([seed, 8])
    model = build_realism_cnn(real.shape[1:], seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    epochs = max(epochs, -(-min_steps // max(1, -(-len(x) // batch_size))))
    for _ in range(epochs):  # our own seeded shuffle per epoch, so Keras' global RNG plays no part
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):  # = fit(shuffle=False), without its overhead
            batch = order[start:start + batch_size]
            model.train_on_batch(x[batch], y[batch])
    test = np.concatenate([real[real_test], generated[fake_test]])
    truth = np.concatenate([np.ones(len(real_test)), np.zeros(len(fake_test))])
    p = np.concatenate([keras.ops.convert_to_numpy(model(test[i:i + 256], training=False))
                        for i in range(0, len(test), 256)]).reshape(-1)
    return float(np.mean((p > 0.5) == (truth > 0.5)))
