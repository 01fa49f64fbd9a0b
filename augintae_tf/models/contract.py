"""What the code around a model (training, generation, evaluation, export, CLI) relies on:
:class:`ModelContract`, the per-step seeds (:func:`derive_seed`) and the small conventions every
model family shares (the training batch's images, a compiled optimizer's check).
"""
from __future__ import annotations

import keras
import tensorflow as tf

from augintae_tf.capabilities import Capability
from augintae_tf.config.choices import SAMPLER_TABLE
from augintae_tf.config.schema import TrainConfig
from augintae_tf.errors import RunError
from augintae_tf.models.build import ModelSetup
from augintae_tf.models.latent_stats import has_statistic, lacking


def derive_seed(base_seed: int, step, replica_id) -> tf.Tensor:
    """The shape-[2] int64 RNG seed of one train step on one replica.

    The replica id is folded in because every replica runs the same program: without it all of
    them would draw the same alphas and augmentations and the extra devices would add no variety.
    """
    seed = tf.constant([base_seed, 0], tf.int64)
    seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(step, tf.int64))
    return tf.random.experimental.stateless_fold_in(seed, tf.cast(replica_id, tf.int64))


def images_of(data) -> tf.Tensor:
    """Training data may be ``images`` or ``(images, labels)`` batches; labels are ignored."""
    images, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    return tf.cast(images, tf.float32)


def check_optimizer(optimizer, name: str = "optimizer") -> None:
    """``compile()``'s check of one optimizer argument: an instance, never ``None`` or a string
    (Keras' default would silently be RMSprop, not the paper's Adam)."""
    if optimizer is None or isinstance(optimizer, str):
        raise ValueError(f"compile() needs {name} as an optimizer instance, e.g. "
                         "keras.optimizers.Adam(1e-3)")


class ModelContract(keras.Model):
    """What the code around a model (training, generation, evaluation, export, CLI) relies on.

    A model family subclasses this (usually via
    :class:`~augintae_tf.models.autoencoder.Autoencoder`), has a row in the model table (in its
    family's spec, ``augintae_tf/models/<family>/spec.py``: its config section and its class;
    :mod:`augintae_tf.config.model_table`), and declares:

    - ``from_setup(setup)`` (classmethod): the model from a
      :class:`~augintae_tf.models.build.ModelSetup` (its networks compute in ``setup.dtype``);
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
      (:mod:`augintae_tf.training.stages` runs them and keeps what they make in the run;
      :func:`augintae_tf.inference.loaded.load_run` gives it back): ``latent-stats``
      (:meth:`compute_latent_stats` from arrays; the statistics reach the model through
      :meth:`use_latent_stats` and are read as :attr:`latent_stats`), ``inversion`` (wgan-gp's
      network, :mod:`augintae_tf.models.inversion`).
    """

    capabilities: frozenset[Capability] = frozenset()
    step_counter: tf.Variable  # created in __init__ by add_step_counter()
    # What training feeds train_step: "images" (batches of images, labels ignored) or "sets"
    # (``(images [B, set_size, S, S, C], labels [B])``, same-class sets of distinct images from
    # :func:`augintae_tf.data.sets.make_set_dataset`; the config section's ``set_size`` field says how
    # many, and a batch holds ``train.batch_size // set_size`` sets).
    batches: str = "images"
    optimizer_names: tuple[str, ...] = ("optimizer",)
    extra_plots: dict[str, tuple[str, ...]] = {}
    stages: tuple[str, ...] = ()  # what runs after fit, in order (e.g. wgan-gp's "inversion")
    # Few-shot samplers the model's ``fewshot`` takes, its default first: names of the sampler
    # table (augintae_tf.config.choices.SAMPLER_TABLE, checked when the class is defined); () for
    # a model with one way of its own (DAGAN, the Neural Statistician).
    samplers: tuple[str, ...] = ()
    # The latent-stats stage's LatentStats (augintae_tf.models.latent_stats) once computed or
    # restored, else None and why in latent_stats_problem; both set by use_latent_stats only.
    latent_stats = None
    latent_stats_problem: str = "the latent statistics have not been computed"

    def __init_subclass__(cls, **kwargs):
        """Refuse a model class whose :attr:`samplers` names a sampler the table lacks."""
        super().__init_subclass__(**kwargs)
        unknown = [name for name in cls.samplers if name not in SAMPLER_TABLE]
        if unknown:
            raise TypeError(f"{cls.__name__}.samplers: {', '.join(unknown)} not in the sampler "
                            "table (augintae_tf.config.choices.SAMPLER_TABLE)")

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

    def compute_latent_stats(self, train_images, train_labels, heldout_images, seed: int):
        """The latent-stats stage's statistics of this model from arrays (training images and
        their labels or None, held-out images), its config section's settings and ``seed``."""
        raise NotImplementedError(f"{type(self).__name__} has no stage 'latent-stats'")

    def use_latent_stats(self, stats, problem: str | None = None) -> None:
        """Take ``stats`` (a LatentStats) as :attr:`latent_stats`, or None and ``problem`` (one
        line: why there are none) as :attr:`latent_stats_problem`."""
        self.latent_stats = stats
        self.latent_stats_problem = problem or ""

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
        sampler whose latent statistic the run lacks (a run still training, trained before the
        stage or the statistic existed, or without labels) falls back to ``slerp``
        (:meth:`sampler_note` says so)."""
        wanted = getattr(self.setup.section, "sampler", None)
        if wanted not in self.samplers:
            return self.samplers[0]
        if not has_statistic(self.latent_stats, SAMPLER_TABLE[wanted].statistic):
            return "slerp"
        return wanted

    def sampler_note(self) -> str | None:
        """One line when :meth:`default_sampler` falls back from the run's sampler, else None."""
        wanted = getattr(self.setup.section, "sampler", None)
        if wanted in self.samplers and self.default_sampler() != wanted:
            needs = (f"its latent statistics ({self.latent_stats_problem})"
                     if self.latent_stats is None else lacking(SAMPLER_TABLE[wanted].statistic))
            return f"the run's sampler {wanted} needs {needs}; generating with slerp"
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
