"""The `augintae-tf` command group: thin commands over the library (StyleGAN2-ADA style).

Every command parses and validates its options, calls one library function, and prints. Library
errors that are the user's to fix (bad config, missing data, bad seed folder) become one-line
``click.ClickException``s; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import click

from augintae_tf.cli import (data_commands, evaluate_commands, export_commands, generate_commands,
                             train_commands)
from augintae_tf.cli.common import verbose_option
from augintae_tf.cli.options import bound_integers
from augintae_tf.cli.quiet import quiet_tensorflow
from augintae_tf.notices import once_per_command

# TensorFlow's C++ start-up chatter hides the one line that matters: off unless the user set
# TF_CPP_MIN_LOG_LEVEL or passes --verbose (augintae_tf.cli.quiet).
quiet_tensorflow()


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
    # What the library warns about (a skipped file...) is said once per command, in one line.
    click.get_current_context().with_resource(once_per_command())


def _register():
    """Every command module contributes the click commands in its ``COMMANDS``."""
    for module in (train_commands, data_commands, generate_commands, evaluate_commands,
                   export_commands):
        for command in module.COMMANDS:
            command.params.append(verbose_option())
            main.add_command(command)
    for command in main.commands.values():
        bound_integers(command)  # every integer option of every command: one checked type


main.params.append(verbose_option())
_register()
