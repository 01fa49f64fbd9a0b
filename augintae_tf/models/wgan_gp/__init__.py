"""The wgan_gp family: ``spec`` (TensorFlow-free: its config section and model table rows) and
``model`` (its Keras class)."""
