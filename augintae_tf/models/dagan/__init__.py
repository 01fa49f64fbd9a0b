"""The dagan family: ``spec`` (TensorFlow-free: its config section and model table rows) and
``model`` (its Keras class)."""
