"""Backbone shapes, output range/dtype, the discriminator form and size checks."""
import numpy as np
import pytest
import tensorflow as tf

from augintae_tf.nets import build_encoder, build_generator

# Paper-size networks (encoder, generator): a change here must be deliberate.
PARAMS = {
    ("infogan", 28, 1, 32): (6_592_096, 6_616_833),
    ("dcgan", 64, 3, 512): (6_954_048, 6_984_451),
    ("dcgan128", 128, 3, 512): (6_985_504, 7_015_811),
}


@pytest.mark.parametrize("backbone,size,channels,latent", list(PARAMS))
def test_paper_size_shapes_and_parameter_counts(backbone, size, channels, latent):
    encoder = build_encoder(backbone, size, channels, latent)
    generator = build_generator(backbone, size, channels, latent)
    assert encoder.output_shape == (None, latent)
    assert generator.output_shape == (None, size, size, channels)
    assert (encoder.count_params(), generator.count_params()) == PARAMS[(backbone, size, channels,
                                                                         latent)]
    assert build_encoder(backbone, size, channels, 1, name="discriminator").output_shape == (None, 1)


def test_infogan_28_forward_pass():
    encoder, generator = build_encoder("infogan", 28, 1, 32), build_generator("infogan", 28, 1, 32)
    z = encoder(tf.random.uniform([2, 28, 28, 1]))
    assert z.shape == (2, 32)
    assert generator(z).shape == (2, 28, 28, 1)


@pytest.mark.parametrize("backbone,size", [("infogan", 12), ("infogan", 8), ("dcgan", 16),
                                           ("dcgan128", 32)])
def test_tiny_networks_run_and_decode_into_unit_range(backbone, size):
    encoder = build_encoder(backbone, size, 3, 8, width=0.125)
    generator = build_generator(backbone, size, 3, 8, width=0.125)
    z = encoder(tf.random.uniform([4, size, size, 3]), training=True)
    images = generator(100.0 * tf.random.normal([4, 8]), training=False).numpy()
    assert z.shape == (4, 8) and images.shape == (4, size, size, 3)
    assert images.dtype == np.float32 and images.min() >= 0.0 and images.max() <= 1.0
    assert build_encoder(backbone, size, 3, 1, width=0.125)(tf.zeros([2, size, size, 3])).shape == (2, 1)


def test_outputs_stay_float32_under_mixed_precision():
    encoder = build_encoder("infogan", 8, 1, 4, width=0.125, dtype="mixed_float16")
    generator = build_generator("infogan", 8, 1, 4, width=0.125, dtype="mixed_float16")
    assert encoder.layers[1].compute_dtype == "float16"  # the body does run in half precision
    assert encoder(tf.zeros([2, 8, 8, 1])).dtype == tf.float32
    assert generator(tf.zeros([2, 4])).dtype == tf.float32


def test_bad_sizes_and_names_are_rejected():
    with pytest.raises(ValueError, match="divisible by 4"):
        build_encoder("infogan", 30, 1, 8)
    with pytest.raises(ValueError, match="divisible by 16"):
        build_generator("dcgan", 40, 3, 8)
    with pytest.raises(ValueError, match="unknown"):
        build_encoder("auto", 28, 1, 8)
