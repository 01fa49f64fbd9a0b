"""Training: ``train(cfg, run_dir)`` fits a model into a run directory (prepared by
``preparation``, run by ``fit``, with the callbacks that log, checkpoint and draw it), then
its post-training ``stages``."""
from augintae_tf.training.fit import TrainResult, train
from augintae_tf.training.preparation import apply_step_budget, build, learning_rate
from augintae_tf.training.stages import run_stage

__all__ = ["TrainResult", "apply_step_budget", "build", "learning_rate", "run_stage", "train"]
