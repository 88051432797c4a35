"""Build a colour data set from Debian's `fonts-noto-color-emoji`: one 64x64 RGB image per emoji.

    python -m model data emoji --out data/emoji        # then:
    python -m model train --dataset folder --data-dir data/emoji --image-size 64 --channels 3 ...

The font's characters are enumerated from its cmap table (fontTools); each is drawn with its
colour bitmap (Pillow's embedded_color), cropped to its ink, fitted into the square on white,
and filed under its group (the class), named after its Unicode name. Empty glyphs are skipped.
"""
from __future__ import annotations

import csv
import re
import unicodedata
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .base import DataError

NOTO_EMOJI = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
FONT_HINT = "Noto Color Emoji not found: install it with `apt-get install fonts-noto-color-emoji` or pass --font"
BITMAP_SIZE = 109                    # the only size the font's CBDT colour bitmaps come in

# (group, code point ranges, name keywords); the first match wins. Unicode's own grouping lives
# in emoji-test.txt, which is not on the machine: this approximates its top-level groups.
GROUPS = [
    ("flags", [(0x1F1E6, 0x1F1FF)], ["FLAG"]),
    ("faces", [(0x1F600, 0x1F64F), (0x1F910, 0x1F92F), (0x1F970, 0x1F97A), (0x1FAE0, 0x1FAE8)],
     ["FACE", "SMILING", "GRINNING"]),
    ("people", [(0x1F466, 0x1F487), (0x1F9D0, 0x1F9DF), (0x1F440, 0x1F450), (0x1FAF0, 0x1FAF8)],
     ["HAND", "FINGER", "PERSON", "WOMAN", " MAN", "BABY", "BOY", "GIRL", "THUMBS", "FIST"]),
    ("animals & nature", [(0x1F400, 0x1F43F), (0x1F980, 0x1F9AE), (0x1F330, 0x1F344), (0x1FAB0, 0x1FABF)],
     ["CAT", "DOG", "BIRD", "FISH", "TREE", "FLOWER", "LEAF", "BLOSSOM", "ROSE", "BUG"]),
    ("food & drink", [(0x1F345, 0x1F37F), (0x1F950, 0x1F96F), (0x1F9C0, 0x1F9CB), (0x1FAD0, 0x1FADB)], []),
    ("sky & weather", [(0x1F300, 0x1F32C), (0x2600, 0x2604), (0x26C4, 0x26C8)],
     ["SUN", "MOON", "STAR", "CLOUD", "RAIN", "SNOW", "RAINBOW", "COMET"]),
    ("travel & places", [(0x1F680, 0x1F6FF), (0x1F3D4, 0x1F3F0)], ["CAR", "TRAIN", "BUILDING", "HOUSE"]),
    ("activities", [(0x1F380, 0x1F3D3), (0x26BD, 0x26BE), (0x1F93A, 0x1F94F)], ["BALL", "GAME"]),
    ("symbols", [(0x2190, 0x21FF), (0x2700, 0x27BF), (0x1F500, 0x1F53D), (0x1F191, 0x1F19A), (0x2640, 0x267F)],
     ["SIGN", "SYMBOL", "ARROW", "HEART", "SQUARED", "CIRCLED", "BUTTON"]),
]


def group_of(cp: int, name: str) -> str:
    if name.startswith("CLOCK FACE"):
        return "objects"
    for group, ranges, _words in GROUPS:
        if any(lo <= cp <= hi for lo, hi in ranges):
            return group
    for group, _, words in GROUPS:
        if any(w in name for w in words):
            return group
    return "objects"


def emoji_code_points(font_path: Path) -> list[int]:
    """Code points the font maps to a glyph, that Unicode names (so not joiners or tags)."""
    from fontTools.ttLib import TTFont

    cmap = TTFont(str(font_path), lazy=True).getBestCmap()
    return sorted(cp for cp in cmap if cp > 0xFF and unicodedata.name(chr(cp), "")
                  and not 0x1F1E6 <= cp <= 0x1F1FF                # regional indicator letters
                  and not 0x1F3FB <= cp <= 0x1F3FF                # skin-tone swatches
                  and unicodedata.category(chr(cp)) not in ("Mn", "Cf", "Zs", "Co"))


def render(font: ImageFont.FreeTypeFont, ch: str, size: int = 64) -> Image.Image | None:
    """Draw one emoji in colour, crop to its ink, fit into size x size on white (None: empty)."""
    canvas = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((10, 10), ch, font=font, embedded_color=True)
    bbox = canvas.getbbox()
    if bbox is None:
        return None
    glyph = canvas.crop(bbox)
    if np.asarray(glyph)[..., 3].astype(bool).mean() < 0.02:       # a few stray pixels: empty
        return None
    scale = (size - 4) / max(glyph.size)
    glyph = glyph.resize((max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale))), Image.LANCZOS)
    out = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    out.alpha_composite(glyph, ((size - glyph.width) // 2, (size - glyph.height) // 2))
    return out.convert("RGB")


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def build_emoji_dataset(out: str | Path, font_path: str | Path = NOTO_EMOJI, size: int = 64) -> int:
    """Write OUT/GROUP/NAME.png for every non-empty emoji, and OUT/labels.csv; returns the count."""
    font_path = Path(font_path)
    if not font_path.is_file():
        raise DataError(FONT_HINT)
    font = ImageFont.truetype(str(font_path), BITMAP_SIZE)
    out = Path(out)
    rows, seen = [], set()
    for cp in emoji_code_points(font_path):
        img = render(font, chr(cp), size)
        if img is None:
            continue
        key = img.tobytes()
        if key in seen:                                  # identical bitmaps: keep one
            continue
        seen.add(key)
        name = unicodedata.name(chr(cp))
        group = group_of(cp, name)
        path = out / slug(group) / f"{cp:05x}-{slug(name)}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path)
        rows.append((f"U+{cp:04X}", name, group, str(path.relative_to(out))))
    with open(out / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["code_point", "name", "group", "file"])
        w.writerows(rows)
    return len(rows)
