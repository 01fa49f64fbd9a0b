"""AE baseline: a plain autoencoder trained on AugIntAE's targets (appendix A.1: baselines see the
alpha-weighted blend of two augmentations as their training image, so only the latent
interpolation differs from AugIntAE)."""
from __future__ import annotations

from augintae_tf.models.base import Autoencoder, blend


class AE(Autoencoder):
    def training_batch(self, images, seed):
        a1, a2 = self.augment(images, seed, 1), self.augment(images, seed, 2)
        target = blend(a1, a2, self.alphas(images, seed))
        return self(target, training=True), target
