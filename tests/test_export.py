"""`augintae-tf export`: a versioned TF Serving SavedModel whose signatures match the Keras model.

One export verifies itself in a fresh process (the CLI test); the others skip that subprocess and
check the SavedModel in this process instead.
"""
import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from augintae_tf.inference import export, verify

from augintae_tf.cli.main import main
from augintae_tf.config.choices import SAMPLERS, SCALED_SAMPLERS
from augintae_tf.errors import RunError
from augintae_tf.inference.export import export_run, rest_request_body
from augintae_tf.latent import sample_alpha, sample_seed_pairs, slerp
from augintae_tf.inference.loaded import load_run
from conftest import random_weight_run
from test_links_and_read_only import read_only  # noqa: F401  (a fixture: writes under a folder fail)

SIZE, LATENT, MAX_NUM = 12, 8, 300
SAMPLER_SIGNATURES = ("generate_slerp", "generate_local", "generate_slerp_local", "generate_local_edit",
                      "generate_convex", "generate_within", "generate_within_edit",
                      "generate_set_edit", "generate_aug_path", "generate_aug_path_within",
                      "generate_aug_path_edit", "generate_flow")
SIGNATURES = ("generate", *SAMPLER_SIGNATURES, "serving_default", "interpolate", "encode",
              "decode", "reconstruct")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run directory with one checkpoint of a tiny augintae model (random weights suffice) and
    its latent statistics (from random images), so that every sampler is exported."""
    return random_weight_run(tmp_path_factory.mktemp("run"), SIZE, LATENT, images(64, 30),
                             images(16, 31), np.arange(64) % 4)


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory):
    """(SavedModel loaded in this process, the run's Keras model), exported without the check."""
    base = tmp_path_factory.mktemp("serving base")  # a space: the printed commands quote it
    (base / "4").mkdir()  # an older version: the export becomes the next one
    result = CliRunner().invoke(main, ["export", "--run-dir", str(run_dir), "--out", str(base),
                                       "--no-verify", "--max-num", str(MAX_NUM)])
    assert result.exit_code == 0 and "as version 5" in result.output, result.output
    assert f"--model_base_path='{base.resolve()}'\n" in result.output
    assert f"-d '@{base.resolve()}/5/assets.extra/generate_request.json'" in result.output
    assert "verified in a fresh" not in result.output
    docs = (base / "5" / "assets.extra" / "signatures.txt").read_text()
    assert f"num: int32 scalar in [0, {MAX_NUM}], seed: int64 scalar" in docs
    return tf.saved_model.load(str(base / "5")), load_run(run_dir).model


def images(n, seed):
    return np.random.default_rng(seed).uniform(size=(n, SIZE, SIZE, 1)).astype(np.float32)


def test_cli_exports_verified_versions_and_prints_summary_and_request(run_dir, tmp_path):
    base = tmp_path / "serving"
    result = CliRunner().invoke(main, ["export", "--run-dir", str(run_dir), "--out", str(base),
                                       "--verbose"])
    assert result.exit_code == 0, result.output
    out = result.output
    diffs = dict(re.findall(r"^  (\w[\w ]*?)\s+(\d\.\d\de[+-]\d\d)$", out, re.M))
    assert set(diffs) == {*SIGNATURES, "interpolate_scalar", "REST example"}
    assert all(float(v) <= 1e-5 for v in diffs.values()), diffs
    assert (base / "1" / "saved_model.pb").is_file() and [p.name for p in base.iterdir()] == ["1"]
    for name in SIGNATURES:  # saved_model_cli's layout, one block per signature
        assert f"signature_def['{name}']:" in out
    assert out.count("Method name is: tensorflow/serving/predict") == len(SIGNATURES)
    generate = out.split("signature_def['generate']:")[1].split("signature_def[")[0]
    # Declared [-1, -1, -1, -1] so that the graph's own checks name a wrong shape (TF Serving does
    # not check declared shapes); the expected shape is in the signature docs.
    assert re.search(r"inputs\['seed_images'\].*?dtype: DT_FLOAT\s+shape: \(-1, -1, -1, -1\)",
                     generate, re.S)
    assert "seed_images: float32 [N, 12, 12, 1] in [0, 1]" in out and "[0, 1024]" in out
    assert re.search(r"inputs\['num'\].*?DT_INT32\s+shape: \(\)", generate, re.S)
    assert re.search(r"outputs\['images'\].*?shape: \(-1, 12, 12, 1\)", generate, re.S)
    assert '{"signature_name": "generate", "inputs": {"seed_images": <SEED_IMAGES>, "num": 8, ' \
           '"seed": 0}}' in out
    assert f"--model_base_path={base.resolve()}" in out
    body = json.loads((base / "1" / "assets.extra" / "generate_request.json").read_text())
    assert np.shape(body["inputs"]["seed_images"]) == (3, SIZE, SIZE, 1)

    # Without --verbose: where it went, that it verified, the signatures and how to serve it.
    short = CliRunner().invoke(main, ["export", "--run-dir", str(run_dir), "--out", str(base)])
    assert short.exit_code == 0, short.output
    lines = short.output.splitlines()
    assert len(lines) == 6, short.output
    # every signature, plus interpolate with a scalar alpha and the REST example body
    assert "as version 2" in lines[0] and f"over {len(SIGNATURES) + 2} checks" in lines[1]
    assert lines[2].startswith("signatures: generate, " + ", ".join(SAMPLER_SIGNATURES)
                               + ", interpolate, encode, decode, reconstruct")
    assert lines[4].startswith("  tensorflow_model_server ") and lines[5].startswith("  curl ")

    taken = CliRunner().invoke(main, ["export", "--run-dir", str(run_dir), "--out", str(base),
                                      "--version", "1"])
    assert taken.exit_code == 1
    last_line = taken.output.strip().splitlines()[-1]
    assert last_line.startswith("Error: ") and "immutable" in last_line


def test_generate_signature_is_deterministic_few_shot_generation(exported):
    served, model = exported
    seeds = images(4, 0)
    generate = served.signatures["generate"]
    run = lambda seed: generate(seed_images=tf.constant(seeds), num=tf.constant(50),  # noqa: E731
                                seed=tf.constant(seed, tf.int64))["images"].numpy()
    first, again, other = run(3), run(3), run(4)
    assert first.shape == (50, SIZE, SIZE, 1) and np.array_equal(first, again)
    assert np.abs(first - other).max() > 1e-3
    default = served.signatures["serving_default"](
        seed_images=tf.constant(seeds), num=tf.constant(50), seed=tf.constant(3, tf.int64))
    assert np.array_equal(default["images"].numpy(), first)
    a, b, alpha = sample_seed_pairs(4, 50, 3)
    latents = model.encode(seeds)
    want = model.decode(slerp(tf.gather(latents, a), tf.gather(latents, b), alpha)).numpy()
    np.testing.assert_allclose(first, want, atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least 2 seed images"):
        generate(seed_images=tf.constant(seeds[:1]), num=tf.constant(2),
                 seed=tf.constant(0, tf.int64))


def test_sample_seed_pairs_distinct_pairs_and_midpoint_biased_alpha():
    first, second, alpha = (t.numpy() for t in sample_seed_pairs(5, 20_000, 7))
    assert first.min() == 0 and first.max() == 4 and np.all(first != second)
    counts = np.bincount(first * 5 + second, minlength=25).reshape(5, 5)
    assert np.all(np.diag(counts) == 0)  # every ordered pair of distinct seeds, none with itself
    off_diagonal = counts[~np.eye(5, dtype=bool)] / 20_000
    assert np.all(np.abs(off_diagonal - 1 / 20) < 0.008), off_diagonal
    # Mean of two uniforms: triangular on [0, 1], mean 1/2, variance 1/24, drawn from the
    # stream [seed, 1] of the same op that draws the training alphas.
    assert 0 <= alpha.min() and alpha.max() <= 1
    assert abs(alpha.mean() - 0.5) < 0.01 and abs(alpha.var() - 1 / 24) < 0.002
    np.testing.assert_array_equal(alpha, sample_alpha(tf.constant([7, 1], tf.int64), [20_000]))
    assert np.array_equal(sample_seed_pairs(5, 10, 7)[0], sample_seed_pairs(5, 10, 7)[0])


def test_other_signatures_with_dynamic_batch_sizes(exported):
    served, model = exported
    sig = served.signatures
    for n in (1, 6):
        x, y = images(n, 1), images(n, 2)
        latent = sig["encode"](images=tf.constant(x))["latent"].numpy()
        assert latent.shape == (n, LATENT)
        np.testing.assert_allclose(np.linalg.norm(latent, axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(latent, model.encode(x).numpy(), atol=1e-5)
        recon = sig["reconstruct"](images=tf.constant(x))["images"].numpy()
        decoded = sig["decode"](latent=tf.constant(latent))["images"].numpy()
        np.testing.assert_allclose(decoded, recon, atol=1e-5)
        np.testing.assert_allclose(recon, model(x).numpy(), atol=1e-5)
        ends = [sig["interpolate"](images_a=tf.constant(x), images_b=tf.constant(y),
                                   alpha=tf.fill([n], value))["images"].numpy()
                for value in (1.0, 0.0)]
        np.testing.assert_allclose(ends[0], recon, atol=1e-5)  # alpha = 1 is images_a
        np.testing.assert_allclose(ends[1], model(y).numpy(), atol=1e-5)


def test_rest_request_uses_the_columnar_inputs_format():
    body = rest_request_body(np.full((2, SIZE, SIZE, 1), 0.123456, np.float32), num=4, seed=9)
    assert set(body) == {"signature_name", "inputs"} and body["signature_name"] == "generate"
    assert body["inputs"]["num"] == 4 and body["inputs"]["seed"] == 9
    assert body["inputs"]["seed_images"][1][0][0] == [0.123]
    json.dumps(body)  # plain JSON types only


def test_failed_verification_writes_no_version(run_dir, tmp_path, monkeypatch):
    real = verify._keras_reference
    monkeypatch.setattr(verify, "_keras_reference", lambda *args: real(*args) + 1e-3)
    with pytest.raises(RunError, match=r"disagrees .*decode max abs diff 0\.001"):
        export_run(run_dir, tmp_path)
    assert list(tmp_path.iterdir()) == []  # neither a version nor the hidden work directory


def test_user_errors(run_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.yaml").write_text((run_dir / "config.yaml").read_text())
    with pytest.raises(RunError, match="no checkpoint"):
        export_run(empty, tmp_path / "out", verify=False)
    (tmp_path / "file").write_text("")
    with pytest.raises(RunError, match="is a file"):
        export_run(run_dir, tmp_path / "file")
    with pytest.raises(RunError, match=">= 1"):
        export_run(run_dir, tmp_path / "out", version=0)
    (tmp_path / "out" / "7").mkdir(parents=True)
    assert export.next_version(tmp_path / "out") == 8


def test_served_interpolate_and_generate_answer_empty_batches_clearly(exported):
    """An empty interpolate batch is an empty result (it failed at the encoder's convolution);
    generate with no seed image is the K >= 2 message every time (it was a bare shape error in
    one run of two: the encoder ran before the check)."""
    sig = exported[0].signatures
    empty = tf.zeros([0, SIZE, SIZE, 1])
    for alpha in (tf.constant(0.5), tf.zeros([0])):
        out = sig["interpolate"](images_a=empty, images_b=empty, alpha=alpha)["images"]
        assert out.shape == (0, SIZE, SIZE, 1)
    for seeds in [empty] * 20 + [tf.constant(images(1, 0))]:
        assert "generate needs at least 2 seed images (seed_images [K, ...] with K >= 2 of one " \
               "class); got K =" in served_error(sig["generate"], seed_images=seeds,
                                                 num=np.int32(3), seed=np.int64(0))


@pytest.mark.parametrize("error, wanted", [
    (tf.errors.ResourceExhaustedError(None, None, "model/variables.data: No space left on device"),
     "no space left on device while writing the SavedModel to {base}; nothing was exported"),
    (tf.errors.PermissionDeniedError(None, None, "model/saved_model.pb; Read-only file system"),
     "cannot write the SavedModel to {base}: Read-only file system (a read-only model base or "
     "disk); nothing was exported, choose a writable --out")])
def test_export_to_a_full_or_read_only_disk_is_one_line_and_leaves_no_version(
        run_dir, tmp_path, monkeypatch, error, wanted):
    base = tmp_path / "base"

    def fail(self, path, *args, **kwargs):  # TensorFlow's file layer, mid-write
        (Path(path) / "saved_model.pb").parent.mkdir(parents=True, exist_ok=True)
        (Path(path) / "saved_model.pb").write_bytes(b"half")
        raise error

    # ExportArchive() makes an instance of the backend's own class: patch that one.
    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", fail)
    result = CliRunner().invoke(main, ["export", "--run-dir", str(run_dir), "--out", str(base),
                                       "--no-verify"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: " + wanted.format(base=base)
    assert list(base.iterdir()) == []  # neither a version nor the hidden half-written folder


def test_export_to_a_read_only_model_base_fails_before_loading_the_run(run_dir, tmp_path,
                                                                      read_only, monkeypatch):
    base = tmp_path / "base"
    base.mkdir()
    read_only(base)
    monkeypatch.setattr(export, "load_run", lambda *a: pytest.fail("the run was loaded"))
    result = CliRunner().invoke(main, ["export", "--run-dir", str(run_dir), "--out", str(base)])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: cannot write the SavedModel to {base}: Read-only file system (a read-only model "
        "base or disk); nothing was exported, choose a writable --out")
    assert list(base.iterdir()) == []


def test_cli_generate_and_served_generate_give_the_same_images(exported, run_dir):
    served, _ = exported
    seeds = images(4, 7)
    for num in (5, MAX_NUM):  # MAX_NUM > 256: the library decodes in chunks, the server at once
        library = load_run(run_dir).generate(seeds, num=num, seed=12)
        server = served.signatures["generate"](seed_images=tf.constant(seeds), num=tf.constant(num),
                                               seed=tf.constant(12, tf.int64))["images"].numpy()
        assert library.shape == server.shape == (num, SIZE, SIZE, 1)
        assert np.abs(library - server).max() < 1e-5


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_each_sampler_is_served_as_the_library_generates_it(exported, run_dir, sampler):
    served, _ = exported
    seeds, run = images(3, 8), load_run(run_dir)
    signature = served.signatures["generate_" + sampler.replace("-", "_")]
    extra = {"scale": tf.constant(0.8)} if sampler in SCALED_SAMPLERS else {}
    server = signature(seed_images=tf.constant(seeds), num=tf.constant(9),
                       seed=tf.constant(5, tf.int64), **extra)["images"].numpy()
    library = run.generate(seeds, num=9, seed=5, sampler=sampler, scale=0.8 if extra else None)
    assert server.shape == (9, SIZE, SIZE, 1) and np.abs(library - server).max() < 1e-5
    other = run.generate(seeds, num=9, seed=6, sampler=sampler, scale=0.8 if extra else None)
    assert np.abs(library - other).max() > 1e-4  # the seed matters
    if extra:  # the scale reaches the graph, and is checked there
        still = signature(seed_images=tf.constant(seeds), num=tf.constant(9),
                          seed=tf.constant(5, tf.int64), scale=tf.constant(0.0))["images"].numpy()
        assert np.abs(still - server).max() > 1e-4
        assert "scale must be a float32 in [0, 10]" in served_error(
            signature, seed_images=seeds, num=np.int32(2), seed=np.int64(0),
            scale=np.float32(-1))


def served_error(signature, **inputs):
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        signature(**{k: tf.constant(v) for k, v in inputs.items()})
    return info.value.message


def test_served_inputs_are_checked_with_messages_naming_them(exported):
    sig = exported[0].signatures
    seed = np.int64(0)
    assert f"num must be an int32 in [0, {MAX_NUM}]" in served_error(
        sig["generate"], seed_images=images(3, 0), num=np.int32(MAX_NUM + 1), seed=seed)
    assert "num must be" in served_error(sig["generate"], seed_images=images(3, 0),
                                         num=np.int32(-1), seed=seed)
    small = np.zeros((2, 8, 8, 1), np.float32)
    rgb = np.zeros((2, SIZE, SIZE, 3), np.float32)
    for bad in (small, rgb):
        message = served_error(sig["generate"], seed_images=bad, num=np.int32(2), seed=seed)
        assert f"seed_images must have shape [N, {SIZE}, {SIZE}, 1]" in message
        assert f"images must have shape [N, {SIZE}, {SIZE}, 1]" in served_error(
            sig["encode"], images=bad)
    assert "images must hold pixel values in [0, 1]" in served_error(
        sig["reconstruct"], images=images(2, 0) * 255)
    assert f"latent must have shape [N, {LATENT}]" in served_error(
        sig["decode"], latent=np.zeros((2, LATENT + 1), np.float32))
    a, b = images(3, 1), images(3, 2)
    assert "alpha must be a scalar or have one value per pair" in served_error(
        sig["interpolate"], images_a=a, images_b=b, alpha=np.float32([0.5, 0.5]))
    assert "alpha must be in [0, 1]" in served_error(
        sig["interpolate"], images_a=a, images_b=b, alpha=np.float32(1.5))
    # Repeated: the check must win every time (in a loaded suite run it once lost the race to
    # the slerp and a bare shape error came back; it now gates the images too).
    for _ in range(30):
        assert "images_a and images_b must hold the same number" in served_error(
            sig["interpolate"], images_a=a, images_b=b[:2], alpha=np.float32(0.5))
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least 2 seed images"):
        sig["generate"](seed_images=tf.constant(images(1, 0)), num=tf.constant(2),
                        seed=tf.constant(seed))


def test_served_interpolate_takes_a_scalar_or_a_per_pair_alpha(exported):
    served, model = exported
    a, b = images(3, 1), images(3, 2)
    scalar = served.signatures["interpolate"](images_a=tf.constant(a), images_b=tf.constant(b),
                                              alpha=tf.constant(0.3))["images"].numpy()
    per_pair = served.signatures["interpolate"](images_a=tf.constant(a), images_b=tf.constant(b),
                                                alpha=tf.fill([3], 0.3))["images"].numpy()
    np.testing.assert_allclose(scalar, per_pair, atol=1e-6)
    np.testing.assert_allclose(scalar, model.interpolate(a, b, 0.3).numpy(), atol=1e-5)
    assert not np.allclose(scalar, model.interpolate(a, b, 0.7).numpy(), atol=1e-3)


def test_served_rank_errors_empty_batches_and_non_finite_latents(exported):
    """A rank-3 or rank-5 input is named (not a failure comparing [3] with [2] dims), an empty
    batch gives an empty output, a NaN/inf latent is refused."""
    sig, model = exported[0].signatures, exported[1]
    for bad in (np.zeros((SIZE, SIZE, 1), np.float32), np.zeros((2, 1, SIZE, SIZE, 1), np.float32)):
        assert f"seed_images must have shape [N, {SIZE}, {SIZE}, 1] (float32 in [0, 1]); got" in \
            served_error(sig["generate"], seed_images=bad, num=np.int32(2), seed=np.int64(0))
        assert f"images must have shape [N, {SIZE}, {SIZE}, 1]" in served_error(
            sig["reconstruct"], images=bad)
    empty = tf.zeros([0, SIZE, SIZE, 1])
    assert sig["encode"](images=empty)["latent"].shape == (0, LATENT)
    assert sig["reconstruct"](images=empty)["images"].shape == (0, SIZE, SIZE, 1)
    assert sig["decode"](latent=tf.zeros([0, LATENT]))["images"].shape == (0, SIZE, SIZE, 1)
    for value in (np.nan, np.inf):
        latent = np.full((2, LATENT), value, np.float32)
        assert "latent must hold finite values (no NaN or inf)" in served_error(
            sig["decode"], latent=latent)
    one = images(3, 4)  # a non-empty batch still goes through the model unchanged
    np.testing.assert_allclose(sig["encode"](images=tf.constant(one))["latent"].numpy(),
                               model.encode(one).numpy(), atol=1e-5)


def test_a_failed_reload_is_reported_by_its_message_not_by_tensorflows_preamble():
    from augintae_tf.inference.verify import failure_line

    stderr = """Traceback (most recent call last):
  File "<string>", line 19, in <module>
  File "/venv/lib/python3.11/site-packages/tensorflow/python/eager/execute.py", line 53, in quick_execute
    tensors = pywrap_tfe.TFE_Py_Execute(ctx._handle, device_name, op_name,
              ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
tensorflow.python.framework.errors_impl.InvalidArgumentError: Graph execution error:

Detected at node Assert/Assert defined at (most recent call last):
<stack traces unavailable>
assertion failed: [num must be an int32 in [0, 8]; got] [9]
\t [[{{node Assert/Assert}}]] [Op:__inference_signature_wrapper_generate_1253]
"""
    assert failure_line(stderr) == ("InvalidArgumentError: assertion failed: [num must be an int32 "
                                    "in [0, 8]; got] [9]")
    assert failure_line("Traceback (most recent call last):\nOSError: no such file\n") == \
        "OSError: no such file"
    assert failure_line("the SavedModel pulled in augintae_tf\n") == \
        "the SavedModel pulled in augintae_tf"
    assert failure_line("") == "no output"
