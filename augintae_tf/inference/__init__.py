"""Inference from a trained run, apart from the run directory that stores it: loading it and its
verbs (``loaded``), few-shot generation and interpolation (``generation``), the commands' one
call each from the user's files to the user's files (``files``) and the TF Serving export with
its signatures (``export``, ``serving``)."""
