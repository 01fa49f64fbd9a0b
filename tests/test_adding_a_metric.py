"""docs/adding-a-metric.md, followed literally: the doc's module and entry point, written outside
the package (nothing in it changed), put a metric with its own option, check, cost and protocol
into `augintae-tf evaluate` in a fresh interpreter."""
import dataclasses
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import run_python

DOC = Path(__file__).resolve().parents[1] / "docs" / "adding-a-metric.md"
CLI = "import sys; from augintae_tf.cli.main import main; main(sys.argv[1:])"


def plugin_folder(tmp_path: Path) -> Path:
    """A folder for the Python path holding the doc's module and an installed-package record
    (``.dist-info``) whose ``entry_points.txt`` is the doc's block."""
    text = DOC.read_text()
    module = re.search(r"## 1\. The module: `([^`]+)`", text).group(1)
    python, = re.findall(r"```python\n(.*?)```", text, re.S)
    entry, = re.findall(r"```ini\n(.*?)```", text, re.S)
    folder = tmp_path / "plugins"
    info = folder / "pixel_mean_metric-1.0.dist-info"
    info.mkdir(parents=True)
    (folder / module).write_text(python)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pixel-mean-metric\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry)
    return folder


def test_the_doc_adds_a_metric_with_one_module_outside_the_package(tiny_run, tmp_path):
    import augintae_tf
    from augintae_tf.config import load_config
    from augintae_tf.data import load_arrays, resolve_novel

    package = Path(augintae_tf.__file__).parent
    assert not list(package.rglob("pixel_mean*")), "the metric lives outside the package"
    folder = plugin_folder(tmp_path)
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))}

    helped = run_python(CLI, "evaluate", "--help", env=env, cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr[-2000:]
    assert re.search(r"^ +pixel-mean +mean pixel value of the first novel images$", helped.stdout,
                     re.M)
    assert re.search(r"--pixel-mean-images INTEGER +Pixel mean: how many novel images it "
                     r"averages\. +\[default: 64; x>=1\]", " ".join(helped.stdout.split()))
    assert ("paper:fd-clf,classifier,recon,noise,interp,utility,quality,samples,pixel-mean)"
            in "".join(helped.stdout.split()))  # the --metrics help: the protocol's defaults

    refused = run_python("import sys\nfrom click.testing import CliRunner\n"
                         "from augintae_tf.cli.main import main\n"
                         f"r = CliRunner().invoke(main, ['evaluate', '--run-dir', {str(tiny_run)!r}, "
                         "'--metrics', 'pixel-mean', '--pixel-mean-images', '5000'])\n"
                         "print(r.exit_code, r.output.strip())\nprint('tensorflow' in sys.modules)",
                         env=env, cwd=tmp_path)
    assert refused.stdout.splitlines() == [
        "1 Error: --pixel-mean-images must be at most 1000, got 5000", "False"], refused.stderr

    run, out = shutil.copytree(tiny_run, tmp_path / "run"), tmp_path / "eval"
    done = run_python(CLI, "evaluate", "--run-dir", str(run), "--metrics", "recon,pixel-mean",
                      "--pixel-mean-images", "32", "--data-limit", "64", "--out", str(out),
                      env=env, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    # recon's cost is 4 passes per novel image (64), pixel-mean's 4 per averaged image (32)
    assert any(line.startswith("[#############-------]  67%  1/2 metrics") for line in lines)
    record = json.loads((out / "metrics.json").read_text())
    cfg = load_config(str(run / "config.yaml"))
    dataset, split = resolve_novel(cfg.data)
    images, _ = load_arrays(dataclasses.replace(cfg.data, limit=64), split, limit=64,
                            dataset=dataset)
    expected = float(np.mean(images[:32], dtype=np.float64))
    assert 0 < expected < 1 and record["pixel_mean"] == pytest.approx(expected, rel=1e-12)
    assert record["pixel_mean_images"] == "32 images"
    assert record["metrics_done"]["pixel-mean"] == ["pixel_mean", "pixel_mean_images"]
    assert record["options"]["pixel_mean_images"] == 32 and record["complete"] is True
    assert f"pixel_mean={record['pixel_mean']:.4g} (32 images)" in done.stdout
