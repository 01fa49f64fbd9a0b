"""Evaluation maths, each measure in its module: the Fréchet distance (``frechet``) and its
Inception-v3 features (``inception``), the few-shot plan (``fewshot``), noise reconstruction
(``noise``), k-NN manifolds (``manifold``), the realism two-sample test (``realism``), double
exposures (``double_exposure``), the few-shot quality rows (``fewshot_quality``) beside their
reference rows (``reference_rows``), withheld figures (``guards``), the quality table
(``quality_table``) and the few-shot classifier's utility (``fewshot_utility``).  What runs
them on a trained run is :mod:`augintae_tf.evaluation`."""
