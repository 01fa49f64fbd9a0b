"""docs/adding-a-model.md, followed literally: a copy of the package plus the doc's family folder
(spec, class, package) and the doc's table row (nothing else changed) trains and generates with
the new model through the CLI in a fresh interpreter, and the run loads as that model; the
built-in families live the same way, their specs TensorFlow-free."""
import filecmp
import json
import re
import shutil
from pathlib import Path

import augintae_tf
from conftest import run_python

DOC = Path(__file__).resolve().parents[1] / "docs" / "adding-a-model.md"
CLI = "import sys; from augintae_tf.cli.main import main; main(sys.argv[1:])"
SMALL = ["--set", "model.width=0.25", "--set", "model.latent_dim=8", "--set", "data.limit=64",
         "--batch-size", "32", "--epochs", "1"]


def doc_blocks() -> tuple[dict[str, str], str]:
    """The doc's family files (path -> block) and its row block."""
    text = DOC.read_text()
    files = dict(re.findall(r"`(augintae_tf/models/denoise/[^`]+\.py)`\n\n.*?```python\n(.*?)```",
                            text, re.S))
    row = re.search(r"## 2\. The row: `FAMILIES`.*?```python\n(.*?)```", text, re.S).group(1)
    assert len(re.findall(r"```python\n", text)) == len(files) + 1, "every block is a file or the row"
    return files, row


def changed_files(a: Path, b: Path) -> list[str]:
    """Paths (relative) that differ or exist on one side only, recursively."""
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__"])
    out = [str(Path(a.name) / n) for n in cmp.left_only + cmp.right_only + cmp.diff_files]
    for name in cmp.common_dirs:
        out += [str(Path(a.name) / p) for p in changed_files(a / name, b / name)]
    return out


def test_the_doc_adds_a_model_with_one_folder_and_one_row(tmp_path):
    files, row = doc_blocks()
    assert sorted(Path(p).name for p in files) == ["__init__.py", "model.py", "spec.py"]
    package = Path(augintae_tf.__file__).parent
    root = tmp_path / "copy"
    shutil.copytree(package, root / "augintae_tf", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "augintae_tf" / "models" / "denoise").mkdir()
    for path, block in files.items():
        (root / path).write_text(block)
    table = root / "augintae_tf" / "config" / "model_table.py"
    text = table.read_text()
    end = text.index("\n)", text.index("FAMILIES = ("))  # the tuple of families closes here
    table.write_text(text[:end] + "\n    " + row.strip() + text[end:])  # the rows' indent
    assert sorted(changed_files(root / "augintae_tf", package)) == sorted(
        ["augintae_tf/config/model_table.py", "augintae_tf/models/denoise"])

    env = {"PYTHONPATH": str(root)}
    run_dir, out = tmp_path / "run", tmp_path / "out"
    listed = run_python(CLI, "train", "--help", env=env, cwd=tmp_path)
    assert listed.returncode == 0 and "denoise" in listed.stdout, listed.stderr[-2000:]
    refused = run_python(CLI, "train", "--model", "denoise", "--set", "model.noise=2",
                         "--dry-run", env=env, cwd=tmp_path)
    assert refused.returncode != 0
    assert "model.noise: 2.0 is not allowed; expected a std in [0, 1]" in refused.stderr
    spec = run_python("import sys, augintae_tf.models.denoise.spec; "
                      "print('tensorflow' in sys.modules)", env=env, cwd=tmp_path)
    assert spec.stdout.split() == ["False"], spec.stderr[-2000:]
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
    assert loaded.stdout.split() == ["augintae_tf.models.denoise.model", "0.2"], \
        loaded.stderr[-2000:]


def test_every_family_lives_in_its_folder_and_its_spec_imports_no_tensorflow():
    """Each family of FAMILIES is a folder with spec.py and model.py whose rows name classes of
    that folder; importing every spec (and listing the models) loads no TensorFlow."""
    from augintae_tf.config.model_table import FAMILIES

    check = ("import json, sys; from importlib import import_module; "
             "from augintae_tf.config.model_table import FAMILIES, model_names; "
             "rows = {f: [r.model for r in import_module(f'augintae_tf.models.{f}.spec').MODELS] "
             "for f in FAMILIES}; "
             "print(json.dumps([rows, list(model_names()), 'tensorflow' in sys.modules]))")
    out = run_python(check)
    assert out.returncode == 0, out.stderr[-2000:]
    rows, names, tensorflow_loaded = json.loads(out.stdout)
    assert not tensorflow_loaded
    models = Path(augintae_tf.__file__).parent / "models"
    for family in FAMILIES:
        assert {"__init__.py", "spec.py", "model.py"} <= {p.name for p in (models / family).iterdir()}
        assert rows[family] and all(m.startswith(f"augintae_tf.models.{family}.")
                                    for m in rows[family]), family
    assert len(names) == sum(map(len, rows.values())) == 10
