"""The shared autoencoder: encode/decode/interpolate, few-shot sampling, the train loop body.

Follows the keras-io GAN example: the encoder and generator are Functional models built separately
and handed to this ``keras.Model``; ``compile()`` takes the optimizer; loss trackers live in the
``metrics`` property so Keras resets them every epoch.  Subclasses only say how a batch becomes a
(prediction, target) pair in :meth:`Autoencoder.training_batch`.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from augintae_tf.augment import augment as augment_images
from augintae_tf.augment import interpolation_batch, sub_seed
from augintae_tf.capabilities import Capability
from augintae_tf.config.choices import SAMPLER_TABLE, SAMPLERS
from augintae_tf.config.model_table import resolve
from augintae_tf.distribute import step_outputs
from augintae_tf.errors import RunError
from augintae_tf.latent import l2_normalize, sample_alpha, sample_latents, sample_seed_pairs, slerp
from augintae_tf.models import latent_stats
from augintae_tf.models.contract import ModelContract, check_optimizer, images_of
from augintae_tf.models.ema import averaged_pair, inference_networks, update_average
from augintae_tf.models.losses import pixel_loss, pixel_mse
from augintae_tf.models.build import ModelSetup
from augintae_tf.nets import build_encoder, build_generator


def encoder_and_generator(setup: ModelSetup, prefix: str = "") -> tuple[keras.Model, keras.Model]:
    """(encoder, generator) for the setup's backbone, image shape, latent size, width and dtype."""
    m = setup.section
    args = (setup.backbone, setup.image_size, setup.channels, m.latent_dim, m.width)
    return (build_encoder(*args, name=f"{prefix}encoder", dtype=setup.dtype),
            build_generator(*args, name=f"{prefix}generator", upsampling=m.upsampling,
                            dtype=setup.dtype))


def partner_offset(batch_size, seed) -> tf.Tensor:
    """A roll offset in [1, B-1]: ``roll(x, offset)`` pairs every example with another one (a
    permutation without fixed points), how IntAE and GAIA pair DIFFERENT images of a batch.  A
    batch of 1 has no partner; it is paired with itself."""
    upper = tf.maximum(tf.cast(batch_size, tf.int32), 2)
    return tf.random.stateless_uniform([], seed=seed, minval=1, maxval=upper, dtype=tf.int32)


def edit_fn(decode, seed_images, latents, first, z):
    """``local-edit``'s rows ``s``: ``clip(x_a + D(z') - D(z_a), 0, 1)``, the seed image itself
    plus the change the decoder makes between the seed's latent and the noisy one, so the seed's
    detail is kept where a decoded image would blur it (its reconstruction ``D(z_a)`` is
    decoded once per seed)."""
    seeds = tf.cast(seed_images, tf.float32)
    recon = decode(latents)

    def rows(s):
        change = decode(z[s]) - tf.gather(recon, first[s])
        return tf.clip_by_value(tf.gather(seeds, first[s]) + change, 0.0, 1.0)

    return rows


class Autoencoder(ModelContract):
    """Encoder + generator with an L2-normalised latent; trains on a pixel L2 loss.

    ``setup`` is the :class:`~augintae_tf.models.build.ModelSetup` (augmentation ranges,
    image shape, seed, the model's config section).
    """

    capabilities = frozenset({Capability.LATENT, Capability.FEWSHOT})
    samplers = SAMPLERS
    stages = ("latent-stats",)  # augintae_tf.models.latent_stats: what the samplers read

    def __init__(self, encoder: keras.Model, generator: keras.Model, setup: ModelSetup, **kwargs):
        super().__init__(dtype=setup.dtype, **kwargs)
        self.encoder = encoder
        self.generator = generator
        self.setup = setup
        self.step_counter = self.add_step_counter()
        self.recon_tracker = keras.metrics.Mean(name="recon_loss")
        # model.ema: an averaged encoder/generator pair for inference (augintae_tf.models.ema),
        # None when off; use_average False: inference on the trained pair (e.g. to score both)
        self.ema_encoder, self.ema_generator, self.weight_average = averaged_pair(
            setup, encoder, generator, encoder_and_generator)
        self.use_average = True

    @property
    def pixel_loss_kind(self) -> str:
        """``model.pixel_loss`` (every Autoencoder's section is an AutoencoderConfig)."""
        return self.setup.section.pixel_loss

    @classmethod
    def from_setup(cls, setup: ModelSetup) -> "Autoencoder":
        return cls(*encoder_and_generator(setup), setup,
                   name=setup.section.name.replace("-", "_"))

    @property
    def generator_variables(self) -> list:
        """What ``optimizer`` trains: the encoder's and the generator's trainable variables (a
        model with a second network trains that with its own optimizer)."""
        return self.encoder.trainable_variables + self.generator.trainable_variables

    def networks(self) -> dict[str, keras.Model]:
        return {"encoder": self.encoder, "generator": self.generator}

    def serving_networks(self) -> dict[str, keras.Model]:
        """The averaged pair under ``model.ema``, else the trained one."""
        encoder, generator = inference_networks(self, training=False)
        return {"encoder": encoder, "generator": generator}

    # --- inference -------------------------------------------------------------------------
    def encode(self, images, training: bool = False) -> tf.Tensor:
        """Images ``[B, H, W, C]`` in [0, 1] -> L2-normalised float32 latents ``[B, D]``
        (the averaged encoder outside training under ``model.ema``)."""
        return l2_normalize(inference_networks(self, training)[0](images, training=training))

    def decode(self, z, training: bool = False) -> tf.Tensor:
        """Latents ``[B, D]`` -> float32 images ``[B, H, W, C]`` in [0, 1] (the averaged
        generator outside training under ``model.ema``)."""
        return tf.cast(inference_networks(self, training)[1](z, training=training), tf.float32)

    def interpolate_latents(self, z_a, z_b, alpha, training: bool = False) -> tf.Tensor:
        """Decode ``slerp(z_a, z_b, alpha)``: the one place latents become interpolated images."""
        return self.decode(slerp(z_a, z_b, alpha), training)

    def interpolate(self, images_a, images_b, alpha, training: bool = False) -> tf.Tensor:
        """Decode the slerp between the two images' latents; alpha (scalar or ``[B]``) = 1 gives
        ``images_a``'s reconstruction, 0 gives ``images_b``'s."""
        return self.interpolate_latents(self.encode(images_a, training),
                                        self.encode(images_b, training), alpha, training)

    def fewshot(self, seed_images, num, seed, batch_size: int | None = None,
                sampler: str | None = None, scale: float | None = None) -> tf.Tensor:
        """``num`` images from the seeds' latents by ``sampler`` (the CLI's, the SavedModel's and
        the evaluation's one implementation).  Its row of the sampler table
        (:data:`~augintae_tf.config.choices.SAMPLER_TABLE`) says what becomes of its draw:
        ``pair`` (``slerp``, the default) decodes each drawn pair through
        :meth:`interpolate_latents`, ``edit`` adds the decoded change to the seed image
        (:func:`edit_fn`), ``latents`` decodes the unit latents of
        :func:`~augintae_tf.latent.sample_latents`, ``images`` (the aug-path samplers) is the
        draw's own images; ``batch_size`` decodes in chunks (eager only)."""
        sampler = self.check_sampler(sampler)
        row, factor = SAMPLER_TABLE[sampler], self.noise_factor(sampler)
        scale = self.setup.section.sampler_scale if scale is None else scale
        latents = self.encode(seed_images)
        if row.output == "images":  # the draw makes the images (models/aug_path.py)
            return resolve(row.draw)(self, seed_images, latents, num, seed, scale, batch_size)
        if row.output == "pair":  # the model's own interpolation of each drawn pair
            first, second, alpha = sample_seed_pairs(tf.shape(seed_images)[0], num, seed,
                                                     row.seeds)
            z_a, z_b = tf.gather(latents, first), tf.gather(latents, second)
            decode = lambda s: self.interpolate_latents(z_a[s], z_b[s], alpha[s])  # noqa: E731
            empty = z_a
        else:
            z = sample_latents(latents, num, seed, sampler, scale, factor)
            empty = z
            if row.output == "edit":
                first = sample_seed_pairs(tf.shape(seed_images)[0], num, seed, min_seeds=1)[0]
                decode = edit_fn(self.decode, seed_images, latents, first, z)
            else:
                decode = lambda s: self.decode(z[s])  # noqa: E731
        if batch_size is None or not tf.executing_eagerly():
            return decode(slice(None))
        parts = [decode(slice(i, i + batch_size)) for i in range(0, int(num), batch_size)]
        return tf.concat(parts, axis=0) if parts else self.decode(empty)

    def noise_factor(self, sampler: str):
        """The latent-stats factor the noisy samplers need (``F F^T = C``, the within samplers'
        ``F F^T = W``), else None; a one-line RunError saying how to compute it when the run has
        none."""
        statistic = SAMPLER_TABLE[sampler].statistic if sampler in SAMPLER_TABLE else None
        if statistic not in ("local", "within"):
            return None
        self.require_statistic(sampler)
        return self.latent_stats.factor if statistic == "local" else self.latent_stats.within_factor

    def flow_lattices(self, sampler: str):
        """The run's bank of deformation lattices ``[P, G, G, 2]`` (:mod:`augintae_tf.models.deform`)
        for ``sampler``; a one-line RunError saying how to compute it when the run has none."""
        self.require_statistic(sampler)
        return self.latent_stats.flow_lattices

    def require_statistic(self, sampler: str) -> None:
        """A one-line RunError unless the run's latent statistics hold what ``sampler`` reads."""
        statistic = SAMPLER_TABLE[sampler].statistic
        if self.latent_stats is None:
            raise RunError(f"--sampler {sampler} needs the run's latent statistics: "
                           f"{self.latent_stats_problem}")
        if not latent_stats.has_statistic(self.latent_stats, statistic):
            raise RunError(f"--sampler {sampler} needs {latent_stats.lacking(statistic)}")

    def compute_latent_stats(self, train_images, train_labels, heldout_images, seed: int):
        """:func:`augintae_tf.models.latent_stats.compute` with the section's
        ``sampler_neighbours`` (sections without it: :data:`~augintae_tf.models.latent_stats.K`)."""
        return latent_stats.compute(
            self, train_images, heldout_images,
            k=getattr(self.setup.section, "sampler_neighbours", latent_stats.K), seed=seed,
            train_labels=train_labels)

    def call(self, images, training: bool = False):
        """Reconstruction: decode(normalised encode(images))."""
        return self.decode(self.encode(images, training), training)

    # --- training --------------------------------------------------------------------------
    def compile(self, optimizer, **kwargs):
        """``optimizer`` is required: Keras' default would silently be RMSprop, not the paper's
        Adam.  Other keyword arguments (``jit_compile``, ``steps_per_execution``, ...) pass through;
        there is no ``loss``: the loss is defined by the model."""
        check_optimizer(optimizer)
        super().compile(optimizer=optimizer, **kwargs)

    @property
    def metrics(self):
        return [self.recon_tracker]

    def build_for_training(self) -> None:
        self.require_compiled()
        self(tf.zeros([2, *self.setup.image_shape]), training=False)
        self.optimizer.build(self.trainable_variables)

    def augment(self, images, seed, index: int) -> tf.Tensor:
        """One random augmentation per image from sub-seed ``index`` of the step seed."""
        return augment_images(images, self.setup.augment, sub_seed(seed, index), compiled=True)

    @property
    def target_kind(self) -> str:
        """``model.target`` (sections without the field: the paper's ``augmentation``)."""
        return getattr(self.setup.section, "target", "augmentation")

    def interpolation_batch(self, images, seed):
        """``(view1, view2, alpha, target)`` of this step under ``model.target``
        (:func:`augintae_tf.augment.interpolation_batch`)."""
        return interpolation_batch(images, self.setup.augment, seed, self.target_kind,
                                   self.alpha_kind, compiled=True)

    @property
    def alpha_kind(self) -> str:
        """``model.alpha`` (sections without the field: the paper's ``midpoint``)."""
        return getattr(self.setup.section, "alpha", "midpoint")

    def alphas(self, images, seed) -> tf.Tensor:
        """Per-example interpolation weights ``[B]`` (sub-seed 0) of ``model.alpha``'s kind."""
        return sample_alpha(sub_seed(seed, 0), tf.shape(images)[:1], self.alpha_kind)

    def training_batch(self, images: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(prediction, target) for one batch of clean images; runs under the gradient tape."""
        raise NotImplementedError

    def train_step(self, data):
        images = images_of(data)
        seed = self.step_seed()
        with tf.GradientTape() as tape:
            prediction, target = self.training_batch(images, seed)
            loss = pixel_loss(prediction, target, self.pixel_loss_kind)
            # apply_gradients SUMS the replicas' gradients, so each replica contributes 1/N of
            # its mean loss; scale_loss is the identity unless this is a LossScaleOptimizer
            # (mixed_float16), which unscales the gradients again inside apply_gradients.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled = self.optimizer.scale_loss(loss / replicas)
        variables = self.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        update_average(self, self.step_counter.value)
        self.step_counter.assign_add(1)
        self.recon_tracker.update_state(loss)
        return self._logs()

    def test_step(self, data):
        """Plain (un-augmented) reconstruction error of held-out images."""
        images = images_of(data)
        self.recon_tracker.update_state(pixel_mse(self(images, training=False), images))
        return self._logs()

    def _logs(self) -> dict[str, tf.Tensor]:
        # "loss" duplicates recon_loss so Keras callbacks that watch (val_)loss by default work.
        recon = self.recon_tracker.result()
        return step_outputs({"recon_loss": recon, "loss": recon})
