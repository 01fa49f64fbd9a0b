"""Evaluation metrics: FID (appendix A.3), the few-shot generation protocol, noise analysis (A.4),
few-shot quality with reference rows (precision/recall, density/coverage, memorisation, realism)."""
from augintae_tf.metrics.double_exposure import double_exposure_share, double_exposures, exposure_errors
from augintae_tf.metrics.fewshot import (FewShotPlan, decode_latents, encode_images, generate_from_plan,
                                         random_latent_samples, sample_fewshot_plan, sample_gaussian_latents,
                                         sample_seeds)
from augintae_tf.metrics.frechet import (activation_statistics, frechet_distance,
                                         frechet_distance_from_activations)
from augintae_tf.metrics.inception import (FeatureExtractor, FidNetworkError, cached_statistics,
                                           statistics_cache_path)
from augintae_tf.metrics.manifold import (knn_radii, nearest_seed_distance, pairwise_distances,
                                          precision_recall_density_coverage)
from augintae_tf.metrics.noise import (frequency_noise, noise_reconstruction_curve, plot_noise_curve,
                                       reconstruction_error)
from augintae_tf.metrics.quality import (REFERENCE_ROWS, fewshot_quality, pixel_crossfade, plan_seeds,
                                         quality_table, real_split, seed_copies)
from augintae_tf.metrics.realism import realism_accuracy

__all__ = [
    "FewShotPlan", "FeatureExtractor", "FidNetworkError", "REFERENCE_ROWS", "activation_statistics",
    "cached_statistics", "decode_latents", "double_exposure_share", "double_exposures", "exposure_errors", "encode_images", "fewshot_quality", "frechet_distance",
    "frechet_distance_from_activations", "frequency_noise", "generate_from_plan", "knn_radii",
    "nearest_seed_distance", "noise_reconstruction_curve", "pairwise_distances", "pixel_crossfade",
    "plan_seeds", "plot_noise_curve", "precision_recall_density_coverage", "quality_table",
    "random_latent_samples", "real_split", "realism_accuracy", "reconstruction_error",
    "sample_fewshot_plan", "sample_gaussian_latents", "sample_seeds", "seed_copies",
    "statistics_cache_path",
]
