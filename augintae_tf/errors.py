"""The errors a user can fix (a bad option, missing data, an unusable run): one line each.

Every one subclasses :class:`UserError`; the CLI prints a UserError as ``Error: <message>``
without a traceback, everything else is a bug. This module imports nothing of the package (it is
the floor every other module may stand on), so the CLI reports an option error without
importing TensorFlow. Each type also subclasses the matching builtin (ValueError,
RuntimeError), so ``except ValueError`` around a config or data call still catches it.
"""
from __future__ import annotations


class UserError(Exception):
    """An error the user can fix from its one-line message."""


class OptionError(UserError, ValueError):
    """A command's options that do not go together, found by the library (``generate`` without
    ``--seeds`` for a model that generates from seeds): the CLI reports it as click reports a
    usage error (usage line, exit status 2)."""


class ConfigError(UserError, ValueError):
    """A config field holds a value that is not allowed; the message is one line."""


class DataError(UserError, ValueError):
    """A dataset, split, file or folder is missing or unusable; the message is one line."""


class RunError(UserError, RuntimeError):
    """A run directory or checkpoint cannot be used as asked (missing, config mismatch, ...)."""


class TrainingError(UserError, RuntimeError):
    """Training stopped for a reason the user must act on (e.g. a NaN loss)."""


class FidNetworkError(UserError, RuntimeError):
    """The FID feature network cannot be loaded (no cached weights and no internet, a bad path)."""


class Terminated(BaseException):
    """SIGINT (Ctrl-C) or SIGTERM arrived while training (:mod:`augintae_tf.run.interrupt`
    raises it): unwinds like KeyboardInterrupt, releasing the run's lock. ``signum`` is the
    signal; training sets ``run_dir`` and ``epochs`` (the run's planned epochs) so the CLI can
    name the last checkpoint and exit ``128 + signum`` (130, 143), as the shell would."""

    run_dir = None
    epochs = None

    def __init__(self, signum: int = 15):
        super().__init__(signum)
        self.signum = signum


def user_errors() -> tuple[type[Exception], ...]:
    """The exception types the CLI reports as one line."""
    return (UserError,)
