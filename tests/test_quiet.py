"""The CLI keeps TensorFlow's own chatter off the terminal unless asked (--verbose)."""
import os
import subprocess
import sys

import numpy as np

from augintae_tf.cli.quiet import c_stderr_to_devnull

CLI = "from augintae_tf.cli.main import main; main()"


def test_c_level_stderr_is_dropped_while_python_stderr_still_shows(capfd):
    with c_stderr_to_devnull():
        os.write(2, b"written by C++\n")
        print("written by Python", file=sys.stderr)
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert "written by C++" not in err
    assert "written by Python" in err and "after" in err


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """The CLI in a fresh interpreter (TensorFlow not yet imported), without the test suite's
    TF_CPP_MIN_LOG_LEVEL, as a user's shell runs it."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True,
                          env=env, timeout=180)


def test_commands_print_no_tensorflow_lines_unless_verbose():
    quiet = run_cli("datasets")  # imports TensorFlow (the data registry)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.startswith("name ") and quiet.stderr == ""
    verbose = run_cli("datasets", "--verbose")
    assert verbose.returncode == 0 and verbose.stdout == quiet.stdout
    # TensorFlow 2.21 logs at start-up (absl's pre-initialisation notice, oneDNN, CPU features)
    assert verbose.stderr.strip(), "--verbose should let TensorFlow's start-up lines through"


def test_training_a_metric_classifier_prints_no_grappler_remapper_error(capfd):
    from augintae_tf.evaluation.classifiers import train_classifier

    rng = np.random.default_rng(0)
    images = rng.uniform(size=(96, 28, 28, 1)).astype(np.float32)
    train_classifier(images, rng.integers(0, 3, 96), backbone="infogan", width=0.25, epochs=1)
    assert "remapper failed" not in capfd.readouterr().err


def test_a_users_own_quiet_level_keeps_every_line_of_tensorflow_off():
    """TF_CPP_MIN_LOG_LEVEL=2 (a common habit) filters TensorFlow's log lines but not those of its
    import (absl's notice, oneDNN, twice); the CLI silences those too."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    quiet = subprocess.run([sys.executable, "-c", CLI, "datasets"], capture_output=True,
                           text=True, env=env, timeout=180)
    assert quiet.returncode == 0 and quiet.stdout.startswith("name "), quiet.stderr
    assert quiet.stderr == ""


def test_a_users_level_below_the_quiet_one_is_a_request_for_tensorflows_lines():
    from augintae_tf.cli import quiet

    for level in ("0", "1"):
        environ = {quiet.LEVEL_ENV: level}
        assert quiet.quiet_tensorflow(environ) is False and environ == {quiet.LEVEL_ENV: level}
    for level in ("3", "2"):  # kept as set, the import silenced (the hook installs itself)
        environ = {quiet.LEVEL_ENV: level}
        assert quiet.quiet_tensorflow(environ) is True and environ == {quiet.LEVEL_ENV: level}
    environ = {quiet.LEVEL_ENV: "loud"}  # not a level: the quiet one replaces it
    assert quiet.quiet_tensorflow(environ) is True and environ == {quiet.LEVEL_ENV: "2"}
    quiet.verbose_tensorflow(environ)  # --verbose takes back only what was set here
    assert environ == {}
