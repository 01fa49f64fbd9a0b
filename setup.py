"""augintae-tf: Augmentation-Interpolative AutoEncoders in TensorFlow/Keras 3."""
from setuptools import find_packages, setup

setup(
    name="augintae-tf",
    version="0.1.0",
    description="Augmentation-Interpolative AutoEncoders for unsupervised few-shot image generation",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.14",
    packages=find_packages(include=["augintae_tf", "augintae_tf.*"]),
    # The packages live in the project root ("" -> "."), said explicitly: with that simple layout
    # setuptools' editable install is one .pth line naming this folder, instead of a meta path
    # finder whose install prints a boxed "Editable installation ... folders in your working
    # directory" warning (setuptools/command/editable_wheel.py, _select_strategy). The wheel is
    # the same: only augintae_tf and its package data.
    package_dir={"": "."},
    package_data={"augintae_tf.config": ["presets/*.yaml"]},
    install_requires=[
        "keras>=3.15,<4",
        "tensorflow-datasets>=4.9.9,<5",
        # tensorflow-datasets 4.9.x imports importlib_resources without declaring it.
        "importlib_resources>=6",
        "numpy>=1.26,<3",
        "click>=8.1,<9",
        "Pillow>=10,<14",
        "matplotlib>=3.8,<4",
        "PyYAML>=6,<7",
        # TensorFlow 2.21 no longer pulls TensorBoard in; the run directory keeps its logs.
        "tensorboard>=2.19,<3",
    ],
    # TensorFlow comes through an extra because its CPU and GPU builds are different distributions
    # that both install the `tensorflow` module: pick exactly one.
    extras_require={
        "cpu": ["tensorflow-cpu>=2.21,<2.22"],
        "gpu": ["tensorflow[and-cuda]>=2.21,<2.22"],
        # `--dataset digits`: scikit-learn ships the UCI handwritten digits inside its wheel
        "digits": ["scikit-learn>=1.4,<2"],
        # `--novel-dataset patches`: scikit-image ships the photographs inside its wheel
        "patches": ["scikit-image>=0.24,<0.27"],
        "test": ["pytest>=8,<10", "pytest-xdist>=3.5,<4", "scipy>=1.11,<2", "scikit-learn>=1.4,<2",
                 "scikit-image>=0.24,<0.27"],
    },
    entry_points={"console_scripts": ["augintae-tf=augintae_tf.cli.main:main"]},
)
