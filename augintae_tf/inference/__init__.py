"""Inference from a trained run, apart from the run directory that stores it: loading it
(``loaded``), few-shot generation and interpolation (``generation``), the user's output folders
(``outputs``) and the TF Serving export with its signatures (``export``, ``serving``)."""
