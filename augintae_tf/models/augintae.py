"""AugIntAE: reconstruct the pixel blend of two augmentations of an image from the slerp of their
latents, so the decoder learns smooth paths between related views rather than class identities."""
from __future__ import annotations

import tensorflow as tf

from augintae_tf.latent import slerp
from augintae_tf.models.base import Autoencoder, blend


class AugIntAE(Autoencoder):
    def training_batch(self, images, seed):
        a1, a2 = self.augment(images, seed, 1), self.augment(images, seed, 2)
        alpha = self.alphas(images, seed)
        # One encoder pass over both views: half the kernel launches, and BatchNorm sees the
        # statistics of the whole augmented batch rather than two half-batches.
        z1, z2 = tf.split(self.encode(tf.concat([a1, a2], axis=0), training=True), 2, axis=0)
        prediction = self.decode(slerp(z1, z2, alpha), training=True)
        return prediction, blend(a1, a2, alpha)
