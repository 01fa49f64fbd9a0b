"""AE baseline: a plain autoencoder trained on AugIntAE's data (appendix A.1: "we use the
alpha-weighted interpolated image as the training image", so that only the latent interpolation
differs from AugIntAE).

Input and target are the same image, :func:`augintae_tf.augment.interpolation_batch`'s target:
under ``model.target: augmentation`` the image under the interpolated augmentation
``T(x; alpha * rho1 + (1 - alpha) * rho2)`` (no double exposure ever enters the network); under
``blend`` the pixel blend of the two views (the student report's reading, the earlier default).
"""
from __future__ import annotations

from augintae_tf.models.autoencoder import Autoencoder


class AE(Autoencoder):
    def training_batch(self, images, seed):
        _, _, _, target = self.interpolation_batch(images, seed)
        return self(target, training=True), target
