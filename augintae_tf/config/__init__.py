"""What a run is, TensorFlow-free: the config tree, its presets and YAML files, the model table
and every list of allowed values. ``load_config(preset, overrides)`` builds a validated config."""
from augintae_tf.config.choices import (BACKBONES, FILL_MODES, JIT_MODES, PRECISIONS, STRATEGIES,
                                        require)
from augintae_tf.config.data_defaults import (DEFAULT_PRESET, DEFAULT_RGB_PRESET,
                                              dataset_overrides, held_out_split, preset_for_dataset)
from augintae_tf.config.files import preset_dataset, preset_names, preset_section
from augintae_tf.config.loading import from_dict, load_config, parse_overrides
from augintae_tf.config.model_sections import ModelConfig
from augintae_tf.config.schema import (RESUMABLE_CHANGES, SECTIONS, AugmentConfig, Config,
                                       DataConfig, TrainConfig, config_diff, validate)
from augintae_tf.config.values import INT_MAX, SEED_RANGE, check_int
from augintae_tf.errors import ConfigError

__all__ = ["BACKBONES", "DEFAULT_PRESET", "DEFAULT_RGB_PRESET", "FILL_MODES", "INT_MAX",
           "JIT_MODES", "PRECISIONS", "RESUMABLE_CHANGES", "SECTIONS", "SEED_RANGE", "STRATEGIES",
           "AugmentConfig", "Config", "ConfigError", "DataConfig", "ModelConfig", "TrainConfig",
           "check_int", "config_diff", "dataset_overrides", "from_dict", "held_out_split",
           "load_config", "parse_overrides", "preset_dataset", "preset_for_dataset",
           "preset_names", "preset_section", "require", "validate"]
