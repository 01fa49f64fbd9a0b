"""Evaluation maths, each measure in its module: the Fréchet distance (``frechet``) and its
Inception-v3 features (``inception``), the few-shot plan (``fewshot``), noise reconstruction
(``noise``), k-NN manifolds (``manifold``), the realism two-sample test (``realism``), double
exposures (``double_exposure``) and the few-shot quality table with its reference rows
(``quality``).  What runs them on a trained run is :mod:`augintae_tf.evaluation`."""
