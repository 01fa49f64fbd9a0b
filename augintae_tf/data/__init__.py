"""Datasets: TFDS by name (prepared data only), image folders, and the offline ``glyphs`` set.

Every image is float32 in [0, 1], channels last, square; character datasets are white strokes
on black like MNIST.  Labels are int32.

The names below are loaded when first used (PEP 562): what a dataset is (:mod:`.registry`,
:mod:`.facts`, a folder's look) is known without importing TensorFlow, which the pipeline loads.
"""
from importlib import import_module

_HOMES = {
    "facts": ("dataset_splits",),
    "folder": ("load_image_files",),
    "pipeline": ("FALLBACK_WARNINGS", "is_available_offline", "label_names", "load_arrays",
                 "load_split", "make_dataset", "resolve_held_out", "resolve_novel", "same_images",
                 "training_image_fallbacks"),
    "registry": ("DataError", "DatasetInfo", "list_datasets"),
    "sets": ("SetSummary", "check_labelled", "make_set_dataset", "set_summary"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # once: later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
