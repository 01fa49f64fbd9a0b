"""config.resolve: a run's config from a command's options and its data, load_config once,
without TensorFlow (the data asked through a DataFacts: here a recording stand-in, and the real
augintae_tf.data.facts in a fresh interpreter)."""
import pytest
from PIL import Image

from conftest import run_python

from augintae_tf.config import resolve
from augintae_tf.errors import ConfigError


class Facts:
    """A DataFacts that records what it is asked: datasets of a given short side and channels."""

    def __init__(self, side=40, channels=3, splits=("train",)):
        self.side, self.channels, self.splits, self.asked = side, channels, splits, []

    def dataset_splits(self, dataset):
        self.asked.append(("splits", dataset))
        return self.splits

    def dataset_shape(self, dataset):
        self.asked.append(("shape", dataset))
        return self.side, self.channels, f"{dataset} seen"


@pytest.fixture
def loads(monkeypatch):
    """Every load_config call of the resolver: (preset, overrides)."""
    calls, real = [], resolve.load_config
    monkeypatch.setattr(resolve, "load_config",
                        lambda preset, overrides: calls.append((preset, overrides)) or
                        real(preset, overrides))
    return calls


def test_a_folder_gets_its_shape_recipe_and_splits_from_the_data_in_one_load(loads):
    facts, said = Facts(side=40, channels=3), []
    cfg = resolve.resolve_config(facts, dataset="shapes/", echo=said.append)
    assert len(loads) == 1 and loads[0][0] == "recommended-rgb"  # 3 channels: the RGB recipe
    # 40 px short side: the largest size the default model trains at that is not upscaled
    assert (cfg.data.image_size, cfg.data.channels) == (32, 3)
    assert (cfg.data.train_split, cfg.data.test_split, cfg.data.novel_dataset) == (
        "train", "train", None)
    assert said[0] == "data: shapes/ seen -> 32x32x3 (--image-size / --channels change it)"
    assert said[1].startswith("recipe: recommended-rgb: for colour images")
    assert facts.asked == [("shape", "shapes/"), ("splits", "shapes/")]


def test_given_values_win_and_the_presets_own_dataset_asks_nothing(loads):
    facts = Facts()
    cfg = resolve.resolve_config(facts, dataset="shapes/", image_size=16, channels="1",
                                 fields={"train.epochs": 3}, overrides=("train.lr=0.01",))
    assert (cfg.data.image_size, cfg.data.channels, cfg.train.epochs, cfg.train.lr) == (
        16, 1, 3, 0.01)
    assert facts.asked == [("splits", "shapes/")]  # the shape was given: only the splits
    facts = Facts()
    cfg = resolve.resolve_config(facts, dataset="glyphs")
    assert facts.asked == [] and cfg.data.dataset == "glyphs" and len(loads) == 2


def test_another_source_gets_its_held_out_split():
    facts = Facts(splits=("train", "validation"))
    cfg = resolve.resolve_config(facts, fields={"data.novel_dataset": "other"})
    assert (cfg.data.novel_dataset, cfg.data.novel_split) == ("other", "validation")
    assert facts.asked == [("splits", "other")]


def test_a_named_option_and_its_set_conflict_before_the_data_is_asked():
    facts = Facts()
    with pytest.raises(ConfigError, match=r"^--keep 2 and --set train.keep_checkpoints=3 both "
                                          r"set train.keep_checkpoints; give it once$"):
        resolve.resolve_config(facts, dataset="shapes/", fields={"train.keep_checkpoints": 2},
                               overrides=("train.keep_checkpoints=3",))
    assert facts.asked == []


def test_data_smaller_than_any_trainable_size_is_one_line():
    with pytest.raises(ConfigError, match=r"^tiny/: its smallest images are 6 px on the short "
                                          r"side, smaller than any size model augintae trains at "
                                          r"\(8, 12, 16, 20, 24, 28, \.\.\.\); pass --image-size"):
        resolve.resolve_config(Facts(side=6, channels=1), dataset="tiny/")


def test_a_folder_config_resolves_without_tensorflow(tmp_path):
    folder = tmp_path / "pics" / "a"
    folder.mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (50, 45), (10 * i, 200, 30)).save(folder / f"{i}.png")
    done = run_python("import sys\nfrom augintae_tf.config.resolve import resolve_config\n"
                      "from augintae_tf.data import facts\n"
                      "cfg = resolve_config(facts, dataset=sys.argv[1])\n"
                      "print(cfg.data.image_size, cfg.data.channels, 'tensorflow' in sys.modules)",
                      str(tmp_path / "pics"))
    assert done.stdout.split() == ["32", "3", "False"], done.stderr
