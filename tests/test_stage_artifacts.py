"""What a post-training stage keeps in the run (run/artifacts.py): versions in the checkpoint
format, read back pinned and verified; a damaged or linked one is refused; a write killed before
the new version takes its name leaves the old one.  And the latent statistics as arrays and
fields, round trip."""
import json
import os

import numpy as np
import pytest

from augintae_tf.errors import RunError
from augintae_tf.models import latent_stats
from augintae_tf.run import artifacts, checkpoints


def arrays(scale=1.0):
    rng = np.random.default_rng(0)
    return {"cov": scale * rng.normal(size=(3, 3)).astype(np.float32),
            "heldout_mse": np.sort(rng.uniform(size=5)).astype(np.float32)}


def test_versions_round_trip_and_only_the_newest_is_kept(tmp_path):
    folder = tmp_path / "stage"
    assert artifacts.read_arrays(folder) is None
    first = artifacts.write_arrays(folder, arrays(), {"k": 4, "checkpoint": "epoch-00002"})
    second = artifacts.write_arrays(folder, arrays(2.0), {"k": 5})
    assert (first.name, second.name) == ("epoch-00001", "epoch-00002")
    assert checkpoints.list_checkpoints(folder) == [second]
    saved = artifacts.read_arrays(folder)
    assert saved.path == second and saved.state["k"] == 5 and saved.state["epoch"] == 2
    np.testing.assert_array_equal(saved.arrays["cov"], arrays(2.0)["cov"])
    assert json.loads((second / "manifest.json").read_text())["files"].keys() == \
        {"arrays.npz", "state.json"}
    assert artifacts.newest_intact(folder, artifacts.NAMES) == second


def test_a_damaged_version_is_refused_and_an_intact_older_one_is_found(tmp_path):
    folder = tmp_path / "stage"
    artifacts.write_arrays(folder, arrays(), {})
    newest = artifacts.write_arrays(folder, arrays(2.0), {})
    data = (newest / "arrays.npz").read_bytes()
    (newest / "arrays.npz").write_bytes(data[:-3])
    with pytest.raises(RunError, match=r"^epoch-00002: arrays.npz has \d+ bytes, the manifest "
                                       r"says \d+$"):
        artifacts.read_arrays(folder)
    assert artifacts.newest_intact(folder, artifacts.NAMES) is None  # the older one was removed


def test_a_linked_stage_folder_is_refused_and_never_written_through(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    os.symlink(target, tmp_path / "stage")
    with pytest.raises(RunError, match="is a symbolic link"):
        artifacts.read_arrays(tmp_path / "stage")
    with pytest.raises(RunError, match="is a symbolic link"):
        artifacts.write_arrays(tmp_path / "stage", arrays(), {})
    assert list(target.iterdir()) == []


def test_a_write_killed_before_it_takes_its_name_leaves_the_old_version(tmp_path, monkeypatch):
    folder = tmp_path / "stage"
    artifacts.write_arrays(folder, arrays(), {"k": 1})

    def killed(*args, **kwargs):
        raise OSError("simulated crash")

    monkeypatch.setattr(checkpoints, "_publish", killed)
    with pytest.raises(OSError, match="simulated crash"):
        artifacts.write_arrays(folder, arrays(2.0), {"k": 2})
    saved = artifacts.read_arrays(folder)
    assert saved.state["k"] == 1 and sorted(p.name for p in folder.iterdir()) == ["epoch-00001"]


def test_latent_statistics_as_arrays_and_fields_round_trip():
    cov = np.eye(3, dtype=np.float32) * 0.5
    stats = latent_stats.LatentStats(cov, latent_stats.covariance_factor(cov), np.arange(4.0),
                                     7, "epoch-00003", ("glyphs", "test"),
                                     {"classes": 2, "spread": [0.1]}, cov * 2, cov)
    saved_arrays, fields = latent_stats.to_saved(stats)
    assert set(saved_arrays) == {"cov", "factor", "heldout_mse", "within_cov", "within_factor"}
    back = latent_stats.from_saved(saved_arrays, json.loads(json.dumps(fields)))
    assert (back.k, back.checkpoint, back.heldout_source, back.within_class) == \
        (7, "epoch-00003", ("glyphs", "test"), {"classes": 2, "spread": [0.1]})
    np.testing.assert_array_equal(back.within_cov, cov * 2)
    plain = latent_stats.LatentStats(cov, cov, np.arange(2.0), 3)
    assert set(latent_stats.to_saved(plain)[0]) == {"cov", "factor", "heldout_mse"}
    assert latent_stats.from_saved(*latent_stats.to_saved(plain)).within_factor is None
