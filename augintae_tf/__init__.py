"""augintae-tf: Augmentation-Interpolative AutoEncoders for unsupervised few-shot image generation."""
from augintae_tf import cpu as _cpu

# Before anything imports TensorFlow: its oneDNN kernels are off by default on AVX2-only CPUs,
# where they make the train step faster (benchmarks/RESULTS.md; see augintae_tf.cpu.enable_onednn).
_cpu.enable_onednn()

__version__ = "0.1.0"
