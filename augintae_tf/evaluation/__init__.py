"""Evaluation of trained runs: the metric table (``table``: metrics by name, imported when run),
what an evaluation reads (``inputs``), the built-in metrics (``builtin``, ``quality``,
``generalization``), its classifiers, figures, protocols and record; ``evaluate_run.evaluate``
and ``compare_runs.compare`` run them.  The measures themselves are :mod:`augintae_tf.metrics`."""
