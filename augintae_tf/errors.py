"""The errors a user can fix (a bad option, missing data, an unusable run): one line each.

The CLI prints these as ``Error: <message>`` without a traceback; everything else is a bug.
"""
from __future__ import annotations

from augintae_tf.config import ConfigError


class RunError(RuntimeError):
    """A run directory or checkpoint cannot be used as asked (missing, config mismatch, ...)."""


class TrainingError(RuntimeError):
    """Training stopped for a reason the user must act on (e.g. a NaN loss)."""


class Terminated(BaseException):
    """SIGTERM arrived (the CLI's handler raises it): unwinds like KeyboardInterrupt, releasing
    the run's lock; ``run_dir`` is set by training so the CLI can name the last checkpoint."""

    run_dir = None


def user_errors() -> tuple[type[Exception], ...]:
    """The exception types the CLI reports as one line. DataError and FidNetworkError live in
    modules that load TensorFlow; they are only included once those modules are loaded (nothing
    else can raise them), so an option error is reported without importing TensorFlow."""
    import sys

    found = [ConfigError, RunError, TrainingError]
    for module, name in (("augintae_tf.data.registry", "DataError"),
                         ("augintae_tf.metrics.inception", "FidNetworkError")):
        if module in sys.modules:
            found.append(getattr(sys.modules[module], name))
    return tuple(found)
