"""Train steps in every precision, and the whole step (augmentation included) under XLA, for the
augintae model on a tiny config, built the way `augintae-tf train` builds it; every model built
in bf16 (every layer but the float32 heads, whatever Keras' process-wide policy says) and its
step; and how `precision: auto` chooses."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from augintae_tf.config import PRECISIONS, load_config
from augintae_tf.models.losses import pixel_mse
from augintae_tf.training import build

SIZE, BATCH = 12, 8
COMPUTE = {"float32": "float32", "mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}


def tiny(precision="float32", jit="off"):
    cfg = load_config("glyphs", {"data.image_size": SIZE, "model.latent_dim": 8,
                                 "model.width": 0.25, "train.precision": precision,
                                 "train.jit": jit})
    return build(cfg, steps=10)  # the model receives train.precision as its dtype


def blobs(n=BATCH, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    centre = rng.uniform(3, SIZE - 3, (n, 2, 1, 1))
    return np.exp(-((yy - centre[:, 0]) ** 2 + (xx - centre[:, 1]) ** 2) / 8.0)[..., None] \
        .astype("float32")


@pytest.mark.parametrize("precision", [p for p in PRECISIONS if p != "auto"])
def test_one_train_step_in_each_precision(precision):
    model = tiny(precision)
    conv = next(layer for layer in model.encoder.layers if isinstance(layer, keras.layers.Conv2D))
    assert conv.compute_dtype == COMPUTE[precision] and conv.kernel.dtype == "float32"
    # Keras' compile wraps the optimizer for float16 only: bfloat16 has float32's exponent range.
    scaled = isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert scaled == (precision == "mixed_float16")
    before = [w.numpy().copy() for w in model.trainable_weights]
    x = blobs()
    loss = model.fit(x, batch_size=BATCH, epochs=1, verbose=0).history["recon_loss"]
    assert len(loss) == 1 and np.isfinite(loss[0]) and 0.0 < loss[0] < 0.5, loss
    moved = [not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights)]
    assert all(moved), "a float16 step whose gradients overflowed would be skipped by loss scaling"
    prediction, target = model.training_batch(tf.constant(x), tf.constant([0, 1], tf.int64))
    assert prediction.dtype == target.dtype == pixel_mse(prediction, target).dtype == tf.float32
    latents = model.encode(x)
    assert latents.dtype == tf.float32 and model(x).dtype == tf.float32
    np.testing.assert_allclose(np.linalg.norm(latents.numpy(), axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_whole_train_step_compiles_with_xla_augmentation_included(precision):
    """float16 adds dynamic loss scaling (a finite-gradients branch) to the step; bfloat16 runs
    the fused BN kernel on bf16 activations: both compile too. (float32 under XLA, augmentation
    included: tests/test_models.py's jit tests, one of which also checks the loss goes down.)"""
    model = tiny(precision, jit="on")
    assert model.jit_compile is True  # Keras silently falls back to False for unsupported models
    loss = model.fit(blobs(), batch_size=BATCH, epochs=2, verbose=0).history["recon_loss"]
    assert np.all(np.isfinite(loss)) and int(model.step_counter.numpy()) == 2
    assert int(model.optimizer.iterations.numpy()) == 2  # no step skipped as non-finite
    # That success means the whole step, augmentation included, is one XLA computation: see below.


def test_xla_errors_instead_of_falling_back():
    """A jit_compile=True function fails on an op without an XLA kernel rather than running it
    outside XLA, e.g. on the op behind Keras' image-transform layers that augment.py replaces."""
    transform = tf.function(lambda images: tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=tf.constant([[1.0, 0, 0, 0, 1, 0, 0, 0]]),
        output_shape=[SIZE, SIZE], fill_value=0.0, interpolation="BILINEAR"), jit_compile=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match="ImageProjectiveTransformV3"):
        transform(tf.constant(blobs(1)))


# ------------------------------------------------------------ train.precision: auto
def test_auto_chooses_bf16_only_on_bf16_hardware_for_a_measured_model(monkeypatch):
    from augintae_tf import cpu
    from augintae_tf.models import precision

    monkeypatch.setattr(cpu, "cpu_model", lambda: "Test CPU")
    cpu_kwargs = dict(gpu=False, gpu_capability=None)
    assert precision.choose("ae", True, native_bf16=True, **cpu_kwargs) == (
        "mixed_bfloat16", "this CPU (Test CPU) has native bf16 and model ae's few-shot quality "
        "measured the same as in float32; --precision float32 to keep float32")
    assert precision.choose("ae", True, native_bf16=False, **cpu_kwargs) == (
        "float32", "this CPU (Test CPU) has no native bf16 (AVX512_BF16 or AMX); TensorFlow would "
        "emulate bf16, several times slower")
    assert precision.choose("ae", True, native_bf16=None, **cpu_kwargs) == (
        "float32", "whether this CPU (Test CPU) has native bf16 is unknown")
    assert precision.choose("gaia", False, native_bf16=True, **cpu_kwargs) == (
        "float32", "this CPU (Test CPU) has native bf16, but model gaia's few-shot quality in bf16 "
        "has not been measured; --precision mixed_bfloat16 to use it anyway")
    # GPUs: bf16 from compute capability 8.0 (Ampere); the CPU's flags do not matter there
    assert precision.choose("augintae", True, gpu=True, gpu_capability=(8, 0),
                            native_bf16=False)[0] == "mixed_bfloat16"
    assert precision.choose("augintae", True, gpu=True, gpu_capability=(7, 5), native_bf16=True) == (
        "float32", "this GPU of compute capability (7, 5) has no native bf16 (needs compute "
        "capability >= 8.0)")


def test_only_models_measured_in_bf16_may_switch_to_it():
    from augintae_tf.config.model_table import model_names, section_class

    measured = sorted(name for name in model_names() if name in section_class(name).BF16_MEASURED)
    assert measured == ["ae", "augintae"]


@pytest.mark.parametrize("native", [True, False])
def test_train_resolves_auto_says_why_and_keeps_explicit_choices(monkeypatch, tmp_path, native):
    """auto resolves by the hardware, says why, leaves explicit choices alone, and train hands
    Keras' global dtype policy back as it found it (a bf16 run leaking its policy made later
    models in the process bf16: the fused-BN tests failed after one on a native-bf16 CPU)."""
    from augintae_tf import cpu
    from augintae_tf.models import precision
    from augintae_tf.training import train

    monkeypatch.setattr(cpu, "has_native_bf16", lambda: native)
    monkeypatch.setattr(precision, "gpu_capability", lambda: (False, None))
    lines = []
    cfg = load_config("recommended", {"model.width": 0.05, "train.precision": "auto"})
    summary = train(cfg, tmp_path / "dry", dry_run=True, echo=lines.append)
    chosen = "mixed_bfloat16" if native else "float32"
    assert [l for l in lines if "(auto)" in l] == [
        f"precision {chosen} (auto): " + precision.choose(
            "augintae", True, gpu=False, gpu_capability=None, native_bf16=native)[1]]
    assert f"precision: {chosen}" in summary  # the resolved config, as config.yaml records it
    # the run's policy held only while it ran: the caller's is back (here Keras' default)
    assert keras.mixed_precision.global_policy().name == "float32"
    lines.clear()
    explicit = load_config("recommended", {"model.width": 0.05, "train.precision": "float32"})
    summary = train(explicit, tmp_path / "dry", dry_run=True, echo=lines.append)
    assert not [l for l in lines if "(auto)" in l] and "precision: float32" in summary


def product_models() -> list[str]:
    """The registered models of the package (tests register their own too)."""
    from augintae_tf.config.model_table import model_names, model_row

    def module(name):
        target = model_row(name).model
        return target if isinstance(target, str) else target.__module__
    return [n for n in model_names() if module(n).startswith("augintae_tf")]


# Layers that compute in float32 whatever the model's dtype: the networks' heads (latents,
# scores, images and losses stay float32), the inputs, and the Functional networks themselves
# (a container: its layers compute in their own dtype).
FLOAT32_HEADS = {"out", "image", "tanh", "logits_f32", "l2_normalize", "out_mean", "out_logvar"}


def layers_of(model):
    """Every layer inside ``model``'s networks, nested ones (SLE's convolutions) included."""
    return [layer for net in model.networks().values() for layer in net._flatten_layers()
            if layer is not net]


@pytest.mark.parametrize("name", product_models())
def test_every_model_builds_and_steps_under_an_explicit_bf16_policy(name):
    """``--precision mixed_bfloat16`` is allowed for every model (``auto`` picks it only for the
    measured ones): each builds with every layer computing in bf16 but its float32 heads (Keras'
    process-wide policy stays float32: the model receives its dtype) and takes one finite step
    with float32 variables.  Keras casts a model's call inputs to the policy's dtype, and DAGAN
    and the Neural Statistician refused bf16 inputs in ``call`` (found by
    ``train_throughput.py --models all`` on a bf16 CPU)."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from throughput_models import example_batch

    cfg = load_config("glyphs", {"model.name": name, "model.width": 0.25, "model.latent_dim": 8,
                                 "data.image_size": 64 if name == "fastgan" else 16,
                                 "train.precision": "mixed_bfloat16", "train.jit": "off"})
    model = build(cfg, steps=10)
    assert keras.mixed_precision.global_policy().name == "float32"
    assert model.dtype_policy.name == "mixed_bfloat16"
    wrong = sorted({f"{type(layer).__name__} {layer.name}: {layer.dtype_policy.name}"
                    for layer in layers_of(model) if layer.dtype_policy.name != "mixed_bfloat16"
                    and not isinstance(layer, (keras.layers.InputLayer, keras.layers.Activation,
                                               keras.Model))
                    and layer.name not in FLOAT32_HEADS})
    assert wrong == []
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    batch, _ = example_batch(model, cfg, 10 if model.batches == "sets" else 4)
    logs = model.train_step(batch if isinstance(batch, tuple) else tf.constant(batch))
    assert all(np.isfinite(float(v)) for v in logs.values()), logs
    assert int(model.step_counter.numpy()) == 1
