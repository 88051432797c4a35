"""`python -m model data emoji|faces --out DIR`: build a data set folder (see model/data/emoji.py, faces.py)."""
from __future__ import annotations

import argparse

from ..cli import run
from .base import DataError
from .emoji import build_emoji_dataset
from .faces import build_faces, contact_sheet


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m model data", description="build a data set folder")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("emoji", help="render Noto Color Emoji into 64x64 RGB images, by group")
    e.add_argument("--out", required=True)
    e.add_argument("--font", default="/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
    e.add_argument("--size", type=int, default=64)
    f = sub.add_parser("faces", help="draw flat-design faces with known factors: OUT/train.npz, test.npz, sheet.png")
    f.add_argument("--out", required=True)
    f.add_argument("--n", type=int, default=50_000, help="training faces (the test set gets n // 10)")
    f.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.command == "faces":
        return run(lambda: "wrote {train} training and {test} test faces to ".format(
            **build_faces(args.out, args.n, seed=args.seed)) + f"{args.out} (look at {contact_sheet(args.out)})",
            DataError)
    return run(lambda: f"wrote {build_emoji_dataset(args.out, args.font, args.size)} emoji images to {args.out}",
               DataError)
