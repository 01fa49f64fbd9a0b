"""Evaluation metrics: FID (appendix A.3), the few-shot generation protocol, noise analysis (A.4)."""
from augintae_tf.metrics.fewshot import (FewShotPlan, decode_latents, encode_images, generate_from_plan,
                                         random_latent_samples, sample_fewshot_plan, sample_gaussian_latents,
                                         sample_seeds)
from augintae_tf.metrics.frechet import (activation_statistics, frechet_distance,
                                         frechet_distance_from_activations)
from augintae_tf.metrics.inception import (FeatureExtractor, FidNetworkError, cached_statistics,
                                           statistics_cache_path)
from augintae_tf.metrics.noise import (frequency_noise, noise_reconstruction_curve, plot_noise_curve,
                                       reconstruction_error)

__all__ = [
    "FewShotPlan", "FeatureExtractor", "FidNetworkError", "activation_statistics", "cached_statistics",
    "decode_latents", "encode_images", "frechet_distance", "frechet_distance_from_activations",
    "frequency_noise", "generate_from_plan", "noise_reconstruction_curve", "plot_noise_curve",
    "random_latent_samples", "reconstruction_error", "sample_fewshot_plan", "sample_gaussian_latents",
    "sample_seeds", "statistics_cache_path",
]
