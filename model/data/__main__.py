"""`python -m model.data emoji --out DIR`: build a data set folder (see model/data/emoji.py)."""
from __future__ import annotations

import argparse
import sys

from ..cli import run
from .base import DataError
from .emoji import build_emoji_dataset


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.data", description="build a data set folder")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("emoji", help="render Noto Color Emoji into 64x64 RGB images, by group")
    e.add_argument("--out", required=True)
    e.add_argument("--font", default="/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
    e.add_argument("--size", type=int, default=64)
    args = p.parse_args(argv)
    return run(lambda: f"wrote {build_emoji_dataset(args.out, args.font, args.size)} emoji images to {args.out}",
               DataError)


if __name__ == "__main__":
    sys.exit(main())
