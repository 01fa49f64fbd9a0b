"""`augintae-tf export`: a TensorFlow Serving SavedModel of a trained run."""
from __future__ import annotations

import json
import shlex

import click
import numpy as np

from augintae_tf.cli.common import friendly_errors, is_verbose


@click.command("export", short_help="A run as a SavedModel for TF Serving.")
@click.option("--run-dir", type=click.Path(exists=True, file_okay=False), required=True,
              help="A directory written by `augintae-tf train`.")
@click.option("--checkpoint", type=click.Path(exists=True, file_okay=False), default=None,
              help="A checkpoint directory (default: the run's newest).")
@click.option("--out", "model_base", type=click.Path(dir_okay=True, file_okay=False), required=True,
              metavar="MODEL_BASE", help="TF Serving's model base path; the model goes to "
                                         "MODEL_BASE/VERSION/.")
@click.option("--version", type=click.IntRange(1), default=None,
              help="Version number (default: the next free one). Existing versions are never "
                   "overwritten.")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Reload the export in a fresh process and compare every signature with the "
                   "Keras model.")
@click.option("--max-num", type=click.IntRange(1, 2 ** 31 - 1), default=1024, show_default=True,
              help="The most images one generate/sample request may ask for (bounds a "
                   "request's time and memory on the server).")
@friendly_errors
def export_command(run_dir, checkpoint, model_base, version, verify, max_num):
    """Export a run as a SavedModel for TensorFlow Serving with the signatures its model's
    capabilities allow (autoencoders: generate, also serving_default, interpolate, encode,
    decode, reconstruct); every input is checked in the graph, num is at most --max-num.
    Prints where it went and how to serve it; --verbose adds every signature's inputs and
    outputs and the REST body's layout."""
    from augintae_tf.inference.export import DOCS_FILE, export_run

    result = export_run(run_dir, model_base, checkpoint=checkpoint, version=version, verify=verify,
                        max_num=max_num)
    click.echo(f"exported {run_dir} (checkpoint {result.checkpoint.name}) to {result.path} "
               f"as version {result.version}")
    if is_verbose():
        _echo_details(result)
    else:
        if result.max_abs_diff:
            click.echo(f"verified in a fresh TensorFlow process: max |SavedModel - Keras| "
                       f"{max(result.max_abs_diff.values()):.2e} over "
                       f"{len(result.max_abs_diff)} checks")
        names = [line.split("(")[0] for line in result.docs.splitlines()]
        click.echo(f"signatures: {', '.join(names)}; inputs, shapes and limits: "
                   f"{result.path / DOCS_FILE} (--verbose prints them)")
    base = result.path.parent.resolve()
    click.echo("serve and query it:\n"
               f"  tensorflow_model_server --rest_api_port=8501 --model_name=augintae "
               f"--model_base_path={shlex.quote(str(base))}\n"
               f"  curl -s -X POST http://localhost:8501/v1/models/augintae:predict "
               f"-d {shlex.quote('@' + str(result.request_path.resolve()))}")


def _echo_details(result) -> None:
    """``--verbose``: every signature's difference, the SignatureDefs as ``saved_model_cli show``
    lists them, the signature docs and the REST body's layout."""
    if result.max_abs_diff:
        click.echo("verified in a fresh TensorFlow process, max |SavedModel - Keras|:")
        width = max(map(len, result.max_abs_diff))
        for name, diff in result.max_abs_diff.items():
            click.echo(f"  {name.ljust(width)}  {diff:.2e}")
    click.echo(f"\n{result.summary}\n\nsignatures (inputs are checked in the graph):\n"
               + "".join(f"  {line}\n" for line in result.docs.splitlines()))
    body = json.loads(result.request_path.read_text())
    if "seed_images" not in body["inputs"]:  # a model that samples without seeds
        click.echo(f"REST request body: {json.dumps(body)}")
        return
    count, *image = np.shape(body["inputs"]["seed_images"])
    body["inputs"]["seed_images"] = "<SEED_IMAGES>"
    click.echo("REST request body for generate (columnar \"inputs\": the seed images and the "
               "scalars have different first dimensions); <SEED_IMAGES> is a nested list of "
               f"K x {' x '.join(map(str, image))} floats in [0, 1], K >= 2:")
    click.echo("  " + json.dumps(body).replace('"<SEED_IMAGES>"', "<SEED_IMAGES>"))
    click.echo(f"a complete body with {count} seed images: {result.request_path.resolve()}\n")


COMMANDS = [export_command]
