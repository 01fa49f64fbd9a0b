"""Config: presets, overrides, validation messages."""
import pytest
import yaml

from augintae_tf.config import (ConfigError, config_diff, dataset_overrides, load_config,
                                parse_overrides, preset_for_dataset, preset_names)


def test_every_preset_loads_with_the_papers_values():
    assert set(preset_names()) >= {"glyphs", "omniglot", "mnist", "emnist", "fashion_mnist",
                                   "cifar10", "cifar100", "celeba"}
    glyphs = load_config("glyphs")
    assert (glyphs.augment.rotation, glyphs.augment.translation, glyphs.augment.shear) == (20, 4, 6)
    assert (glyphs.augment.scale_min, glyphs.augment.scale_max) == (0.8, 1.2)
    assert glyphs.model.latent_dim == 32 and glyphs.backbone == "infogan"
    assert glyphs.train.lr == 0.001 and glyphs.train.lr_drops == [0.35, 0.7]
    cifar = load_config("cifar10")
    assert (cifar.augment.rotation, cifar.augment.translation, cifar.augment.shear) == (10, 8, 3)
    assert cifar.augment.brightness == 0.25 and cifar.augment.hue == 0.05
    assert cifar.augment.fill == "reflect" and cifar.backbone == "dcgan"
    assert cifar.data.novel_dataset == "cifar100" and cifar.model.latent_dim == 512
    celeba = load_config("celeba")
    assert celeba.data.image_size == 128 and celeba.backbone == "dcgan128"
    emnist = load_config("emnist")
    assert (emnist.data.dataset, emnist.data.novel_dataset) == ("mnist", "emnist/letters")


def test_overrides_are_typed_from_strings():
    cfg = load_config("glyphs", {"train.epochs": "5", "train.lr_drops": "0.5", "data.limit": "null",
                                 "augment.rotation": "10", "data.cache": "false"})
    assert cfg.train.epochs == 5 and cfg.train.lr_drops == [0.5]
    assert cfg.data.limit is None and cfg.augment.rotation == 10.0 and cfg.data.cache is False


@pytest.mark.parametrize("overrides, message", [
    ({"train.epochs": "x"}, "train.epochs: 'x' is not a valid int"),
    ({"train.epochs": "0"}, "train.epochs: 0 is not allowed; expected an integer >= 1"),
    ({"augment.fill": "wrap"}, "augment.fill: 'wrap' is not allowed; expected constant or reflect"),
    ({"model.name": "vgg"}, "model.name: 'vgg' is not allowed; expected one of augintae, ae"),
    ({"data.channels": "2"}, "data.channels: 2 is not allowed; expected 1 or 3"),
    ({"data.image_size": "30"}, "data.image_size: 30 is not allowed; expected a multiple of 4"),
    ({"model.backbone": "dcgan", "data.image_size": "28"}, "expected 64 or 128 for the dcgan"),
    ({"augment.scale_min": "1.5"}, "augment.scale_min: 1.5 is not allowed; expected a value in (0, "),
    ({"train.colour": "1"}, "train.colour: unknown field; train has: epochs"),
    ({"epochs": "1"}, "epochs: unknown config key; keys look like SECTION.FIELD"),
    ({"model.pixel_loss": "l3"}, "model.pixel_loss: 'l3' is not allowed; expected l2 or l1 or l1+l2 or bce"),
    ({"model.upsampling": "pixelshuffle"}, "model.upsampling: 'pixelshuffle' is not allowed; "
                                           "expected transpose or resize"),
    ({"train.steps": "0"}, "train.steps: 0 is not allowed; expected null or an integer >= 1 "
                           "(optimizer steps; overrides train.epochs)"),
])
def test_bad_values_fail_with_one_line_naming_field_value_and_allowed(overrides, message):
    with pytest.raises(ConfigError) as info:
        load_config("glyphs", overrides)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_preset_errors(tmp_path):
    with pytest.raises(ConfigError, match="preset 'nope' is unknown; presets: celeba"):
        load_config("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [1, 2]\n")
    with pytest.raises(ConfigError, match="section 'data' must be a mapping"):
        load_config(str(bad))
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="must look like SECTION.FIELD=VALUE"):
        parse_overrides(["train.epochs"])


def test_yaml_round_trip(tmp_path):
    cfg = load_config("cifar10", {"train.epochs": "3"})
    cfg.save(tmp_path / "c.yaml")
    again = load_config(str(tmp_path / "c.yaml"))
    assert again == cfg and config_diff(cfg, again) == []
    again.train.epochs = 4
    assert config_diff(cfg, again) == ["train.epochs: 3 -> 4"]


def test_dataset_to_preset_and_split_reset():
    assert preset_for_dataset(None) == "recommended"  # the default of `train`
    assert preset_for_dataset("glyphs") == "recommended"
    assert preset_for_dataset("omniglot") == "omniglot"
    assert preset_for_dataset("celeb_a") == "celeba"
    assert preset_for_dataset("kmnist") == "recommended"
    assert preset_for_dataset("/some/folder", channels=3) == "recommended-rgb"
    assert dataset_overrides("glyphs", "glyphs", ("train", "validation", "test")) == {}
    assert dataset_overrides("glyphs", "kmnist", ("train", "test")) == {
        "data.train_split": "train", "data.test_split": "test", "data.novel_split": "test",
        "data.novel_dataset": None}


def test_recommended_preset_is_the_default_and_the_paper_recipe_stays_in_its_preset():
    recommended, paper = load_config(), load_config("glyphs")
    assert recommended == load_config("recommended")
    assert recommended.model.pixel_loss == "l1" and paper.model.pixel_loss == "l2"
    assert (recommended.train.lr_drops, paper.train.lr_drops) == ([], [0.35, 0.7])
    assert paper.model.upsampling == "transpose" and paper.train.steps is None
    # everything else is the glyphs preset: the recommended recipe differs only in its levers
    levers = {"model.name": "augintae", "model.target": "augmentation", "model.pixel_loss": "l1",
              "model.sampler": "local-edit", "model.sampler_scale": 0.7,
              "train.lr_drops": "[]", "model.latent_dim": 128, "augment.rotation": 10,
              "augment.translation": 2, "augment.scale_min": 0.9, "augment.scale_max": 1.1,
              "augment.shear": 3}
    assert load_config("glyphs", levers) == recommended
    for preset in ("omniglot", "mnist", "emnist", "celeba", "cifar10"):
        cfg = load_config(preset)
        assert (cfg.model.pixel_loss, cfg.model.upsampling) == ("l2", "transpose"), preset


def test_the_rgb_recipe_is_the_cifar10_preset_with_the_recommended_levers():
    """What a colour folder trains without flags: the levers of the recommended preset (model,
    target, loss, lr policy, half the affine ranges) on the cifar10 preset; its colour jitter,
    fill and latent 512 stay (the glyphs lever widened the latent, 32 -> 128; 512 is wider)."""
    cifar, rgb = load_config("cifar10"), load_config("recommended-rgb")
    levers = {"model.name": "augintae", "model.target": "augmentation", "model.pixel_loss": "l1",
              "model.sampler": "local-edit", "model.sampler_scale": 0.7,
              "train.lr_drops": "[]", "augment.rotation": cifar.augment.rotation / 2,
              "augment.translation": cifar.augment.translation / 2, "augment.scale_min": 0.9,
              "augment.scale_max": 1.1, "augment.shear": cifar.augment.shear / 2}
    assert load_config("cifar10", levers) == rgb
    assert (rgb.model.latent_dim, rgb.augment.brightness, rgb.augment.fill) == (512, 0.25, "reflect")


@pytest.mark.parametrize("model", ["fastgan", "dagan", "neural-statistician"])
def test_a_field_the_model_does_not_read_is_refused(model):
    # pixel_loss and upsampling belong to the autoencoders' section, not to every model's
    overrides = {"model.name": model, "model.pixel_loss": "l1", "data.image_size": 64}
    with pytest.raises(ConfigError, match=rf"^model.pixel_loss: unknown field; model '{model}' has: "
                                          r"name, backbone, latent_dim, width, [^\n]*$") as error:
        load_config("glyphs", overrides)
    assert "pixel_loss" not in str(error.value).split("has: ")[1]
    for name in ("gaia", "vae", "wgan-gp", "augintae-adv", "intae"):  # Autoencoder's sections
        assert load_config("glyphs", {"model.name": name, "model.pixel_loss": "l1"}).model.pixel_loss == "l1"


def test_a_saved_config_with_fields_that_moved_still_loads(tmp_path):
    from augintae_tf.run.directory import read_config

    saved = load_config("pegasus").to_dict()  # fastgan: its section has no pixel_loss any more
    saved["model"].update(pixel_loss="l2", upsampling="transpose")  # what runs before it saved
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(saved))
    assert read_config(tmp_path) == load_config("pegasus")


@pytest.mark.parametrize("text, message", [
    ("model: [1, 2]\n", ": section 'model' must be a mapping of fields (FIELD: value, one per line "
                        "under `model:`), got a list [1, 2]"),
    ("train: 5\n", ": section 'train' must be a mapping of fields (FIELD: value, one per line under "
                   "`train:`), got an integer 5"),
    ("augment: flip\n", ": section 'augment' must be a mapping of fields (FIELD: value, one per line "
                        "under `augment:`), got a string 'flip'"),
    ("- model\n- data\n", " must be a mapping of sections ['augment', 'data', 'model', 'train'], "
                          "got a list ['model', 'data']"),
])
def test_a_config_section_of_the_wrong_shape_is_one_line_naming_file_and_section(tmp_path, text,
                                                                                   message):
    """Every command reads --config through the same reader: the dataset's preset lookup and
    the model choice (which ran ``.get`` on a list section) included."""
    from click.testing import CliRunner

    from augintae_tf.cli.main import main

    path = tmp_path / "mine.yaml"
    path.write_text(text)
    for dataset in ([], ["--dataset", "digits"]):
        result = CliRunner().invoke(main, ["train", "--config", str(path), *dataset, "--dry-run"])
        assert result.exit_code == 1 and result.exception.__class__ is SystemExit, result.output
        assert result.output == f"Error: config '{path}'{message}\n"
