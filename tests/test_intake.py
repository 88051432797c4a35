"""A class's own pictures as a training set (model/data/intake.py): uploads and zips fitted like a folder,
grey or colour read from the data, bad pictures skipped with their reason, every unsafe or unusable
upload refused with its own message (zip-slip, links, bombs, damaged zips, too few, too many), and the
helpers for small sets (held-out split, augmentation, contact sheet) and the built-in sets.

Every picture and zip is built here, small, in tmp_path; nothing is extracted or downloaded."""
import io
import stat
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.data import DataError, preprocess_image
from model.data import intake as mi
from model.data.emoji import NOTO_EMOJI
from model.data.faces import build_faces

RNG = np.random.default_rng(0)


# ---------------------------------------------------------------- builders
def png(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def grey_picture(i: int, size=(30, 24)) -> Image.Image:
    return Image.fromarray(np.random.default_rng(i).integers(0, 256, size[::-1], dtype=np.uint8), "L")


def colour_picture(i: int, size=(40, 30)) -> Image.Image:
    return Image.fromarray(np.random.default_rng(100 + i).integers(0, 256, (*size[::-1], 3), dtype=np.uint8), "RGB")


def files(tmp_path: Path, pictures: dict[str, bytes]) -> list[str]:
    """Write name -> bytes into tmp_path; the paths, in order."""
    out = []
    for name, data in pictures.items():
        (tmp_path / name).write_bytes(data)
        out.append(str(tmp_path / name))
    return out


def make_zip(path: Path, entries: dict, compression=zipfile.ZIP_STORED) -> str:
    """entries: name -> bytes, or name -> ZipInfo-ready (info, bytes) for odd entries."""
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in entries.items():
            if isinstance(data, tuple):
                zf.writestr(*data)
            else:
                zf.writestr(name, data)
    return str(path)


def grey_zip(path: Path, n: int, folder: str = "pics/", extra: dict | None = None) -> str:
    entries = {f"{folder}g{i:02d}.png": png(grey_picture(i)) for i in range(n)}
    return make_zip(path, {**entries, **(extra or {})})


def bomb_png(side: int) -> bytes:
    """A valid side x side 1-bit PNG of zeros: a few kB on disk, side^2 pixels decoded."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    co, row = zlib.compressobj(9), b"\0" * (1 + (side + 7) // 8)
    idat = b"".join(co.compress(row) for _ in range(side)) + co.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


# ---------------------------------------------------------------- collecting
def test_pictures_and_a_zip_mixed_make_one_colour_set(tmp_path):
    direct = files(tmp_path, {f"c{i}.png": png(colour_picture(i)) for i in range(5)})
    zipped = grey_zip(tmp_path / "class.zip", 5, extra={"notes.txt": b"hello"})
    got = mi.collect_images(direct + [zipped])
    assert got.channels == 3 and got.size == mi.COLOUR_SIZE == 32
    assert got.images.shape == (10, 3, 32, 32) and got.images.dtype == np.uint8
    assert got.names == [f"c{i}.png" for i in range(5)] + [f"class.zip/pics/g{i:02d}.png" for i in range(5)]
    assert got.skipped == [("class.zip/notes.txt", f"not a picture ({', '.join(mi.IMAGE_SUFFIXES)})")]


def test_each_picture_is_fitted_as_an_upload_is_on_white(tmp_path):
    tall = Image.new("RGBA", (10, 40), (0, 0, 255, 0))          # transparent: white after compositing
    tall.paste((200, 0, 0, 255), (2, 5, 8, 35))
    pictures = {"tall.png": png(tall), **{f"c{i}.png": png(colour_picture(i)) for i in range(7)},
                "photo.jpg": png(colour_picture(9).resize((300, 200)), "JPEG")}
    paths = files(tmp_path, pictures)
    got = mi.collect_images(paths)
    for path, arr in zip(paths, got.images, strict=True):
        assert np.array_equal(arr, preprocess_image(path, 32, 3, "white", "never")), path
    assert (got.images[0][:, :, 0] == 255).all()                  # letterboxed and transparent: white
    grey = mi.collect_images(paths, channels=1, size=16)
    assert grey.images.shape == (9, 1, 16, 16) and grey.channels == 1 and grey.size == 16
    assert np.array_equal(grey.images[3], preprocess_image(paths[3], 16, 1, "white", "never"))


def test_grey_or_colour_is_read_from_the_data(tmp_path):
    grey_jpegs = {f"g{i}.jpg": png(grey_picture(i).convert("RGB"), "JPEG") for i in range(18)}
    got = mi.collect_images(files(tmp_path, grey_jpegs))          # RGB files, grey content, JPEG noise
    assert got.channels == 1 and got.size == mi.GREY_SIZE == 28 and got.images.shape == (18, 1, 28, 28)
    one_in_ten = files(tmp_path, {**{f"g{i}.jpg": grey_jpegs[f"g{i}.jpg"] for i in range(9)},
                                  "c.png": png(colour_picture(0))})
    assert mi.collect_images(one_in_ten).channels == 3            # 10% with colour: a colour set
    one_in_twenty = files(tmp_path, {**grey_jpegs, "c.png": png(colour_picture(0))})
    assert mi.collect_images(one_in_twenty).channels == 1         # 5%: a stray, the set is grey
    assert mi.collect_images(one_in_twenty, channels=3).images.shape == (19, 3, 32, 32)


def test_bad_pictures_are_skipped_with_their_reason(tmp_path):
    bad = {"empty.png": b"", "broken.png": b"\x89PNG\r\n\x1a\n garbage", "notes.png": b"just text",
           "bomb.png": bomb_png(20000), "drawing.svg": b'<svg xmlns="http://www.w3.org/2000/svg"/>'}
    good = {f"g{i}.png": png(grey_picture(i)) for i in range(7)} | {"dot.png": png(Image.new("L", (1, 1), 0))}
    zipped = make_zip(tmp_path / "more.zip", {f"in/{k}": v for k, v in bad.items() if k.endswith(".png")})
    got = mi.collect_images(files(tmp_path, {**bad, **good}) + [zipped])
    assert len(got.names) == 8 and "dot.png" in got.names         # a 1x1 picture is usable (letterboxed)
    reasons = dict(got.skipped)
    assert set(reasons) == set(bad) | {f"more.zip/in/{k}" for k in bad if k.endswith(".png")}
    for prefix in ("", "more.zip/in/"):
        assert "empty" in reasons[f"{prefix}empty.png"]
        assert "damaged or truncated" in reasons[f"{prefix}broken.png"]
        assert "not an image" in reasons[f"{prefix}notes.png"]
        assert "too large" in reasons[f"{prefix}bomb.png"]
    assert "SVG" in reasons["drawing.svg"]
    assert not any(str(tmp_path) in r for r in reasons.values())  # no server path in what users read


def test_no_files_is_refused():
    with pytest.raises(DataError, match="no files: upload at least 8 pictures"):
        mi.collect_images([])


@pytest.mark.parametrize("n, message", [(1, "one image is not enough to learn a space: add at least 8"),
                                        (3, "3 images are not enough to learn a space: add at least 8")])
def test_too_few_pictures_are_refused(tmp_path, n, message):
    with pytest.raises(DataError, match=message):
        mi.collect_images(files(tmp_path, {f"g{i}.png": png(grey_picture(i)) for i in range(n)}))


def test_too_few_usable_pictures_name_what_was_left_out(tmp_path):
    paths = files(tmp_path, {"a.png": b"", "b.png": b"text", **{f"g{i}.png": png(grey_picture(i)) for i in range(7)}})
    with pytest.raises(DataError) as e:
        mi.collect_images(paths)
    assert str(e.value).startswith("7 images are not enough to learn a space: add at least 8 (left out: a.png: ")
    with pytest.raises(DataError, match="none of the files is a usable picture: add at least 8"):
        mi.collect_images(paths[:2])


def test_too_many_pictures_are_refused_before_decoding(tmp_path, monkeypatch):
    monkeypatch.setattr(mi, "MAX_IMAGES", 10)
    monkeypatch.setattr(mi, "fit_picture", lambda *a: pytest.fail("decoded a picture of a refused set"))
    with pytest.raises(DataError, match="^big.zip has 11 images; the limit is 10$"):
        mi.collect_images([grey_zip(tmp_path / "big.zip", 11)])
    paths = files(tmp_path, {f"g{i}.png": png(grey_picture(i)) for i in range(6)})
    with pytest.raises(DataError, match="^the uploads hold 12 images; the limit is 10$"):
        mi.collect_images(paths + [grey_zip(tmp_path / "six.zip", 6)])


def test_the_limit_reads_with_a_thousands_separator(tmp_path, monkeypatch):
    monkeypatch.setattr(mi, "fit_picture", lambda *a: pytest.fail("decoded a picture of a refused set"))
    names = {f"{i:04d}.png": (zipfile.ZipInfo(f"{i:04d}.png"), b"") for i in range(5001)}
    with pytest.raises(DataError, match="^many.zip has 5,001 images; the limit is 5,000$"):
        mi.collect_images([make_zip(tmp_path / "many.zip", names)])


def test_a_zip_without_pictures_says_what_it_holds(tmp_path):
    with pytest.raises(DataError, match=r"^notes.zip: the zip holds no images \(it has: a.txt, b.csv\)$"):
        mi.collect_images([make_zip(tmp_path / "notes.zip", {"a.txt": b"1", "b.csv": b"2", ".DS_Store": b"3"})])
    many = {f"f{i}.txt": b"x" for i in range(7)}
    with pytest.raises(DataError, match=r"\(it has: f0.txt, f1.txt, f2.txt, f3.txt, f4.txt …\)$"):
        mi.collect_images([make_zip(tmp_path / "texts.zip", many)])
    with pytest.raises(DataError, match=r"^empty.zip: the zip holds no images \(it is empty\)$"):
        mi.collect_images([make_zip(tmp_path / "empty.zip", {"__MACOSX/._a.png": b"x"})])


def test_hidden_entries_are_left_out_silently_and_nested_zips_with_a_reason(tmp_path):
    inner = make_zip(tmp_path / "inner.zip", {"x.png": png(grey_picture(0))})
    zipped = grey_zip(tmp_path / "mac.zip", 8, extra={
        "__MACOSX/pics/._g00.png": b"\0\5\26\7", "pics/.DS_Store": b"\0", ".hidden/secret.png": b"x",
        "Thumbs.db": b"x", "pics/more.zip": Path(inner).read_bytes()})
    got = mi.collect_images([zipped])
    assert len(got.names) == 8
    assert got.skipped == [("mac.zip/pics/more.zip", "a zip inside a zip is not opened: upload it on its own")]


@pytest.mark.parametrize("entry", ["../evil.png", "pics/../../evil.png", "/etc/evil.png", "C:/evil.png",
                                   "..\\evil.png"])
def test_zip_slip_refuses_the_whole_zip_naming_the_entry(tmp_path, entry, monkeypatch):
    monkeypatch.setattr(mi, "fit_picture", lambda *a: pytest.fail("decoded a picture of a refused zip"))
    zipped = grey_zip(tmp_path / "slip.zip", 8, extra={entry: png(grey_picture(99))})
    with pytest.raises(DataError, match="^slip.zip is refused: its entry .* points outside the zip") as e:
        mi.collect_images([zipped])
    assert repr(entry) in str(e.value)


def test_a_symbolic_link_refuses_the_whole_zip(tmp_path):
    link = zipfile.ZipInfo("pics/link.png")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    zipped = grey_zip(tmp_path / "links.zip", 8, extra={"pics/link.png": (link, b"/etc/passwd")})
    with pytest.raises(DataError, match="^links.zip is refused: its entry 'pics/link.png' is a symbolic link$"):
        mi.collect_images([zipped])


def test_a_zip_bomb_is_refused_from_its_headers(tmp_path, monkeypatch):
    monkeypatch.setattr(mi, "fit_picture", lambda *a: pytest.fail("decoded a picture of a refused zip"))
    entries = {f"pics/g{i}.png": png(grey_picture(i)) for i in range(8)} | {"pics/zeros.bmp": bytes(3 * 2**20)}
    ratio = make_zip(tmp_path / "ratio.zip", entries, zipfile.ZIP_DEFLATED)
    with pytest.raises(DataError, match=r"^ratio.zip is refused: 'pics/zeros.bmp' is compressed [\d,]+ to 1 "
                                        r"\(a zip bomb\?\)$"):
        mi.collect_images([ratio])
    monkeypatch.setattr(mi, "MAX_UNZIPPED_BYTES", 2**20)            # the total, with honest ratios
    total = grey_zip(tmp_path / "total.zip", 8, extra={"pics/noise.bmp": RNG.bytes(2**20)})
    with pytest.raises(DataError, match=r"^total.zip is refused: it unpacks to 1 MB; the limit is 1 MB$"):
        mi.collect_images([total])


def test_a_zip_whose_headers_lie_is_read_no_further_than_they_say(tmp_path):
    """The central directory says 100 bytes; the entry inflates to 50 MB. Reading stops at 100 bytes,
    and the entry is left out as damaged."""
    path = tmp_path / "liar.zip"
    grey_zip(path, 8)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pics/zz.bmp", bytes(50 * 2**20))
    data = bytearray(path.read_bytes())
    for sig, offset in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):   # central and local headers
        at = data.rfind(sig)
        assert data[at + {24: 46, 22: 30}[offset]:].startswith(b"pics/zz.bmp")
        data[at + offset:at + offset + 4] = struct.pack("<I", 100)
    path.write_bytes(bytes(data))
    got = mi.collect_images([str(path)])
    assert len(got.names) == 8
    (name, reason), = got.skipped
    assert name == "liar.zip/pics/zz.bmp" and reason.startswith(("not an image", "damaged")), reason


@pytest.mark.parametrize("content", [b"not a zip at all" * 10, "truncated"])
def test_a_damaged_zip_is_refused(tmp_path, content):
    if content == "truncated":
        content = Path(grey_zip(tmp_path / "whole.zip", 8)).read_bytes()[:-200]
    (tmp_path / "bad.zip").write_bytes(content)
    with pytest.raises(DataError, match=r"^bad.zip is not a readable zip file \(damaged or truncated: "):
        mi.collect_images([str(tmp_path / "bad.zip")])


def test_a_damaged_entry_is_skipped_and_an_encrypted_one_named(tmp_path):
    path = tmp_path / "crc.zip"
    grey_zip(path, 8, extra={"pics/zz.png": png(grey_picture(50)), "pics/locked.png": b"secret"})
    data = bytearray(path.read_bytes())
    at = data.find(b"pics/zz.png") + len(b"pics/zz.png") + 60   # inside the stored PNG's bytes
    data[at] ^= 0xFF
    at = data.rfind(b"PK\x01\x02", 0, data.rfind(b"pics/locked.png"))    # its central directory entry
    data[at + 8] |= 0x1                                          # central directory: "encrypted"
    path.write_bytes(bytes(data))
    got = mi.collect_images([str(path)])
    reasons = dict(got.skipped)
    assert "damaged inside the zip" in reasons["crc.zip/pics/zz.png"]
    assert reasons["crc.zip/pics/locked.png"] == "encrypted: zip it again without a password"


# ---------------------------------------------------------------- small sets
def test_split_holdout_keeps_one_test_and_enough_training_pictures():
    images = np.arange(100, dtype=np.uint8).reshape(100, 1, 1, 1)
    train, test = mi.split_holdout(images)
    assert (len(train), len(test)) == (90, 10)
    assert sorted(np.concatenate([train, test]).ravel()) == list(range(100))
    assert np.array_equal(mi.split_holdout(images)[1], test)              # the same seed, the same split
    assert not np.array_equal(mi.split_holdout(images, seed=1)[1], test)
    assert [len(a) for a in mi.split_holdout(images[:8])] == [7, 1]
    assert [len(a) for a in mi.split_holdout(images[:10], fraction=0.5)] == [7, 3]   # MIN_IMAGES - 1 train
    with pytest.raises(DataError, match="7 images are not enough"):
        mi.split_holdout(images[:7])


def test_augment_flips_and_shifts_within_reach_filling_with_the_border():
    img = np.full((1, 1, 28, 28), 255, np.uint8)
    img[0, 0, 10:14, 8:12] = 0                                   # a dark square left of centre
    out = mi.augment(np.concatenate([img, img]), copies=20, seed=3, flips=True)
    assert out.shape == (42, 1, 28, 28) and out.dtype == np.uint8
    assert np.array_equal(out[:2], np.concatenate([img, img]))  # the originals first, unchanged
    cols, rows = set(), set()
    for a in out[2:]:
        dark = np.argwhere(a[0] == 0)
        assert len(dark) == 16 and (a[0] > 0).sum() == 28 * 28 - 16     # the fill is the white border
        rows.add(int(dark[:, 0].min()) - 10)
        cols.add(int(dark[:, 1].min()))
    assert rows == {-2, -1, 0, 1, 2}                             # +-2 px at 28
    assert any(c >= 14 for c in cols) and any(c <= 10 for c in cols)     # flipped and not
    assert np.array_equal(out, mi.augment(np.concatenate([img, img]), 20, seed=3, flips=True))
    assert not np.array_equal(out, mi.augment(np.concatenate([img, img]), 20, seed=4, flips=True))
    assert np.array_equal(mi.augment(img, 0, 0), img)
    with pytest.raises(ValueError, match="copies"):
        mi.augment(img, mi.MAX_COPIES + 1, 0)


def test_augment_never_flips_unless_asked_and_shifts_the_same_either_way():
    """Handwriting, digits, letters and text read wrong mirrored: by default a copy is only shifted."""
    img = np.full((1, 1, 28, 28), 255, np.uint8)
    img[0, 0, 10:14, 4:8] = 0                                    # a dark square far left: a flip moves it right
    img[0, 0, 20, 4] = 0                                         # and a dot below its left edge: never mirrored
    plain, flipped = mi.augment(img, 30, seed=5), mi.augment(img, 30, seed=5, flips=True)
    for a in plain[1:]:
        dark = np.argwhere(a[0, :18] == 0)
        assert dark[:, 1].max() <= 9                             # still left of centre: shifted by at most 2
    mirrored = [not np.array_equal(p, f) for p, f in zip(plain[1:], flipped[1:], strict=True)]
    assert any(mirrored) and not all(mirrored)                   # flips=True mirrors some copies at random ...
    for p, f, m in zip(plain[1:], flipped[1:], mirrored, strict=True):
        if m:                                                    # ... each the plain copy's shift, mirrored
            pd, fd = np.argwhere(p[0] == 0), np.argwhere(f[0] == 0)
            assert sorted(pd[:, 0]) == sorted(fd[:, 0]) and sorted(pd[:, 1]) != sorted(fd[:, 1])


def test_augment_reach_scales_with_size_and_keeps_colour_backgrounds():
    img = np.zeros((1, 3, 64, 64), np.uint8)
    img[0, :, :, :] = np.array([10, 200, 30], np.uint8)[:, None, None]      # a green border
    img[0, :, 30:34, 30:34] = 255
    out = mi.augment(img, 30, seed=0)[1:]
    shifts = {int(np.argwhere(a[0] == 255)[:, 0].min()) - 30 for a in out}
    assert max(shifts) == 5 and min(shifts) == -5                # round(2 * 64 / 28)
    assert ((out == 255).all(axis=1).sum(axis=(1, 2)) == 16).all()
    assert set(map(tuple, out.transpose(0, 2, 3, 1).reshape(-1, 3))) == {(10, 200, 30), (255, 255, 255)}


def test_contact_sheet_grid_with_separators():
    images = np.stack([np.full((1, 4, 5), 10 * i, np.uint8) for i in range(10)])
    sheet = mi.contact_sheet(images)
    assert sheet.shape == (2 * 5 - 1, 8 * 6 - 1, 1) and sheet.dtype == np.uint8
    assert (sheet[0:4, 0:5] == 0).all() and (sheet[0:4, 6:11] == 10).all() and (sheet[5:9, 6:11] == 90).all()
    assert (sheet[4] == mi.SEPARATOR).all() and (sheet[:, 5] == mi.SEPARATOR).all()
    assert (sheet[5:, 12:] == mi.SEPARATOR).all()                # the empty cells of the last row
    assert mi.contact_sheet(images[:3]).shape == (4, 3 * 6 - 1, 1)        # fewer pictures: fewer columns
    assert mi.contact_sheet(images, limit=4, columns=2).shape == (9, 11, 1)
    colour = np.zeros((70, 3, 8, 8), np.uint8)
    assert mi.contact_sheet(colour).shape == (8 * 9 - 1, 8 * 9 - 1, 3)     # at most 64, 8 wide


# ---------------------------------------------------------------- the built-in sets
def test_builtin_digits_are_28_grey():
    train, test = mi.builtin_training_set("digits")
    assert train.images.shape == (1437, 1, 28, 28) and test.images.shape == (360, 1, 28, 28)
    assert train.images.dtype == np.uint8


def test_builtin_fashion_mnist_and_faces_come_from_the_data_folder(tmp_path, monkeypatch):
    from model.data import fashion

    monkeypatch.setattr(fashion, "DEBIAN_FASHION_DIR", tmp_path / "none")
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path))
    for name, n in (("train-images-idx3-ubyte", (6, 28, 28)), ("train-labels-idx1-ubyte", (6,)),
                    ("t10k-images-idx3-ubyte", (2, 28, 28)), ("t10k-labels-idx1-ubyte", (2,))):
        arr = np.zeros(n, np.uint8)
        (tmp_path / name).write_bytes(struct.pack(">HBB", 0, 8, arr.ndim) + struct.pack(f">{arr.ndim}I", *n)
                                      + arr.tobytes())
    train, test = mi.builtin_training_set("fashion-mnist")
    assert train.images.shape == (6, 1, 28, 28) and test.images.shape == (2, 1, 28, 28)
    build_faces(tmp_path / "faces", n=4, n_test=2)
    train, test = mi.builtin_training_set("faces")
    assert train.images.shape == (4, 3, 64, 64) and test.images.shape == (2, 3, 64, 64)
    with pytest.raises(DataError, match="unknown built-in set 'cifar': choose one of fashion-mnist, digits"):
        mi.builtin_training_set("cifar")


def fake_emoji_builder(calls):
    def build(out, font):
        calls.append(out)
        for i in range(20):
            group = Path(out) / ("faces" if i % 2 else "food-drink")
            group.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (64, 64), (255, 255, 255)).save(group / f"{i:02d}.png")
        (Path(out) / "labels.csv").write_text("code_point,name,group,file\n")
        return 20
    return build


def test_builtin_emoji_is_built_once_into_the_cache_at_32_colour(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(mi, "NOTO_EMOJI", tmp_path / "font.ttf")
    (tmp_path / "font.ttf").write_bytes(b"font")
    monkeypatch.setattr(mi, "build_emoji_dataset", fake_emoji_builder(calls))
    train, test = mi.builtin_training_set("emoji")
    assert train.images.shape == (18, 3, 32, 32) and test.images.shape == (2, 3, 32, 32)
    assert train.class_names == ("faces", "food-drink") and (train.images == 255).all()
    mi.builtin_training_set("emoji")
    assert len(calls) == 1 and mi.emoji_cache_dir() == tmp_path / "emoji"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emoji", "font.ttf"]   # no temporary folder left


def test_builtin_emoji_without_the_font_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(mi, "NOTO_EMOJI", tmp_path / "missing.ttf")
    with pytest.raises(DataError, match="apt-get install fonts-noto-color-emoji"):
        mi.builtin_training_set("emoji")
    assert not (tmp_path / "emoji").exists()


def test_a_failed_emoji_build_leaves_nothing_and_an_incomplete_cache_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(mi, "NOTO_EMOJI", tmp_path / "font.ttf")
    (tmp_path / "font.ttf").write_bytes(b"font")

    def crash(out, font):
        (Path(out) / "faces").mkdir()
        raise OSError("disk full")

    monkeypatch.setattr(mi, "build_emoji_dataset", crash)
    with pytest.raises(OSError, match="disk full"):
        mi.builtin_training_set("emoji")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["font.ttf"]
    (tmp_path / "emoji").mkdir()
    with pytest.raises(DataError, match="incomplete emoji set .* delete it to rebuild it"):
        mi.builtin_training_set("emoji")


@pytest.mark.slow                                    # builds the whole data set: the fakes above test the logic
@pytest.mark.skipif(not NOTO_EMOJI.is_file(), reason="needs Debian's fonts-noto-color-emoji")
def test_builtin_emoji_from_the_real_font(tmp_path, monkeypatch):
    """Renders the font's ~1,400 emoji into tmp_path (about 3 s)."""
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path))
    train, test = mi.builtin_training_set("emoji")
    assert len(train) > 1000 and train.images.shape[1:] == (3, 32, 32) and test.images.shape[1:] == (3, 32, 32)
    assert mi.choose_channels(train.images) == 3
