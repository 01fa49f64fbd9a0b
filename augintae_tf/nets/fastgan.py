"""FastGAN's networks (Liu et al., ICLR 2021, "Towards faster and stabilized GAN training for
high-fidelity few-shot image synthesis"), written for this project from the paper and the
Pegasus report; layer details the text omits follow github:odegeasslbc/FastGAN-pytorch
(models.py: InitLayer, UpBlock/UpBlockComp, SEBlock, DownBlockComp, SimpleDecoder).

Generator: noise ``[B, D]`` -> 4x4 (transposed conv + BN + GLU) -> nearest-upsampling blocks to
the image size; the "comp" blocks (at 8, 32, 128, 512) have two convs and noise injection.  A
Skip-Layer Excitation (:class:`SkipLayerExcitation`) gates the 64, 128, 256 px maps by the 4, 8,
16 px ones (the pairs of the paper).  Output: conv3x3 + tanh, in [-1, 1].

Discriminator: conv stem at the image size (stride 2 first above 128 px), residual downsampling
blocks (``main`` conv4x4 s2 + conv3x3, ``direct`` avg-pool + conv1x1, averaged) down to 8x8, SLE
from each map 8x its resolution, and a real/fake head (conv1x1, BN, LeakyReLU, conv4x4 valid)
giving a 5x5 map of logits.  It also returns its 16x16 and 8x8 feature maps for the two
self-supervision decoders (:func:`build_decoder`: three upsampling blocks and a conv to 64x64).

Differences from FastGAN-pytorch (ours): one discriminator input resolution (no extra 128 px
copy of each image); noise injection only while training (sampling must be a deterministic
function of the noise for ``sample(num, seed)`` and the SavedModel); spectral normalisation is a
switch (``model.spectral_norm``, on by default as in FastGAN); channel counts scale with
``model.width``.
"""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

G_MULT = {4: 16, 8: 8, 16: 4, 32: 2, 64: 2, 128: 1, 256: 0.5}  # FastGAN's nfc_multi, x ngf=64
D_MULT = {256: 0.5, 128: 1, 64: 2, 32: 4, 16: 8, 8: 16}
DECODER_SIZE = 64  # 8x8 features, three x2 upsampling blocks


def channels(mult: dict, resolution: int, width: float) -> int:
    return max(4, int(round(mult[resolution] * 64 * width)))


def _conv3x3_matmul_filter_gradient(x, kernel):
    """A stride-1 SAME convolution whose kernel gradient is one matrix product:
    ``dW = patches(x)^T dY`` (patches ``[B*H*W, kh*kw*C_in]``, dY ``[B*H*W, C_out]``), the same sum
    ``Conv2DBackpropFilter`` computes, in another order (equal up to float32 round-off).  Why: at
    FastGAN's batch 8 oneDNN's backward-weights kernel reaches a fraction of its forward speed on
    the 64x64 and 8x8x1024 3x3 layers, while one GEMM of the same FLOPs runs near matmul speed
    (benchmarks/RESULTS.md, "Every model against its FLOP bound").  The input gradient and the
    forward are TensorFlow's own ops."""
    @tf.custom_gradient
    def op(x, kernel):
        def grad(dy):
            kh, kw, c_in, c_out = kernel.shape
            dx = tf.raw_ops.Conv2DBackpropInput(input_sizes=tf.shape(x), filter=kernel,
                                                out_backprop=dy, strides=[1, 1, 1, 1],
                                                padding="SAME")
            patches = tf.image.extract_patches(x, [1, kh, kw, 1], [1, 1, 1, 1], [1, 1, 1, 1],
                                               "SAME")
            dw = tf.matmul(tf.reshape(patches, [-1, kh * kw * c_in]), tf.reshape(dy, [-1, c_out]),
                           transpose_a=True)
            return dx, tf.reshape(dw, kernel.shape)
        return tf.nn.conv2d(x, kernel, 1, "SAME"), grad
    return op(x, kernel)


_GPU = bool(tf.config.list_physical_devices("GPU"))


@keras.saving.register_keras_serializable(package="augintae_tf")
class Conv2D(layers.Conv2D):
    """Keras' Conv2D; on a CPU, float32 stride-1 'same' 3x3 convolutions take
    :func:`_conv3x3_matmul_filter_gradient` (same weights and forward; the class keeps Keras'
    name, which Keras keys saved weights and automatic layer names by)."""

    def convolution_op(self, inputs, kernel):
        if tuple(self.kernel_size) == (3, 3) and tuple(self.strides) == (1, 1) \
                and self.padding == "same" and tuple(self.dilation_rate) == (1, 1) \
                and self.groups == 1 and self.data_format == "channels_last" \
                and inputs.dtype == tf.float32 and kernel.dtype == tf.float32 \
                and not _GPU:  # measured on CPUs only: cuDNN's backward-filter is another story
            return _conv3x3_matmul_filter_gradient(inputs, tf.convert_to_tensor(kernel))
        return super().convolution_op(inputs, kernel)


def conv(filters: int, kernel: int, strides: int = 1, padding: str = "same", sn: bool = True,
         use_bias: bool = False, name: str | None = None, dtype="float32") -> layers.Layer:
    layer = Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=use_bias, name=name,
                   dtype=dtype)
    return layers.SpectralNormalization(layer, dtype=dtype) if sn else layer


class GLU(layers.Layer):
    """Gated linear unit over channels: ``a * sigmoid(b)`` for the two channel halves."""

    def call(self, x):
        a, b = keras.ops.split(x, 2, axis=-1)
        return a * keras.ops.sigmoid(b)

    def compute_output_shape(self, shape):
        return (*shape[:-1], shape[-1] // 2)


class NoiseInjection(layers.Layer):
    """``x + w * n`` with n ~ N(0, 1) per pixel (shared over channels) and a learned scalar w
    (starting at 0), only while training (module docstring)."""

    def __init__(self, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, shape):
        self.weight = self.add_weight(name="weight", shape=(), initializer="zeros")

    def call(self, x, training=False):
        if not training:
            return x
        shape = keras.ops.shape(x)
        noise = keras.random.normal((shape[0], shape[1], shape[2], 1), seed=self.seed_generator,
                                    dtype=x.dtype)
        return x + keras.ops.cast(self.weight, x.dtype) * noise


class SkipLayerExcitation(layers.Layer):
    """SLE: ``high * gate(low)``, gate = sigmoid(conv1x1(LeakyReLU(conv4x4(avgpool4(low)))))
    per channel, in (0, 1); ``low`` is a low-resolution map, ``high`` a high-resolution one."""

    def __init__(self, out_channels: int, sn: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.out_channels = out_channels
        dtype = self.dtype_policy  # the sub-layers compute in the layer's own dtype
        self.conv1 = conv(out_channels, 4, padding="valid", sn=sn, use_bias=True, dtype=dtype)
        self.act = layers.LeakyReLU(0.1, dtype=dtype)
        self.conv2 = conv(out_channels, 1, sn=sn, use_bias=True, dtype=dtype)

    def build(self, shapes):
        low, _ = shapes
        self.pool = max(1, low[1] // 4)  # adaptive average pooling to 4x4
        self.conv1.build((low[0], 4, 4, low[3]))
        self.conv2.build((low[0], 1, 1, self.out_channels))

    def gate(self, low, training=False):
        """``[B, 1, 1, C_high]`` in (0, 1)."""
        pooled = keras.ops.average_pool(low, self.pool, self.pool, padding="valid") \
            if self.pool > 1 else low
        return keras.ops.sigmoid(self.conv2(self.act(self.conv1(pooled, training=training)),
                                            training=training))

    def call(self, inputs, training=False):
        low, high = inputs
        return high * keras.ops.cast(self.gate(low, training), high.dtype)

    def compute_output_shape(self, shapes):
        return shapes[1]


def up_block(x, filters: int, comp: bool, sn: bool, name: str, dtype: str = "float32"):
    """Nearest x2, conv3x3 to 2*filters, (noise), BN, GLU; ``comp`` repeats conv..GLU once."""
    x = layers.UpSampling2D(2, name=f"{name}_up", dtype=dtype)(x)
    for i in range(2 if comp else 1):
        x = conv(filters * 2, 3, sn=sn, name=f"{name}_conv{i}", dtype=dtype)(x)
        if comp:
            x = NoiseInjection(name=f"{name}_noise{i}", dtype=dtype)(x)
        x = layers.BatchNormalization(name=f"{name}_bn{i}", dtype=dtype)(x)
        x = GLU(name=f"{name}_glu{i}", dtype=dtype)(x)
    return x


def build_fastgan_generator(image_size: int, image_channels: int, noise_dim: int, width: float,
                            sn: bool = True, name: str = "generator",
                            dtype: str = "float32") -> keras.Model:
    """noise ``[B, noise_dim]`` -> images ``[B, S, S, C]`` in [-1, 1] (float32 output)."""
    z = keras.Input((noise_dim,), name="noise")
    x = layers.Reshape((1, 1, noise_dim), dtype=dtype)(z)
    deconv = layers.Conv2DTranspose(channels(G_MULT, 4, width) * 2, 4, padding="valid",
                                    use_bias=False, name="init_deconv", dtype=dtype)
    x = (layers.SpectralNormalization(deconv, dtype=dtype) if sn else deconv)(x)
    x = GLU(name="init_glu", dtype=dtype)(layers.BatchNormalization(name="init_bn",
                                                                     dtype=dtype)(x))
    feats, r = {4: x}, 4
    while r < image_size:
        r *= 2
        x = up_block(x, channels(G_MULT, r, width), comp=r in (8, 32, 128, 512), sn=sn,
                     name=f"up{r}", dtype=dtype)
        if r >= 64 and r // 16 in feats:
            x = SkipLayerExcitation(channels(G_MULT, r, width), sn=sn, name=f"sle{r // 16}_{r}",
                                    dtype=dtype)([feats[r // 16], x])
        feats[r] = x
    x = conv(image_channels, 3, sn=sn, use_bias=True, name="to_image", dtype=dtype)(x)
    out = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(z, out, name=name)


def down_block(x, filters: int, sn: bool, name: str, dtype: str = "float32"):
    """Residual x1/2: (conv4x4 s2, BN, LReLU, conv3x3, BN, LReLU + avgpool, conv1x1, BN, LReLU)/2."""
    def bn_lrelu(h, index):
        h = layers.BatchNormalization(name=f"{name}_bn{index}", dtype=dtype)(h)
        return layers.LeakyReLU(0.2, dtype=dtype)(h)

    main = bn_lrelu(conv(filters, 4, strides=2, sn=sn, name=f"{name}_conv0", dtype=dtype)(x), 0)
    main = bn_lrelu(conv(filters, 3, sn=sn, name=f"{name}_conv1", dtype=dtype)(main), 1)
    direct = layers.AveragePooling2D(2, dtype=dtype)(x)
    direct = bn_lrelu(conv(filters, 1, sn=sn, name=f"{name}_direct", dtype=dtype)(direct), 2)
    return layers.Rescaling(0.5, dtype=dtype)(layers.Add(dtype=dtype)([main, direct]))


def build_fastgan_discriminator(image_size: int, image_channels: int, width: float,
                                sn: bool = True, name: str = "discriminator",
                                dtype: str = "float32") -> keras.Model:
    """images ``[B, S, S, C]`` in [-1, 1] -> (logits ``[B, 5, 5, 1]``, 16x16 map, 8x8 map)."""
    images = keras.Input((image_size, image_size, image_channels), name="images")
    r = image_size // 2 if image_size > 128 else image_size
    x = conv(channels(D_MULT, r, width), 4 if r < image_size else 3, strides=image_size // r,
             sn=sn, use_bias=True, name="stem", dtype=dtype)(images)
    x = layers.LeakyReLU(0.2, dtype=dtype)(x)
    feats = {r: x}
    while r > 8:
        r //= 2
        x = down_block(x, channels(D_MULT, r, width), sn, name=f"down{r}", dtype=dtype)
        if 8 * r in feats:
            x = SkipLayerExcitation(channels(D_MULT, r, width), sn=sn, name=f"sle{8 * r}_{r}",
                                    dtype=dtype)([feats[8 * r], x])
        feats[r] = x
    h = conv(channels(D_MULT, 8, width) * 4, 1, sn=sn, name="head_conv", dtype=dtype)(x)
    h = layers.LeakyReLU(0.2, dtype=dtype)(layers.BatchNormalization(name="head_bn",
                                                                      dtype=dtype)(h))
    logits = conv(1, 4, padding="valid", sn=sn, use_bias=True, name="logits", dtype=dtype)(h)
    logits = layers.Activation("linear", dtype="float32", name="logits_f32")(logits)
    return keras.Model(images, [logits, feats[16], feats[8]], name=name)


def build_decoder(in_channels: int, image_channels: int, width: float, sn: bool = True,
                  name: str = "decoder", dtype: str = "float32") -> keras.Model:
    """8x8 feature map -> 64x64 image in [-1, 1]: three (nearest x2, conv3x3, BN, GLU) blocks and
    conv3x3 + tanh (FastGAN's SimpleDecoder, one block fewer)."""
    feats = keras.Input((8, 8, in_channels), name="features")
    x = feats
    for r in (16, 32, 64):
        x = up_block(x, channels(G_MULT, r, width) * (2 if r == 64 else 1), comp=False, sn=sn,
                     name=f"{name}_up{r}", dtype=dtype)
    x = conv(image_channels, 3, sn=sn, use_bias=True, name=f"{name}_out", dtype=dtype)(x)
    return keras.Model(feats, layers.Activation("tanh", dtype="float32")(x), name=name)
