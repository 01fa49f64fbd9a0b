"""The `augintae-tf` command group: thin commands over the library (StyleGAN2-ADA style).

Every command parses and validates its options, calls one library function, and prints. Library
errors that are the user's to fix (bad config, missing data, bad seed folder) become one-line
``click.ClickException``s; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import functools
import os

import click

from augintae_tf.cli.quiet import quiet_tensorflow, verbose_tensorflow

# TensorFlow's C++ start-up chatter hides the one line that matters: off unless the user set
# TF_CPP_MIN_LOG_LEVEL or passes --verbose (augintae_tf.cli.quiet).
quiet_tensorflow()


def friendly_errors(func):
    """Turn the library's user-facing errors into click's one-line 'Error: ...' output."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from augintae_tf.errors import user_errors

        try:
            return func(*args, **kwargs)
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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="augintae-tf")
def main():
    """Augmentation-Interpolative AutoEncoders: train once on a large domain, then generate new
    images of an unseen class from a handful of seed images.

    \b
    Quickstart (offline, embedded glyphs dataset; the README's commands):
      augintae-tf train --steps 800 --run-dir runs/quickstart
      augintae-tf export-seeds --dataset glyphs --split test --num 5 --out seeds/
      augintae-tf generate --run-dir runs/quickstart --seeds seeds/ --num 64 --out generated/
    """


def _register():
    """Every ``cli/*_commands.py`` module contributes the click commands in its ``COMMANDS``."""
    import importlib
    import pkgutil

    from augintae_tf import cli

    for info in sorted(pkgutil.iter_modules(cli.__path__), key=lambda m: m.name):
        if info.name.endswith("_commands"):
            for command in importlib.import_module(f"augintae_tf.cli.{info.name}").COMMANDS:
                command.params.append(verbose_option())
                main.add_command(command)
    from augintae_tf.cli.options import bound_integers

    for command in main.commands.values():
        bound_integers(command)  # every integer option of every command: one checked type


main.params.append(verbose_option())
_register()

