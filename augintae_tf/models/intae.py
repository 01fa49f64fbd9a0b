"""IntAE baseline: interpolate between the latents of two DIFFERENT images (Sainburg et al. 2018,
Berthelot et al. 2018) and reconstruct their pixel blend.

Each image is augmented once (sub-seed 1) before pairing, so IntAE trains on the same augmented
data distribution as AugIntAE and AE (appendix A.1); what differs is only that the two ends of the
interpolation are different images instead of two views of one image.
"""
from __future__ import annotations

import tensorflow as tf

from augintae_tf.latent import slerp
from augintae_tf.models.base import Autoencoder, blend, sub_seed


def partner_offset(batch_size, seed) -> tf.Tensor:
    """A roll offset in [1, B-1]: ``roll(x, offset)`` pairs every example with another one (a
    permutation without fixed points).  A batch of 1 has no partner; it is paired with itself."""
    upper = tf.maximum(tf.cast(batch_size, tf.int32), 2)
    return tf.random.stateless_uniform([], seed=seed, minval=1, maxval=upper, dtype=tf.int32)


class IntAE(Autoencoder):
    @staticmethod
    def partners(images, seed) -> tf.Tensor:
        """This step's roll offset (sub-seed 3; 0 is alpha, 1 and 2 are augmentations)."""
        return partner_offset(tf.shape(images)[0], sub_seed(seed, 3))

    def training_batch(self, images, seed):
        views = self.augment(images, seed, 1)
        alpha = self.alphas(images, seed)
        offset = self.partners(images, seed)
        z = self.encode(views, training=True)
        prediction = self.decode(slerp(z, tf.roll(z, offset, axis=0), alpha), training=True)
        return prediction, blend(views, tf.roll(views, offset, axis=0), alpha)
