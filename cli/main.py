"""The `augintae-tf` command group: thin commands over the library (StyleGAN2-ADA style).

Every command parses and validates its options, calls one library function, and prints. Library
errors that are the user's to fix (bad config, missing data, bad seed folder) become one-line
``click.ClickException``s; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import functools
import os

import click

# TensorFlow's C++ start-up chatter hides the one line that matters; users can set it back.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="augintae-tf")
def main():
    """Augmentation-Interpolative AutoEncoders: train once on a large domain, then generate new
    images of an unseen class from a handful of seed images.

    \b
    Quickstart (offline, embedded glyphs dataset):
      augintae-tf train --epochs 2
      augintae-tf generate --run-dir runs/00000-glyphs-ae --seeds SEED_DIR --out gen/
    """


def _register():
    """Every ``cli/*_commands.py`` module contributes the click commands in its ``COMMANDS``."""
    import importlib
    import pkgutil

    from augintae_tf import cli

    for info in sorted(pkgutil.iter_modules(cli.__path__), key=lambda m: m.name):
        if info.name.endswith("_commands"):
            for command in importlib.import_module(f"augintae_tf.cli.{info.name}").COMMANDS:
                main.add_command(command)
    from augintae_tf.cli.options import bound_integers

    for command in main.commands.values():
        bound_integers(command)  # every integer option of every command: one checked type


_register()

