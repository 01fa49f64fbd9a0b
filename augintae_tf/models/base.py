"""The shared autoencoder wrapper: encode/decode/interpolate, per-step seeds, the train loop body.

Follows the keras-io GAN example: the encoder and generator are Functional models built separately
and handed to this ``keras.Model``; ``compile()`` takes the optimizer; loss trackers live in the
``metrics`` property so Keras resets them every epoch.  Subclasses only say how a batch becomes a
(prediction, target) pair in :meth:`Autoencoder.training_batch`.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from augintae_tf.augment import augment as augment_images
from augintae_tf.augment import interpolation_batch, sub_seed  # noqa: F401 (sub_seed: re-exported)
from augintae_tf.capabilities import Capability
from augintae_tf.config.schema import TrainConfig
from augintae_tf.distribute import step_outputs
from augintae_tf.errors import RunError
from augintae_tf.config.choices import NOISY_SAMPLERS, SAMPLERS
from augintae_tf.latent import l2_normalize, sample_alpha, sample_latents, sample_seed_pairs, slerp
from augintae_tf.models.averaged import attach_average, inference_networks, update_average
from augintae_tf.models.losses import pixel_loss, pixel_mse
from augintae_tf.models.setup import ModelSetup
from augintae_tf.nets import build_encoder, build_generator


def derive_seed(base_seed: int, step, replica_id) -> tf.Tensor:
    """The shape-[2] int64 RNG seed of one train step on one replica.

    The replica id is folded in because every replica runs the same program: without it all of
    them would draw the same alphas and augmentations and the extra devices would add no variety.
    """
    seed = tf.constant([base_seed, 0], tf.int64)
    seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(step, tf.int64))
    return tf.random.experimental.stateless_fold_in(seed, tf.cast(replica_id, tf.int64))


def encoder_and_generator(setup: ModelSetup, prefix: str = "") -> tuple[keras.Model, keras.Model]:
    """(encoder, generator) for the setup's backbone, image shape, latent size and width."""
    m = setup.section
    args = (setup.backbone, setup.image_size, setup.channels, m.latent_dim, m.width)
    return (build_encoder(*args, name=f"{prefix}encoder"),
            build_generator(*args, name=f"{prefix}generator", upsampling=m.upsampling))


def images_of(data) -> tf.Tensor:
    """Training data may be ``images`` or ``(images, labels)`` batches; labels are ignored."""
    images, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    return tf.cast(images, tf.float32)


class ModelContract(keras.Model):
    """What the code around a model (training, generation, evaluation, export, CLI) relies on.

    A model family subclasses this (usually via :class:`Autoencoder`), registers its class in
    :mod:`augintae_tf.models.registry` (its config section: :mod:`augintae_tf.sections`), and
    declares:

    - ``from_setup(setup)`` (classmethod): the model from a
      :class:`~augintae_tf.models.registry.ModelSetup`;
    - ``optimizer_names`` (the ``compile()`` keywords, one Adam each) and ``lr_policy``;
    - ``build_for_training()``: every variable, optimizers' included, before a checkpoint is
      restored (Keras 3 skips saved state for variables that do not exist yet);
    - ``step_counter``: the RNG step counter (:meth:`add_step_counter`), saved with the weights;
    - ``capabilities`` (:class:`~augintae_tf.capabilities.Capability`): ``LATENT``
      (``encode``/``decode``/``interpolate``/``interpolate_latents``/reconstruction by
      ``call``), ``FEWSHOT`` (``fewshot(seed_images, num, seed)``), ``SAMPLE``
      (``sample(num, seed)``); generation, evaluation and export use exactly these, and export
      writes the signatures they allow; ``reconstructs()`` (``call`` maps images to images: every
      ``LATENT`` model, and wgan-gp through its inversion) and ``reconstruction_variants()``
      (extra reconstructions the generalization study reports) have defaults;
    - ``batches``: ``"images"`` or ``"sets"`` (labelled same-class sets; needs ``set_size`` in
      the config section), which training asks the data layer for;
    - ``networks()`` / ``serving_networks()`` (what ``--dry-run`` counts / export saves),
      ``dry_run_lines()`` and ``extra_plots`` (``{"file.png": metrics keys}``, drawn into
      ``samples/`` after training);
    - optionally ``train_epochs(train)``, ``build_for_inference()`` and post-training ``stages``
      (``run_stage`` writes a stage's own checkpoint in the run, ``load_stages`` restores it).
    """

    capabilities: frozenset[Capability] = frozenset()
    step_counter: tf.Variable  # created in __init__ by add_step_counter()
    # What training feeds train_step: "images" (batches of images, labels ignored) or "sets"
    # (``(images [B, set_size, S, S, C], labels [B])``, same-class sets of distinct images from
    # :func:`augintae_tf.data.make_set_dataset`; the config section's ``set_size`` field says how
    # many, and a batch holds ``train.batch_size // set_size`` sets).
    batches: str = "images"
    optimizer_names: tuple[str, ...] = ("optimizer",)
    extra_plots: dict[str, tuple[str, ...]] = {}
    stages: tuple[str, ...] = ()  # what runs after fit, in order (e.g. wgan-gp's "inversion")
    # Few-shot samplers (augintae_tf.latent.SAMPLERS) the model's ``fewshot`` takes, its default
    # first; () for a model with one way of its own (DAGAN, the Neural Statistician).
    samplers: tuple[str, ...] = ()

    @classmethod
    def from_setup(cls, setup: ModelSetup) -> "ModelContract":
        raise NotImplementedError

    @classmethod
    def lr_policy(cls, train: TrainConfig, steps: int):
        """Adam's lr: divided by 10 at each fraction in ``train.lr_drops`` of the run (epochs 35
        and 70 of 100); ``steps`` per epoch.  Adversarial models override it (constant)."""
        if not train.lr_drops:
            return train.lr
        total = train.steps or train.epochs * steps  # a step budget is the run's exact length
        boundaries = [max(1, int(round(f * total))) for f in sorted(train.lr_drops)]
        values = [train.lr * 0.1 ** i for i in range(len(boundaries) + 1)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)

    def optimizer_options(self) -> dict:
        """Extra keyword arguments of every Adam (e.g. ``beta_1``); default: Keras' values."""
        return {}

    def build_for_inference(self) -> None:
        """Create the variables inference needs before weights are loaded (images in, by
        default; a sample-only model overrides it)."""
        self(tf.zeros([1, *self.setup.image_shape]), training=False)

    def train_epochs(self, train: TrainConfig) -> int:
        """Epochs ``fit`` runs for ``train`` (a model may train longer, e.g. wgan-gp twice)."""
        return train.epochs

    def run_stage(self, name: str, run_dir, cfg, echo) -> None:
        """Run post-training stage ``name`` (one of :attr:`stages`) on the trained model; it
        writes its own checkpoint inside ``run_dir``."""
        raise NotImplementedError(f"{type(self).__name__} has no stage {name!r}")

    def load_stages(self, run_dir, warn=None, checkpoint=None) -> None:
        """Restore what the stages saved in ``run_dir`` (called by ``runs.load_run``; ``checkpoint``
        is the checkpoint directory the model's weights came from)."""

    def add_step_counter(self):
        """The model's RNG step counter ``rng_step``: a model variable (not a Python int) so it
        is saved with the weights and a resumed run continues the RNG streams instead of
        replaying step 0's draws.  Every replica adds 1 per step; "only_first_replica" keeps one
        increment, not N."""
        return self.add_weight(
            name="rng_step", shape=(), dtype="int64", initializer="zeros", trainable=False,
            aggregation="only_first_replica")

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Skip Keras' pre-fit symbolic build when there is nothing left to build.

        Under a strategy, Keras 3 (3.15) first all-reduces a distributed input batch just to read
        its shapes; under MultiWorkerMirroredStrategy with more than one worker that reduce fails
        on any structured batch ("Attempt to convert a value (PerReplica ...)",
        keras-team/keras#20585), so multi-worker ``fit`` never starts.  These models have no
        compiled loss or metrics, so once their layers and optimizers are built (as
        ``build_for_training`` leaves them) Keras' own build would do nothing.
        """
        optimizers = self.optimizers().values()
        if all(layer.built for layer in self._flatten_layers()) and \
                all(opt is not None and opt.built for opt in optimizers):
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def step_seed(self) -> tf.Tensor:
        """This step's seed on this replica (see :func:`derive_seed`)."""
        context = tf.distribute.get_replica_context()
        replica = context.replica_id_in_sync_group if context is not None else 0
        return derive_seed(self.setup.seed, self.step_counter.value, replica)

    def optimizers(self) -> dict[str, keras.optimizers.Optimizer]:
        """The compiled optimizers by ``optimizer_names`` (what a checkpoint stores); ``None`` for
        each before ``compile()`` (a model loaded for inference)."""
        return {name: getattr(self, name, None) for name in self.optimizer_names}

    def has(self, capability: Capability | str) -> bool:
        return capability in self.capabilities

    def optimizers_ready(self) -> bool:
        """Whether ``compile()`` gave the model every optimizer of ``optimizer_names``."""
        return all(opt is not None for opt in self.optimizers().values())

    def build_for_training(self) -> None:
        """Create every variable (model and optimizers) before restoring a checkpoint.

        Keras 3 creates optimizer slots lazily at the first update and silently skips saved state
        for variables that do not exist yet, so call this after ``compile()`` and before loading.
        """
        raise NotImplementedError(f"{type(self).__name__} must define build_for_training()")

    def require_compiled(self) -> None:
        if not self.optimizers_ready():
            raise ValueError("build_for_training() needs a compiled model: call compile() first")

    def reconstructs(self) -> bool:
        """Whether ``call(images)`` returns reconstructions (``generation.reconstruct``)."""
        return self.has(Capability.LATENT)

    def reconstruction_variants(self) -> dict:
        """``{suffix: images -> images}``: reconstructions besides ``call``'s that the
        generalization study reports (wgan-gp: the inversion network without refinement)."""
        return {}

    def networks(self) -> dict[str, keras.Model]:
        """Every network (``--dry-run`` counts their parameters)."""
        return self.serving_networks()

    def serving_networks(self) -> dict[str, keras.Model]:
        """The networks inference uses (what an export saves)."""
        return {}

    def dry_run_lines(self) -> list[str]:
        counts = {name: net.count_params() for name, net in self.networks().items()}
        return ([f"{name}: {n:,} parameters" for name, n in counts.items()]
                + [f"total: {sum(counts.values()):,} parameters"])

    def fewshot(self, seed_images, num, seed, batch_size: int | None = None,
                sampler: str | None = None, scale: float | None = None) -> tf.Tensor:
        """``num`` images of the seeds' class (capability ``FEWSHOT``); ``sampler`` one of
        :attr:`samplers` (None: :meth:`default_sampler`), ``scale`` the noise scale of the noisy
        samplers (None: the config section's ``sampler_scale``)."""
        raise NotImplementedError(f"{type(self).__name__} has no few-shot generation")

    def default_sampler(self) -> str:
        """The config section's ``sampler`` when this model has it, else its first sampler; a
        noisy sampler without the run's latent statistics (a run still training, or trained
        before the stage existed) falls back to ``slerp`` (:meth:`sampler_note` says so)."""
        wanted = getattr(self.setup.section, "sampler", None)
        if wanted not in self.samplers:
            return self.samplers[0]
        if wanted in NOISY_SAMPLERS and getattr(self, "latent_stats", None) is None:
            return "slerp"
        return wanted

    def sampler_note(self) -> str | None:
        """One line when :meth:`default_sampler` falls back from the run's sampler, else None."""
        wanted = getattr(self.setup.section, "sampler", None)
        if wanted in self.samplers and self.default_sampler() != wanted:
            return (f"the run's sampler {wanted} needs its latent statistics "
                    f"({getattr(self, 'latent_stats_problem', '')}); generating with slerp")
        return None

    def check_sampler(self, sampler: str | None) -> str:
        """``sampler`` (None: the model's first) if this model has it, else a one-line RunError."""
        if not self.samplers:
            if sampler is None:
                return ""
            raise RunError(f"model {self.name} generates from its seeds in one way only; "
                           f"--sampler {sampler} is for latent models (ae, augintae, intae, ...)")
        sampler = self.default_sampler() if sampler is None else sampler
        if sampler not in self.samplers:
            raise RunError(f"--sampler {sampler}: model {self.name} has the samplers "
                           f"{', '.join(self.samplers)}")
        return sampler

    def sample(self, num, seed) -> tf.Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no unconditional sampling")


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

    ``setup`` is the :class:`~augintae_tf.models.registry.ModelSetup` (augmentation ranges,
    image shape, seed, the model's config section).
    """

    capabilities = frozenset({Capability.LATENT, Capability.FEWSHOT})
    samplers = SAMPLERS
    stages = ("latent-stats",)  # augintae_tf.latent_stats: the local samplers' covariance

    def __init__(self, encoder: keras.Model, generator: keras.Model, setup: ModelSetup, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.generator = generator
        self.setup = setup
        self.step_counter = self.add_step_counter()
        self.recon_tracker = keras.metrics.Mean(name="recon_loss")
        self.latent_stats = None  # the latent-stats stage's LatentStats, once computed or loaded
        self.latent_stats_problem = "the latent statistics have not been computed"
        # model.ema: an averaged encoder/generator pair for inference (models/averaged.py)
        attach_average(self, encoder_and_generator)

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
        """``num`` images from the seeds' latents by ``sampler``
        (:func:`~augintae_tf.latent.sample_latents`; the CLI's, the SavedModel's and the
        evaluation's one implementation).  ``slerp`` (the default) decodes through
        :meth:`interpolate_latents`, the others decode their unit latents; ``batch_size`` decodes
        in chunks (eager only)."""
        sampler = self.check_sampler(sampler)
        scale = self.setup.section.sampler_scale if scale is None else scale
        latents = self.encode(seed_images)
        if sampler == "slerp":
            first, second, alpha = sample_seed_pairs(tf.shape(seed_images)[0], num, seed)
            z_a, z_b = tf.gather(latents, first), tf.gather(latents, second)
            decode = lambda s: self.interpolate_latents(z_a[s], z_b[s], alpha[s])  # noqa: E731
            empty = z_a
        elif sampler == "local-edit":
            z = sample_latents(latents, num, seed, sampler, scale, self.noise_factor(sampler))
            first = sample_seed_pairs(tf.shape(seed_images)[0], num, seed)[0]
            edits = edit_fn(self.decode, seed_images, latents, first, z)
            decode, empty = edits, z
        else:
            z = sample_latents(latents, num, seed, sampler, scale, self.noise_factor(sampler))
            decode = lambda s: self.decode(z[s])  # noqa: E731
            empty = z
        if batch_size is None or not tf.executing_eagerly():
            return decode(slice(None))
        parts = [decode(slice(i, i + batch_size)) for i in range(0, int(num), batch_size)]
        return tf.concat(parts, axis=0) if parts else self.decode(empty)

    def noise_factor(self, sampler: str):
        """The latent-stats factor ``F`` (``F F^T = C``) the noisy samplers need, else None; a
        one-line RunError saying how to compute it when the run has none."""
        if sampler not in NOISY_SAMPLERS:
            return None
        if self.latent_stats is None:
            raise RunError(f"--sampler {sampler} needs the run's latent statistics: "
                           f"{self.latent_stats_problem}")
        return self.latent_stats.factor

    def run_stage(self, name: str, run_dir, cfg, echo) -> None:
        if name != "latent-stats":
            super().run_stage(name, run_dir, cfg, echo)
            return
        from augintae_tf import latent_stats

        latent_stats.run_stage(self, run_dir, cfg, echo)

    def load_stages(self, run_dir, warn=None, checkpoint=None) -> None:
        """The latent statistics of ``checkpoint`` (a missing or stale one leaves
        :attr:`latent_stats` None and says why in :attr:`latent_stats_problem`)."""
        if checkpoint is None:
            return
        from augintae_tf import latent_stats

        self.latent_stats, problem = latent_stats.load(
            run_dir, checkpoint, getattr(self, "checkpoint_digest", None))
        self.latent_stats_problem = problem or ""

    def call(self, images, training: bool = False):
        """Reconstruction: decode(normalised encode(images))."""
        return self.decode(self.encode(images, training), training)

    # --- training --------------------------------------------------------------------------
    def compile(self, optimizer, **kwargs):
        """``optimizer`` is required: Keras' default would silently be RMSprop, not the paper's
        Adam.  Other keyword arguments (``jit_compile``, ``steps_per_execution``, ...) pass through;
        there is no ``loss``: the loss is defined by the model."""
        if optimizer is None or isinstance(optimizer, str):
            raise ValueError("compile() needs an optimizer instance, e.g. keras.optimizers.Adam(1e-3)")
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

