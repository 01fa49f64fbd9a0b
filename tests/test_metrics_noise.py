"""Noise-frequency analysis (appendix A.4): the noise, the error curve, the plot."""
import numpy as np
import pytest

from augintae_tf.evaluation.figures import plot_noise_curve
from augintae_tf.metrics.noise import frequency_noise, noise_reconstruction_curve, reconstruction_error


def identity(images):
    return images


def zeros(images):
    return np.zeros_like(images)


def test_frequency_one_is_constant_per_image_and_channel():
    noise = frequency_noise(0, n=4, frequency=1, image_size=28, channels=3)
    assert noise.shape == (4, 28, 28, 3) and noise.dtype == np.float32
    np.testing.assert_array_equal(noise, np.broadcast_to(noise[:, :1, :1, :], noise.shape))
    assert len(np.unique(noise[:, 0, 0, :])) == 12  # but different across images and channels


@pytest.mark.parametrize("frequency, size", [(2, 28), (4, 28), (7, 28), (14, 28), (28, 28), (8, 64)])
def test_divisible_frequency_has_exactly_f_by_f_constant_blocks(frequency, size):
    noise = frequency_noise(3, n=2, frequency=frequency, image_size=size, channels=1)
    block = size // frequency
    cells = noise.reshape(2, frequency, block, frequency, block, 1)
    np.testing.assert_array_equal(cells, np.broadcast_to(cells[:, :, :1, :, :1], cells.shape))
    assert len(np.unique(noise[0])) == frequency * frequency


def test_non_divisible_frequency_uses_nearest_blocks():
    noise = frequency_noise(1, n=1, frequency=5, image_size=28, channels=1)[0, :, :, 0]
    widths = np.diff(np.flatnonzero(np.diff(noise[0]) != 0))
    assert set(widths) <= {5, 6} and len(np.unique(noise)) == 25


def test_noise_range_and_determinism():
    a = frequency_noise(7, n=8, frequency=6, image_size=28, channels=1)
    assert a.min() >= 0.0 and a.max() < 1.0
    np.testing.assert_array_equal(a, frequency_noise(7, n=8, frequency=6, image_size=28, channels=1))
    assert not np.array_equal(a, frequency_noise(8, n=8, frequency=6, image_size=28, channels=1))
    with pytest.raises(ValueError, match="frequency"):
        frequency_noise(0, n=1, frequency=29, image_size=28, channels=1)


def test_curve_of_identity_is_zero_and_of_zero_model_is_one_third():
    frequencies = [1, 2, 7, 14, 28]
    curve = noise_reconstruction_curve(identity, 28, 1, frequencies, trials=20)
    assert curve == {f: 0.0 for f in frequencies}
    curve = noise_reconstruction_curve(zeros, 28, 1, frequencies, trials=400, batch_size=128)
    assert list(curve) == frequencies
    # E[u^2] = 1/3 for u ~ U(0, 1); low frequencies have few independent values per image, so the
    # tolerance is loosest there (f=1: 400 values, standard error ~0.015).
    for f, error in curve.items():
        assert error == pytest.approx(1 / 3, abs=0.05 if f == 1 else 0.01)


def test_curve_defaults_to_every_frequency_and_ignores_batch_size():
    curve = noise_reconstruction_curve(zeros, 8, 3, trials=10, batch_size=4)
    assert list(curve) == list(range(1, 9))
    assert noise_reconstruction_curve(zeros, 8, 3, trials=10, batch_size=10) == pytest.approx(curve)


def test_reconstruction_error_is_mse_per_pixel():
    images = np.full((5, 4, 4, 1), 0.5, np.float32)
    assert reconstruction_error(zeros, images, batch_size=2) == pytest.approx(0.25)
    assert reconstruction_error(identity, images) == 0.0


def test_plot_writes_png_atomically(tmp_path):
    curves = {"MNIST": {1: 0.2, 2: 0.1, 3: 0.15}, "Omniglot": {1: 0.25, 2: 0.12, 3: 0.1}}
    path = plot_noise_curve(curves, {"MNIST": 0.02, "EMNIST letters": 0.03}, tmp_path / "plots" / "noise.png",
                            title="noise")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["noise.png"]
