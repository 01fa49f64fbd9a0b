"""Adam with a fused update: the largest avoidable cost in the train step.

Keras 3's Adam writes its update as about ten element-wise TensorFlow ops per variable (two
moment updates, bias corrections, a square root, a divide, three assigns).  Without XLA every one
of them is a separate kernel launch and a pass over the variable's memory; the networks here have
30-50 variables, so the optimizer was several hundred small ops per step.  TensorFlow's own
``ResourceApplyAdam`` kernel does the same arithmetic in one pass.  Measured on the 2-core CPU
(benchmarks/RESULTS.md, 28x28, no XLA): +13 % images/s for augintae and +10 % for ae in float32
(+7 % and +26 % in bfloat16); with XLA, which already fuses the element-wise ops, and at 64x64,
where convolutions dominate, the change is within the measurement noise.

The update is the same formula as Keras' Adam (bias-corrected step size
``lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)``, epsilon added to ``sqrt(v)``); the moment
variables are Keras' own, so checkpoints and ``get_config`` are unchanged.
"""
from __future__ import annotations

import keras
import tensorflow as tf


def _handle(variable) -> tf.Tensor:
    """The resource handle of a Keras variable, a tf.Variable, or (inside ``strategy.extended.
    update``) the local replica's component of a mirrored variable."""
    return (variable.value if isinstance(variable, keras.Variable) else variable).handle


@keras.saving.register_keras_serializable(package="augintae_tf")
class FusedAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` whose dense, non-AMSGrad update runs as one ``ResourceApplyAdam``.

    Anything else (AMSGrad, sparse ``IndexedSlices`` gradients) takes Keras' own path.
    """

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        dtype = variable.dtype

        def cast(value):
            return tf.cast(value, dtype)

        step = cast(self.iterations + 1)  # Keras counts iterations from 0 and corrects with t + 1
        beta_1, beta_2 = cast(self.beta_1), cast(self.beta_2)
        tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable), m=_handle(self._momentums[index]),
            v=_handle(self._velocities[index]),
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
            lr=cast(learning_rate), beta1=beta_1, beta2=beta_2, epsilon=cast(self.epsilon),
            grad=cast(gradient), use_locking=False)
