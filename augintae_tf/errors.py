"""The errors a user can fix (a bad option, missing data, an unusable run): one line each.

The CLI prints these as ``Error: <message>`` without a traceback; everything else is a bug.
"""
from __future__ import annotations

from augintae_tf.config import ConfigError


class RunError(RuntimeError):
    """A run directory or checkpoint cannot be used as asked (missing, config mismatch, ...)."""


class TrainingError(RuntimeError):
    """Training stopped for a reason the user must act on (e.g. a NaN loss)."""


def user_errors() -> tuple[type[Exception], ...]:
    """The exception types the CLI reports as one line (imported late: data/ loads TensorFlow)."""
    from augintae_tf.data import DataError
    from augintae_tf.metrics.inception import FidNetworkError

    return ConfigError, RunError, TrainingError, DataError, FidNetworkError
