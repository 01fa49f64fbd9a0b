"""augintae-tf: Augmentation-Interpolative AutoEncoders for unsupervised few-shot image generation."""
__version__ = "0.1.0"
