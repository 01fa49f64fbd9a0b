"""Write a training folder with more variety: the digits 0-4 plus tiles of other real photographs.

Issue 38's last starting point: "training on more variety, and models that reconstruct photos well
enough to edit them".  A model trained on ``digits`` alone redraws the far domain's photographs
(``patches``) as strokes.  This folder adds photographs to its training data, so that a model can
learn to reconstruct them.  None of the photographs is one that ``patches`` is made of (its
classes stay novel), and no animal silhouette is used (``skimage.data.horse`` stays out):

- ``digit-0`` ... ``digit-4``: the ``digits`` train split (digits 0-4, 85 %), unchanged;
- one class per photograph: scikit-image's ``astronaut``, ``camera``, ``cell``, ``clock``,
  ``coffee``, ``moon``, ``retina``, ``rocket`` and the left ``stereo_motorcycle`` view,
  scikit-learn's ``china`` and ``flower``, matplotlib's ``grace_hopper``.  Each class holds
  non-overlapping 24x24 tiles of the grayscale photo resized to 28x28 exactly as
  :mod:`augintae_tf.data.patches` makes its tiles; flat tiles (standard deviation under
  :data:`FLAT`, e.g. the retina photo's black border) are dropped, and at most :data:`PER_PHOTO`
  are kept (a fixed random subset), so the digits are about a third of the folder (763 of
  2,337 images).

Two photographs hold faces (astronaut, grace_hopper): their tiles are face parts at another
scale, not the LFW faces of ``patches``' ``face`` class.

Run: ``python benchmarks/mixed_photos_folder.py OUT_DIR`` (OUT_DIR must not exist), then train on
it with ``--set data.dataset=OUT_DIR`` and score near (``--novel-dataset digits``) and far
(``--novel-dataset patches``) with ``benchmarks/fewshot_quality.py``.  Prints a table of the
classes and writes ``OUT_DIR.json`` beside the folder.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from augintae_tf.atomic import write_json
from augintae_tf.data import digits, patches

PER_PHOTO = 150
FLAT = 0.02  # tiles whose pixel standard deviation (in [0, 1]) is under this are dropped
_SUBSET_SEED = 1


def _photos() -> list[tuple[str, np.ndarray]]:
    """(class name, float [H, W] gray in [0, 1]) of each photograph, in a fixed order."""
    import matplotlib.cbook
    import skimage.data
    from sklearn.datasets import load_sample_image

    photos = [(name, getattr(skimage.data, name)())
              for name in ("astronaut", "camera", "cell", "clock", "coffee", "moon", "retina",
                           "rocket")]
    photos.append(("motorcycle", skimage.data.stereo_motorcycle()[0]))
    photos += [(name, load_sample_image(f"{name}.jpg")) for name in ("china", "flower")]
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
        photos.append(("grace_hopper", np.asarray(Image.open(handle))))
    return [(name, patches.gray(image)) for name, image in photos]


def photo_tiles(image: np.ndarray, label: int) -> np.ndarray:
    """uint8 [n, 28, 28] of one photograph: textured tiles, at most PER_PHOTO of them."""
    squares = patches.tiles(image)
    squares = squares[squares.std(axis=(1, 2)) >= FLAT]
    if len(squares) > PER_PHOTO:
        keep = np.random.default_rng([_SUBSET_SEED, label]).choice(len(squares), PER_PHOTO,
                                                                    replace=False)
        squares = squares[np.sort(keep)]
    return patches.to_28(squares)


def write_folder(out: Path) -> dict[str, int]:
    """Write every class's PNGs into a sibling temporary folder, then rename it to ``out``; on
    any failure the temporary folder goes and ``out``'s parent is left as it was."""
    images, labels = digits.split_arrays("train")
    classes = {f"digit-{d}": images[labels == d][..., 0] for d in digits.BACKGROUND}
    for label, (name, photo) in enumerate(_photos()):
        classes[name] = photo_tiles(photo, label)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for name, members in classes.items():
            (staging / name).mkdir()
            for i, image in enumerate(members):
                Image.fromarray(image, "L").save(staging / name / f"{i:04d}.png")
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {name: len(members) for name, members in classes.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the folder to create (must not exist)")
    out = parser.parse_args().out.resolve()
    if out.exists():
        raise SystemExit(f"{out} exists: pass a new folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    counts = write_folder(out)
    print("| class | images |\n|---|---:|")
    for name, count in counts.items():
        print(f"| {name} | {count} |")
    print(f"| total | {sum(counts.values())} |")
    record = {"folder": str(out), "per_photo": PER_PHOTO, "flat": FLAT, "classes": counts}
    write_json(f"{out}.json", record, indent=1)


if __name__ == "__main__":
    main()
