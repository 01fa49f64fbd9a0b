"""docs/adding-a-model.md, followed literally: a copy of the package plus the doc's model file
and the doc's table row (nothing else changed) trains and generates with the new model
through the CLI in a fresh interpreter,
and the run loads as that model."""
import filecmp
import re
import shutil
from pathlib import Path

import augintae_tf
from conftest import run_python

DOC = Path(__file__).resolve().parents[1] / "docs" / "adding-a-model.md"
CLI = "import sys; from augintae_tf.cli.main import main; main(sys.argv[1:])"
SMALL = ["--set", "model.width=0.25", "--set", "model.latent_dim=8", "--set", "data.limit=64",
         "--batch-size", "32", "--epochs", "1"]


def doc_blocks() -> tuple[str, str, str]:
    """The doc's model file path, its file block and its row block."""
    text = DOC.read_text()
    path = re.search(r"## 1\. The file: `([^`]+)`", text).group(1)
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 2, "the doc holds the model file and the row, two python blocks"
    return path, blocks[0], blocks[1]


def changed_files(a: Path, b: Path) -> list[str]:
    """Paths (relative) that differ or exist on one side only, recursively."""
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__"])
    out = [str(Path(a.name) / n) for n in cmp.left_only + cmp.right_only + cmp.diff_files]
    for name in cmp.common_dirs:
        out += [str(Path(a.name) / p) for p in changed_files(a / name, b / name)]
    return out


def test_the_doc_adds_a_model_with_one_file_and_one_row(tmp_path):
    path, model_file, row = doc_blocks()
    package = Path(augintae_tf.__file__).parent
    root = tmp_path / "copy"
    shutil.copytree(package, root / "augintae_tf", ignore=shutil.ignore_patterns("__pycache__"))
    (root / path).write_text(model_file)
    table = root / "augintae_tf" / "config" / "model_table.py"
    text = table.read_text()
    end = text.index("\n)}", text.index("MODELS: dict"))  # the tuple of rows closes here
    row = "".join("    " + line for line in row.splitlines(keepends=True)).rstrip("\n")
    table.write_text(text[:end] + "\n" + row + text[end:])  # the rows' indent
    assert sorted(changed_files(root / "augintae_tf", package)) == sorted(
        ["augintae_tf/config/model_table.py", path])

    env = {"PYTHONPATH": str(root)}
    run_dir, out = tmp_path / "run", tmp_path / "out"
    listed = run_python(CLI, "train", "--help", env=env, cwd=tmp_path)
    assert listed.returncode == 0 and "denoise" in listed.stdout, listed.stderr[-2000:]
    refused = run_python(CLI, "train", "--model", "denoise", "--set", "model.noise=2",
                         "--dry-run", env=env, cwd=tmp_path)
    assert refused.returncode != 0
    assert "model.noise: 2.0 is not allowed; expected a std in [0, 1]" in refused.stderr
    trained = run_python(CLI, "train", "--model", "denoise", "--set", "model.noise=0.2", *SMALL,
                         "--run-dir", str(run_dir), env=env, timeout=600, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "noise: 0.2" in (run_dir / "config.yaml").read_text()

    seeds = run_python(CLI, "export-seeds", "--dataset", "glyphs", "--split", "test", "--num", "5",
                       "--out", str(tmp_path / "seeds"), env=env, cwd=tmp_path)
    assert seeds.returncode == 0, seeds.stderr[-2000:]
    generated = run_python(CLI, "generate", "--run-dir", str(run_dir), "--seeds",
                           str(tmp_path / "seeds"), "--num", "6", "--out", str(out), env=env,
                           timeout=600, cwd=tmp_path)
    assert generated.returncode == 0, generated.stderr[-3000:]
    assert len(list(out.rglob("*.png"))) >= 6

    check = ("import sys; from augintae_tf.inference.loaded import load_run; "
             "run = load_run(sys.argv[1]); print(type(run.model).__module__, "
             "run.model.setup.section.noise)")
    loaded = run_python(check, str(run_dir), env=env, cwd=tmp_path)
    assert loaded.stdout.split() == ["augintae_tf.models.denoise", "0.2"], loaded.stderr[-2000:]
