"""The ``far`` classes of the ``glyphs`` dataset: symbols that are not letters of any script.

Novel alphabets (the ``test`` split) are near the training alphabets: strokes of similar width
and shape, written to be read.  The paper's claim is broader generalisation (MNIST -> EMNIST,
MNIST -> Fashion-MNIST), so ``far`` draws its classes from Unicode blocks of arrows, mathematical
operators, technical symbols, box drawing, geometric shapes and dingbats, rendered from the same
shipped fonts with the same per-instance jitter as the alphabets.  Every block below is covered
by DejaVu Sans or STIX for at least 80 codepoints, so each yields a full set after the
look-alike filter; the filter runs after the background and evaluation alphabets, so no far class
looks like a letter kept there ("∑" vs Greek Sigma, "○" vs "O").
"""
from __future__ import annotations

import unicodedata

# (name, codepoint ranges) of the far symbol sets, in label order.  Two symbols that draw a
# letter or digits are cut out of their blocks: U+22FF Z NOTATION BAG MEMBERSHIP (an "E") and
# U+23E8 DECIMAL EXPONENT SYMBOL (a "10").
FAR = (
    ("arrows", ((0x2190, 0x21FF),)),
    ("math_operators", ((0x2200, 0x22FE),)),
    ("technical", ((0x2300, 0x23E7), (0x23E9, 0x23FF))),  # Miscellaneous Technical
    ("box_drawing", ((0x2500, 0x257F),)),
    ("geometric_shapes", ((0x25A0, 0x25FF),)),
    ("dingbats", ((0x2700, 0x27BF),)),
)
# Symbols only: math (Sm) and other (So).  Dingbats' circled digits (No) and the brackets of
# the technical block (Ps/Pe) are left out: digits and brackets are what the alphabets look like.
FAR_CATEGORIES = ("So", "Sm")
# 6 sets x 25 = 150 classes, as many as the ``test`` split's 5 alphabets give.
FAR_PER_SET = 25
# Look-alike threshold for far symbols, twice the alphabets' (glyphs._DUPLICATE): a symbol that
# is merely close to a letter (box-drawing corners vs "L", the complement sign vs "C") is dropped.
FAR_DUPLICATE = 0.4
_PREFIXES = ("BOX DRAWINGS ",)  # said by the set's name already


def far_name(alphabet: str, text: str) -> str:
    """``set/unicode-name``: "arrows/leftwards-arrow", "box_drawing/light-horizontal"."""
    name = unicodedata.name(text, f"U{ord(text):04X}")
    for prefix in _PREFIXES:
        name = name.removeprefix(prefix)
    return f"{alphabet}/{'-'.join(name.split()).lower()}"
