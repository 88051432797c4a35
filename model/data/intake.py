"""A class's own pictures as a training set (the Train tab): uploaded images and zips of them, each fitted
to the square the way `--dataset folder` fits a folder, with every file that cannot be used listed beside
the set with its reason; the tab's built-in sets; a held-out split, augmentation for small sets, and a
contact sheet of the images as the model will see them.

Nothing is extracted to disk: a zip is checked as a whole first (names, links, declared sizes, compression
ratios), then its entries are read into memory one at a time, within a byte budget, and decoded by the
same checks as any upload (uploads.py: allowed formats, pixel limit before decoding). A bad picture is
skipped with its reason; only a zip that is unsafe or unreadable as a whole, or too few usable pictures,
refuses the set. Every DataError message names files by their upload name, never a server path.
"""
from __future__ import annotations

import math
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from .base import IMAGE_SUFFIXES, TRAIN_SETS, DataError, Dataset
from .digits import load_digits
from .emoji import NOTO_EMOJI, build_emoji_dataset
from .faces import cache_dir as faces_cache_dir
from .faces import load_faces
from .fashion import load_fashion_mnist
from .folder import load_folder
from .uploads import ImageError, open_image, preprocess_image

# How many pictures a set may have. Fewer than 8 cannot spread over a latent space (and the held-out split
# needs one of them); 5,000 is a class's worth of pictures, decoded in about a minute, 15 MB as 32x32 colour.
MIN_IMAGES = 8
MAX_IMAGES = 5_000
# What one zip may unpack to, declared in its headers and counted again while reading (headers can lie).
# Far above 5,000 small pictures; far below what a zip bomb (a few kB that inflate to gigabytes) asks for.
MAX_UNZIPPED_BYTES = 200 * 2**20
# Pictures barely compress (PNG and JPEG are compressed already); a bomb compresses ~1000 to 1. An entry
# under RATIO_FLOOR cannot hurt on its own (MAX_UNZIPPED_BYTES bounds them together), and a plain white
# BMP drawing may well compress 100 to 1, so the ratio is checked only above it.
MAX_RATIO = 100
RATIO_FLOOR = 2**20
# The squares pictures are fitted into: MNIST's 28 for grey, CIFAR's 32 for colour (a colour model needs
# more numbers per picture; 32 is divisible by 2**len(widths) for up to 5 stride-2 stages).
GREY_SIZE, COLOUR_SIZE = 28, 32
MIN_SIZE, MAX_SIZE = 8, 128
# Photos, drawings and emoji sit on white: the background `--dataset folder` composites onto, and where
# border pixels shifted in by augment() come from. No inversion: a user's set is its own data set.
BACKGROUND = "white"
# Grey or colour, decided from the data: a picture has colour when its pixels' channel spread (max - min
# over R, G, B, in [0, 1]) averages above COLOUR_SPREAD (JPEG noise in a grey photo stays near 0.01);
# the set is colour when at least COLOUR_SHARE of its pictures have colour.
COLOUR_SPREAD = 0.04
COLOUR_SHARE = 0.10
MAX_COPIES = 32                      # augment(): more copies of a few pictures only teaches them by heart
SEPARATOR = 128                      # contact_sheet(): mid grey shows against black and white backgrounds
HIDDEN_NAMES = ("__MACOSX", "Thumbs.db", "desktop.ini")   # what zipping on a Mac or Windows adds
EMOJI_HINT = ("the emoji set needs the Noto Color Emoji font on the server: install it with "
              "`apt-get install fonts-noto-color-emoji`")


@dataclass
class Intake:
    """The usable pictures of an upload, and what was left out and why."""

    images: np.ndarray                    # uint8 (N, C, size, size)
    names: list[str]                      # one per image: its file name, or ZIP/ENTRY for a zip's
    skipped: list[tuple[str, str]]        # (file name, reason) for every file left out
    channels: int                         # 1 (grey) or 3 (colour)
    size: int


@dataclass
class _Candidate:
    """A picture to decode: its display name and a function that returns its bytes or its path."""

    name: str
    read: object


# ---------------------------------------------------------------- collecting uploads
def collect_images(paths: list[str], channels: int | None = None, size: int | None = None,
                   minimum: int = MIN_IMAGES, background: str = BACKGROUND, invert: str = "never") -> Intake:
    """Uploaded files (images and/or zips of them, mixed) -> the training set they make.

    channels None: grey or colour as the pictures are (choose_channels); size None: GREY_SIZE for grey,
    COLOUR_SIZE for colour. Raises DataError when the set cannot be made (no files, an unsafe or damaged
    zip, fewer than `minimum` or too many pictures); a single bad picture is only listed in `skipped`.
    A folder check fits pictures as the model's uploads are (its background, invert "auto")."""
    _check_shape_request(channels, size)
    if not paths:
        raise DataError(f"no files: upload at least {minimum} {'picture' if minimum == 1 else 'pictures'}, "
                        f"or a zip of them")
    with ExitStack() as stack:
        candidates, skipped = _gather(paths, stack)
        if len(candidates) > MAX_IMAGES:
            raise DataError(f"the uploads hold {len(candidates):,} images; the limit is {MAX_IMAGES:,}")
        plans = [(size or COLOUR_SIZE, 3), (size or GREY_SIZE, 1)] if channels is None else \
            [(size or (COLOUR_SIZE if channels == 3 else GREY_SIZE), channels)]
        names, fitted = _decode_all(candidates, plans, skipped, background, invert)
    if len(names) < minimum:
        raise DataError(_too_few(len(names), skipped, minimum))
    fitted = [np.stack(arrays) for arrays in fitted]
    chosen = choose_channels(fitted[0]) if channels is None else channels
    images = fitted[[c for _, c in plans].index(chosen)]
    return Intake(images, names, skipped, chosen, images.shape[-1])


def _check_shape_request(channels, size) -> None:
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be 1, 3 or None, got {channels!r}")
    if size is not None and not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be from {MIN_SIZE} to {MAX_SIZE}, got {size!r}")


def _gather(paths, stack: ExitStack) -> tuple[list[_Candidate], list[tuple[str, str]]]:
    """Every picture to decode, in upload order (a zip's in name order). A file is a zip by its name
    (.zip); zips are opened (kept open on stack) and checked whole here, so an unsafe zip refuses the
    set before anything is decoded. Any other file is decoded as a picture, whatever its name."""
    candidates, skipped = [], []
    for path in paths:
        label = Path(path).name
        if not label.lower().endswith(".zip"):
            candidates.append(_Candidate(label, lambda p=path: p))
            continue
        zf = stack.enter_context(_open_zip(path, label))
        entries, left_out = _zip_pictures(zf, label)
        budget = [MAX_UNZIPPED_BYTES]            # shared by the zip's entries, counted while reading
        candidates += [_Candidate(f"{label}/{info.filename}", lambda i=info, z=zf, b=budget, n=label:
                                  _read_entry(z, i, n, b)) for info in entries]
        skipped += left_out
    return candidates, skipped


def _decode_all(candidates, plans, skipped, background: str = BACKGROUND,
                invert: str = "never") -> tuple[list[str], list[list[np.ndarray]]]:
    """Each candidate decoded once and fitted into every (size, channels) of plans; a picture that
    cannot be used goes into skipped with its reason."""
    names, out = [], [[] for _ in plans]
    for cand in candidates:
        try:
            arrays = fit_picture(cand.read(), plans, background, invert)
        except ImageError as e:
            skipped.append((cand.name, str(e)))
            continue
        names.append(cand.name)
        for dest, arr in zip(out, arrays, strict=True):
            dest.append(arr)
    return names, out


def fit_picture(source, plans: list[tuple[int, int]], background: str = BACKGROUND,
                invert: str = "never") -> list[np.ndarray]:
    """One picture (a path or its bytes) -> uint8 (C, size, size) per (size, channels) in plans: decoded
    once, fitted as preprocess_image fits an upload (letterboxed on BACKGROUND, never inverted)."""
    work = max(256, 8 * max(s for s, _ in plans))          # preprocess_image's working resolution
    img = open_image(source, draft_side=work)
    try:
        return [preprocess_image(img, s, c, background, invert) for s, c in plans]
    finally:
        img.close()


def choose_channels(colour_images: np.ndarray) -> int:
    """3 when at least COLOUR_SHARE of the pictures (uint8 (N, 3, H, W)) have real colour, else 1."""
    spread = colour_images.max(axis=1).astype(np.int16) - colour_images.min(axis=1)   # (N, H, W)
    colourful = spread.mean(axis=(1, 2)) / 255.0 > COLOUR_SPREAD
    return 3 if len(colourful) and colourful.mean() >= COLOUR_SHARE else 1


def _too_few(n: int, skipped, minimum: int = MIN_IMAGES) -> str:
    if n == 0:
        head = "none of the files is a usable picture"
    else:
        head = "one image is not enough to learn a space" if n == 1 else f"{n} images are not enough to learn a space"
    msg = head if n == 0 and minimum <= 1 else f"{head}: add at least {minimum}"
    if skipped:
        shown = "; ".join(f"{name}: {reason}" for name, reason in skipped[:3])
        msg += f" (left out: {shown}{' …' if len(skipped) > 3 else ''})"
    return msg


# ---------------------------------------------------------------- zips, never extracted
def _open_zip(path, label) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise DataError(f"{label} was not found (the upload may have expired: upload it again)") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)[:120]
        raise DataError(f"{label} is not a readable zip file (damaged or truncated: {reason})") from None


def _zip_pictures(zf: zipfile.ZipFile, label: str) -> tuple[list[zipfile.ZipInfo], list[tuple[str, str]]]:
    """The picture entries of a zip checked whole (unsafe: DataError), and the entries left out."""
    infos = [i for i in zf.infolist() if not i.is_dir()]
    for info in infos:
        _refuse_unsafe_entry(info, label)
    _refuse_bomb(infos, label)
    pictures, skipped, others = [], [], []
    for info in sorted(infos, key=lambda i: i.filename):
        name, suffix = info.filename, PurePosixPath(info.filename).suffix.lower()
        if _hidden(name):
            continue
        if suffix in IMAGE_SUFFIXES and info.flag_bits & 0x1:
            skipped.append((f"{label}/{name}", "encrypted: zip it again without a password"))
        elif suffix in IMAGE_SUFFIXES:
            pictures.append(info)
            continue
        elif suffix == ".zip":
            skipped.append((f"{label}/{name}", "a zip inside a zip is not opened: upload it on its own"))
        else:
            skipped.append((f"{label}/{name}", f"not a picture ({', '.join(IMAGE_SUFFIXES)})"))
        others.append(name)
    if not pictures:
        listed = ", ".join(others[:5]) + (" …" if len(others) > 5 else "")
        raise DataError(f"{label}: the zip holds no images ({f'it has: {listed}' if others else 'it is empty'})")
    if len(pictures) > MAX_IMAGES:
        raise DataError(f"{label} has {len(pictures):,} images; the limit is {MAX_IMAGES:,}")
    return pictures, skipped


def _refuse_unsafe_entry(info: zipfile.ZipInfo, label: str) -> None:
    """Zip-slip (an absolute name, a drive, or '..') and symbolic links refuse the whole zip: nothing
    is extracted here, but a zip made to escape a folder was not made in good faith."""
    name = info.filename
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
        raise DataError(f"{label} is refused: its entry {name[:120]!r} points outside the zip "
                        "(an absolute path or '..')")
    if info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16):
        raise DataError(f"{label} is refused: its entry {name[:120]!r} is a symbolic link")


def _refuse_bomb(infos: list[zipfile.ZipInfo], label: str) -> None:
    """Before reading anything: what the headers say the zip unpacks to, in all and entry by entry."""
    total = sum(i.file_size for i in infos)
    if total > MAX_UNZIPPED_BYTES:
        raise DataError(f"{label} is refused: it unpacks to {total / 2**20:,.0f} MB; "
                        f"the limit is {MAX_UNZIPPED_BYTES // 2**20} MB")
    for i in infos:
        if i.file_size > RATIO_FLOOR and i.file_size > MAX_RATIO * max(i.compress_size, 1):
            raise DataError(f"{label} is refused: {i.filename[:120]!r} is compressed "
                            f"{i.file_size / max(i.compress_size, 1):,.0f} to 1 (a zip bomb?)")


def _hidden(name: str) -> bool:
    """What an archiver adds beside the pictures (.DS_Store, __MACOSX/, Thumbs.db): left out silently."""
    return any(part.startswith(".") or part in HIDDEN_NAMES for part in name.split("/"))


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, budget: list[int]) -> bytes:
    """One entry's bytes, reading no more than its header declares nor than the zip's budget has left
    (in case the headers lie). A damaged entry is an ImageError (skipped); a lying zip a DataError."""
    limit = min(info.file_size, budget[0])
    try:
        with zf.open(info) as f:
            data = f.read(limit + 1)
    except NotImplementedError as e:
        raise ImageError(f"compressed with a method that cannot be read ({e}): zip it again") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError) as e:
        raise ImageError(f"damaged inside the zip ({str(e)[:120]})") from None
    if len(data) > limit:
        raise DataError(f"{label} is refused: {info.filename[:120]!r} unpacks to more than its header says "
                        f"or than the zip may hold ({MAX_UNZIPPED_BYTES // 2**20} MB)")
    budget[0] -= len(data)
    return data


# ---------------------------------------------------------------- small sets: split, augment, look
def split_holdout(images: np.ndarray, fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train, test): a seeded random `fraction` held out to measure the model on pictures it did not
    train on; at least one test picture and at least MIN_IMAGES - 1 training ones. Split first, then
    augment the training part: copies of a test picture in training would flatter the test score."""
    n = len(images)
    if n < MIN_IMAGES:
        raise DataError(_too_few(n, []))
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction!r}")
    n_test = min(max(1, round(n * fraction)), n - (MIN_IMAGES - 1))
    test = np.zeros(n, dtype=bool)
    test[np.random.default_rng(seed).permutation(n)[:n_test]] = True
    return images[~test], images[test]


def augment(images: np.ndarray, copies: int, seed: int, flips: bool = False) -> np.ndarray:
    """The originals, then `copies` rounds of every picture shifted by a few pixels (up to 2 at 28, in
    proportion at other sizes), the uncovered edge filled with the picture's border colour: a few dozen
    pictures then fill a space instead of being learnt by heart. With `flips`, each copy is also mirrored
    left-right at random: right for clothes, faces and photos, wrong for handwriting, digits, letters and
    text, hence off unless asked. The same seed gives the same shifts with or without flips.
    uint8 (N, C, H, W) -> uint8 (N * (1 + copies), C, H, W)."""
    images = _check_images(images)
    if not 0 <= copies <= MAX_COPIES:
        raise ValueError(f"copies must be from 0 to {MAX_COPIES}, got {copies!r}")
    rng = np.random.default_rng(seed)
    n, _, h, _ = images.shape
    reach = max(1, round(2 * h / 28))
    rounds = [images.copy()]
    for _ in range(copies):
        mirrored = (rng.random(n) < 0.5) & flips                # drawn either way: the shifts stay the same
        shifts = rng.integers(-reach, reach + 1, size=(n, 2))
        rounds.append(np.stack([shift(img[..., ::-1] if flip else img, int(dy), int(dx))
                                for img, flip, (dy, dx) in zip(images, mirrored, shifts, strict=True)]))
    return np.concatenate(rounds)


def shift(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """(C, H, W) moved down dy and right dx pixels; what is uncovered takes the border's colour."""
    _, h, w = img.shape
    out = np.empty_like(img)
    out[:] = border_value(img)[:, None, None]
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        img[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def border_value(img: np.ndarray) -> np.ndarray:
    """(C,) the median of each channel's outermost pixels: the picture's background."""
    border = np.concatenate([img[:, 0], img[:, -1], img[:, :, 0], img[:, :, -1]], axis=1)   # (C, 2H + 2W)
    return np.round(np.median(border, axis=1)).astype(img.dtype)


def contact_sheet(images: np.ndarray, limit: int = 64, columns: int = 8) -> np.ndarray:
    """The first `limit` pictures in a grid, `columns` wide (fewer when there are fewer pictures), with a
    1-pixel mid-grey line between them: the set as the model will see it, at its own resolution (the page
    enlarges it with nearest neighbour). uint8 (N, C, h, w) -> uint8 (H, W, C)."""
    images = _check_images(images)[:limit]
    n, c, h, w = images.shape
    if n == 0:
        raise ValueError("no images to show")
    cols = min(columns, n)
    rows = math.ceil(n / cols)
    sheet = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1, c), SEPARATOR, dtype=np.uint8)
    for i, img in enumerate(images):
        top, left = (i // cols) * (h + 1), (i % cols) * (w + 1)
        sheet[top:top + h, left:left + w] = img.transpose(1, 2, 0)
    return sheet


def _check_images(images) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected uint8 images (N, 1 or 3, H, W), got {images.dtype} {images.shape}")
    return images


# ---------------------------------------------------------------- the tab's built-in sets
def builtin_training_set(name: str) -> tuple[Dataset, Dataset]:
    """(train, test) of a built-in set, uint8 (N, C, H, W): fashion-mnist and digits 28x28 grey, faces
    64x64 colour (generated into the cache once), emoji 32x32 colour on white (rendered into the cache
    once from Debian's Noto Color Emoji font)."""
    if name == "fashion-mnist":
        return load_fashion_mnist("train"), load_fashion_mnist("test")
    if name == "digits":
        return load_digits("train", GREY_SIZE), load_digits("test", GREY_SIZE)
    if name == "faces":
        return load_faces("train"), load_faces("test")
    if name == "emoji":
        folder = emoji_folder()
        return tuple(load_folder(folder, split, COLOUR_SIZE, 3, background=BACKGROUND) for split in ("train", "test"))
    raise DataError(f"unknown built-in set {name!r}: choose one of {', '.join(TRAIN_SETS)}")


def emoji_cache_dir() -> Path:
    """Beside the faces cache: $VAE_DATA_DIR/emoji or ~/.cache/vae-latent-explorer/emoji."""
    return faces_cache_dir().parent / "emoji"


def emoji_folder() -> Path:
    """The emoji folder (`python -m model data emoji` at 64x64), built once into the cache: into a hidden
    temporary folder first, renamed into place when complete, so a crash leaves no half-built set."""
    folder = emoji_cache_dir()
    if (folder / "labels.csv").is_file():
        return folder
    if folder.exists():
        raise DataError(f"{folder} is an incomplete emoji set (it has no labels.csv): delete it to rebuild it")
    if not Path(NOTO_EMOJI).is_file():
        raise DataError(EMOJI_HINT)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".emoji.", dir=folder.parent))
    try:
        print(f"rendering the emoji set into {folder} (once)", flush=True)
        build_emoji_dataset(tmp, NOTO_EMOJI)
        os.chmod(tmp, 0o755)                                  # mkdtemp makes 0700
        os.rename(tmp, folder)
    except OSError:
        if not (folder / "labels.csv").is_file():             # not another process finishing first
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
