"""Shared test set-up: quiet TensorFlow, a private cache for the embedded glyphs dataset, tiny
configs and a fresh-interpreter runner."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def glyph_cache(tmp_path_factory):
    """One glyphs cache for the whole session: rendered once, reused by every test."""
    path = tmp_path_factory.mktemp("augintae-cache")
    os.environ["AUGINTAE_CACHE_DIR"] = str(path)
    return path


# float32 pinned: ``train.precision: auto`` would train in bf16 on a CPU with native bf16, and a
# test's numbers must not depend on which CPU runs it (bf16 steps: tests/test_precision.py).
# A checkpoint every epoch (train.snap 1): the fault tests stop runs at a given epoch.
TINY = {"model.width": 0.25, "model.latent_dim": 8, "data.limit": 128, "train.batch_size": 32,
        "train.epochs": 2, "train.precision": "float32", "train.snap": 1}


def tiny_config(**overrides):
    """The glyphs preset shrunk for tests: same code paths, seconds per epoch."""
    from augintae_tf.config import load_config

    return load_config("glyphs", {**TINY, **overrides})


def small_model_config(name: str, size: int = 12):
    """A config for building one model directly (no dataset): ``size`` px, latent 8, width 0.25,
    and some translation so the augmentation is not the identity."""
    from augintae_tf.config import Config

    cfg = Config()
    cfg.data.image_size, cfg.model.latent_dim, cfg.model.name = size, 8, name
    cfg.model.width = 0.25
    cfg.augment.translation = 2.0
    return cfg


def build_small(cfg, steps: int = 10):
    """``training.build`` of a small config (the model and every optimizer, compiled)."""
    from augintae_tf.training import build

    return build(cfg, steps=steps)


def blobs(n: int, size: int, seed: int = 0):
    """``n`` Gaussian blobs of random position and radius, float32 ``[n, size, size, 1]``: easy to
    learn, unlike uniform noise."""
    import numpy as np

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    centre = rng.uniform(0.3 * size, 0.7 * size, (n, 2, 1, 1))
    radius = rng.uniform(1.5, 3.5, (n, 1, 1))
    d2 = (yy - centre[:, 0]) ** 2 + (xx - centre[:, 1]) ** 2
    return np.exp(-d2 / (2 * radius ** 2))[..., None].astype("float32")


def random_images(n: int = 4, size: int = 12, seed: int = 0):
    """``n`` uniform single-channel ``size`` x ``size`` images in [0, 1), float32."""
    import numpy as np

    return np.random.default_rng(seed).uniform(size=(n, size, size, 1)).astype(np.float32)


def random_weight_run(run, size: int, latent_dim: int, train, heldout, labels):
    """``run``: a run directory with one checkpoint of a tiny glyphs-preset AugIntAE (random
    weights, ``size`` px, ``latent_dim``, width 0.25) and latent statistics computed from
    ``train`` (labelled ``labels``: the within-class covariance and spread) and ``heldout``."""
    import dataclasses

    import keras

    from augintae_tf.config import load_config
    from augintae_tf.models import build_model, latent_stats
    from augintae_tf.run import model_state
    from augintae_tf.training.stages import save_latent_stats

    cfg = load_config("glyphs", {"data.image_size": size, "model.latent_dim": latent_dim,
                                 "model.width": 0.25})
    cfg.save(run / "config.yaml")
    keras.utils.set_random_seed(0)
    model = build_model(cfg)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.build_for_training()
    ckpt = model_state.save(run / "checkpoints", model, 1, {"step": 0})
    stats = latent_stats.compute(model, train, heldout, train_labels=labels)
    save_latent_stats(run, dataclasses.replace(stats, checkpoint=ckpt.name), ckpt)
    return run


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, glyph_cache):
    """A 2-epoch AugIntAE run on 128 glyphs, shared by the generation and CLI tests."""
    from augintae_tf.training import train

    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    train(tiny_config(), run_dir, echo=lambda *_: None)
    return run_dir


@pytest.fixture(scope="session")
def tiny_seeds(tmp_path_factory, glyph_cache):
    """A folder of 5 seed PNGs of one held-out glyph character, the size tiny runs take."""
    import numpy as np

    from augintae_tf.data import load_arrays
    from augintae_tf.images import save_png

    folder = tmp_path_factory.mktemp("seeds")
    images, labels = load_arrays(tiny_config().data, "test", limit=200)
    for i, image in enumerate(images[labels == np.bincount(labels).argmax()][:5]):
        save_png(folder / f"seed-{i:02d}.png", image)
    return folder


def run_python(source: str, *args: str, env: dict[str, str] | None = None, timeout: int = 180,
               cwd: str | os.PathLike | None = None):
    """Run ``python -c source *args`` in a fresh interpreter (needed where TensorFlow's devices
    must be set up before it starts, e.g. splitting the CPU for a MirroredStrategy); ``env`` adds
    environment variables; ``cwd``: the folder it runs in (first on its ``sys.path``)."""
    import subprocess
    import sys

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run([sys.executable, "-c", source, *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=cwd)


# The CLI in a fresh interpreter that SIGKILLs itself at one point of a checkpoint write (no
# cleanup at all): ``POINT`` or ``POINT@EPOCH``, POINT a file of the checkpoint
# (``model.weights.h5``...), ``manifest`` (written last) or ``rename`` (the finished checkpoint
# taking its name). Argv as ``run_python``'s.
KILLED_CLI = """
import os, signal, sys
from augintae_tf.cli.main import main
from augintae_tf.run import checkpoints

POINT, _, EPOCH = {point!r}.partition("@")
write_file, publish = checkpoints._write_file, checkpoints._publish


def here(point, folder):
    if point == POINT and (not EPOCH or folder.name.startswith(f".tmp-epoch-{{int(EPOCH):05d}}-")):
        os.kill(os.getpid(), signal.SIGKILL)


def _write_file(path, data):
    here("manifest" if path.name == checkpoints.MANIFEST else path.name, path.parent)
    return write_file(path, data)


def _publish(tmp, final):
    here("rename", tmp)
    return publish(tmp, final)


checkpoints._write_file, checkpoints._publish = _write_file, _publish
main(sys.argv[1:])
"""


def killed_cli(point: str) -> str:
    """The source of :data:`KILLED_CLI` killing at ``point`` (for ``run_python``)."""
    return KILLED_CLI.format(point=point)

