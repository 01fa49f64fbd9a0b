"""The fenced commands of README.md and docs/*.md run as written, in order, in an empty folder.

Bash blocks: every ``augintae-tf`` command (also as ``.venv/bin/augintae-tf``, and each part of
an ``&&`` chain) is run through the CLI; Python blocks are executed.  Training is shrunk by a
tiny config (:data:`TINY`: every config the commands load gets these fields and a step budget
of at most :data:`TINY_STEPS`), not by editing the commands.  Commands that cannot run here are listed
in :data:`NOT_RUN` with the reason; any other command fails the test, so a new one is either run
or listed.
"""
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
# adding-a-model.md's blocks are a file and a table row, written into a copy of the package and
# run by tests/test_adding_a_model.py; adding-a-metric.md's a module and an entry point, written
# outside the package by tests/test_adding_a_metric.py.
DOCS = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md")
                                    if p.name not in ("adding-a-model.md", "adding-a-metric.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)

TINY = {"model.width": 0.25, "train.batch_size": 32, "train.precision": "float32"}
TINY_STEPS = 4  # every training run: at most this many steps, whatever its epochs or --steps

# A command whose first words are one of these is not run here.
NOT_RUN = {
    "python3 -m venv": "set-up (installs packages; what .ci/run does)",
    ".venv/bin/pip install": "set-up (installs packages)",
    ".venv/bin/python -m pytest": "the test suite itself",
    "tensorflow_model_server": "TensorFlow Serving is a separate binary, not installed here",
    "curl": "queries the TensorFlow Serving process above",
    "TF_CONFIG=": "multi-worker training needs two machines",
    # datasets.md's example on a user's own folders (tests/test_user_folder.py runs that path)
    "augintae-tf train --dataset shapes/": "a user's own image folders",
    "augintae-tf export-seeds --dataset novel-shapes/": "a user's own image folders",
    "augintae-tf generate --run-dir runs/00000-shapes-augintae": "a user's own image folders",
    "augintae-tf evaluate --run-dir runs/00000-shapes-augintae": "a user's own image folders",
}


def fenced_blocks():
    """(file name, language, text) of every fenced block, README first, then docs/ by name."""
    for path in DOCS:
        for match in FENCE.finditer(path.read_text()):
            yield path.name, match.group(1), match.group(2)


def shell_commands(text: str):
    """The commands of a bash block: continuation lines joined, comments dropped, ``&&`` chains
    split; each as a list of words."""
    for line in text.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        while words:
            end = words.index("&&") if "&&" in words else len(words)
            yield words[:end]
            words = words[end + 1:]


def tiny_load_config(load_config):
    def load(preset, overrides=None):
        overrides = {**(overrides or {}), **TINY}
        overrides["train.steps"] = min(int(overrides.get("train.steps") or TINY_STEPS), TINY_STEPS)
        return load_config(preset, overrides)

    return load


def test_every_fenced_command_of_the_readme_and_docs_runs_as_written(tmp_path, monkeypatch):
    from augintae_tf import config
    from augintae_tf.cli.main import main
    from augintae_tf.config import resolve

    monkeypatch.setattr(config, "load_config", tiny_load_config(config.load_config))
    monkeypatch.setattr(resolve, "load_config", tiny_load_config(resolve.load_config))
    monkeypatch.chdir(tmp_path)
    ran, skipped = [], []
    for name, language, text in fenced_blocks():
        if language == "python":
            namespace = {}
            exec(compile(text, f"{name} (python block)", "exec"), namespace)
            ran.append(f"{name}: python")
            continue
        assert language in ("bash", "sh"), f"{name}: a ```{language} block; run it or mark it"
        for words in shell_commands(text):
            line = " ".join(words)
            marker = next((start for start in NOT_RUN if line.startswith(start)), None)
            if marker:
                skipped.append(marker)
            elif Path(words[0]).name == "augintae-tf":
                result = CliRunner().invoke(main, words[1:], catch_exceptions=False)
                assert result.exit_code == 0, f"{name}: {line}\n{result.output}"
                ran.append(f"{name}: {words[1]}")
            else:
                raise AssertionError(f"{name}: `{line}` is neither run by this test nor in NOT_RUN")
    assert ran == ["README.md: train", "README.md: export-seeds", "README.md: generate",
                   "commands.md: python", "serving.md: export", "serving.md: python"]
    assert len(list((tmp_path / "generated").glob("0*.png"))) == 64  # the quickstart's --num 64
    assert (tmp_path / "serving" / "augintae" / "1" / "saved_model.pb").is_file()
    assert namespace["images"].shape == (8, 28, 28, 1)  # the serving snippet's own output
    assert set(skipped) == set(NOT_RUN)  # no stale entry


@pytest.mark.parametrize("text, expected", [
    ('a --x 1 && b "two words"  # note\n', [["a", "--x", "1"], ["b", "two words"]]),
    ("a \\\n    --y 2\n\nc\n", [["a", "--y", "2"], ["c"]]),
])
def test_shell_commands_split_chains_continuations_and_comments(text, expected):
    assert list(shell_commands(text)) == expected


def test_the_docs_name_every_sampler_signature_and_the_run_a_folder_gets():
    """serving.md's table names each sampler's signature, generate --sampler's help describes
    every sampler, and datasets.md's example run is the folder the CLI makes for shapes/ with
    the default model."""
    from augintae_tf.cli.generate_commands import generate_command
    from augintae_tf.config import load_config, preset_for_dataset
    from augintae_tf.config.choices import SAMPLERS
    from augintae_tf.inference.serving import sampler_signature
    from augintae_tf.run.directory import new_run_dir

    table = (ROOT / "docs" / "serving.md").read_text()
    assert [s for s in SAMPLERS if f"`{sampler_signature(s)}`" not in table] == []
    help_text = next(p.help for p in generate_command.params if p.name == "sampler")
    assert [s for s in SAMPLERS if f"{s} (" not in help_text] == []
    cfg = load_config(preset_for_dataset("shapes/"), {"data.dataset": "shapes"})
    assert cfg.model.name == "augintae"
    run = new_run_dir(ROOT / "no-such-runs-folder", cfg).name
    assert run == "00000-shapes-augintae"
    datasets = (ROOT / "docs" / "datasets.md").read_text()
    assert re.findall(r"runs/0\d{4}-[\w.-]+", datasets) == [f"runs/{run}"] * 3
