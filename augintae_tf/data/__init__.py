"""Datasets: TFDS by name (prepared data only), image folders, and the offline ``glyphs`` set.

Every image is float32 in [0, 1], channels last, square; character datasets are white strokes
on black like MNIST.  Labels are int32.
"""
from .folder import load_image_files
from .pipeline import (FALLBACK_WARNINGS, dataset_splits, is_available_offline, label_names,
                       load_arrays, load_split, make_dataset, resolve_held_out, resolve_novel,
                       same_images, training_image_fallbacks)
from .registry import DataError, DatasetInfo, list_datasets
from .sets import SetSummary, check_labelled, make_set_dataset, set_summary

__all__ = ["FALLBACK_WARNINGS", "DataError", "DatasetInfo", "dataset_splits",
           "is_available_offline", "label_names", "list_datasets", "load_arrays", "load_image_files", "load_split", "make_dataset",
           "make_set_dataset", "resolve_held_out", "resolve_novel", "same_images", "SetSummary",
           "check_labelled", "set_summary", "training_image_fallbacks"]
