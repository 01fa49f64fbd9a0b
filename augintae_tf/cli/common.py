"""What every command shares: library errors as click's one-line ``Error: ...``, folders as
printed, and ``--verbose``."""
from __future__ import annotations

import functools
import os

import click

from augintae_tf.cli.quiet import verbose_tensorflow
from augintae_tf.errors import OptionError, user_errors


def friendly_errors(func):
    """Turn the library's user-facing errors into click's one-line 'Error: ...' output (an
    :class:`~augintae_tf.errors.OptionError` as click's usage error)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except OptionError as exc:
            raise click.UsageError(str(exc)) from None
        except user_errors() as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def folder_text(path) -> str:
    """A folder as printed: with one trailing slash, whether or not the user typed one."""
    return os.path.join(path, "")


VERBOSE = "augintae_tf.verbose"  # ctx.meta key (meta is shared by a command and its group)


def _verbose(ctx, param, value):
    if value:
        ctx.meta[VERBOSE] = True
        verbose_tensorflow()


def is_verbose() -> bool:
    """Whether ``--verbose`` was given to the running command or to the group."""
    return bool(click.get_current_context().meta.get(VERBOSE))


def verbose_option() -> click.Option:
    """``--verbose``, accepted by the group and by every command (before TensorFlow loads)."""
    return click.Option(["--verbose"], is_flag=True, expose_value=False, is_eager=True,
                        callback=_verbose,
                        help="Show TensorFlow's own log lines (C++ start-up and info lines) and, where a "
                             "command has them, its details.")
