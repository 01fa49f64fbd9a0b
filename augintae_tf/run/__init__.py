"""The run directory: its layout, its lock, its config and metrics log, and its checkpoints (the
folder format, TensorFlow-free, and a model's state in one), and what post-training stages keep
there in the same format (artifacts)."""
