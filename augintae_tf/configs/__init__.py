"""YAML presets, installed as augintae_tf.configs so they ship inside the package."""
