"""AugIntAE: decode the slerp of the latents of two augmentations of an image, so the decoder
learns smooth paths between related views rather than class identities.

The target (``model.target``, :func:`augintae_tf.augment.interpolation_batch`):
``augmentation`` (default) is the paper's "recovering an image from data augmentations": the image
under the interpolated transformation ``T(x; alpha * rho1 + (1 - alpha) * rho2)``, every
parameter interpolated with the latents' alpha, a real-looking image; ``blend`` is the pixel blend
``alpha * T(x; rho1) + (1 - alpha) * T(x; rho2)``, the student report's reading (section 4.1)
- a double exposure whenever the views differ.
"""
from __future__ import annotations

import tensorflow as tf

from augintae_tf.latent import slerp
from augintae_tf.models.autoencoder import Autoencoder


class AugIntAE(Autoencoder):
    def training_batch(self, images, seed):
        a1, a2, alpha, target = self.interpolation_batch(images, seed)
        # One encoder pass over both views: half the kernel launches, and BatchNorm sees the
        # statistics of the whole augmented batch rather than two half-batches.
        z1, z2 = tf.split(self.encode(tf.concat([a1, a2], axis=0), training=True), 2, axis=0)
        prediction = self.decode(slerp(z1, z2, alpha), training=True)
        return prediction, target
