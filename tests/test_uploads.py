"""Uploads: bad files are refused with a readable ImageError, odd-but-valid ones are
encoded correctly, a fuzz of the preprocessing only ever returns an image or raises the app's own
error, and the /encode and /interpolate endpoints (called directly, and on the served app when slow)
answer a bad upload with a message and keep serving.

Every image here is built in memory (the decompression bomb too: a 1-bit PNG of zeros, ~110 KB).
"""
import io
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from model.data import ALLOWED_FORMATS, MAX_PIXELS, ImageError, open_image, preprocess_image
from model.serving import requests as ex

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- builders
def encoded(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(side: int) -> bytes:
    """A valid side x side 1-bit PNG of zeros, compressed row by row: ~side^2/8000 bytes on disk,
    side^2 pixels when decoded (30000 -> 110 KB that would be 900 MB in Pillow's memory)."""
    co, row = zlib.compressobj(9), b"\0" * (1 + (side + 7) // 8)
    idat = b"".join(co.compress(row) for _ in range(side)) + co.flush()
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
            + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))


def minimal_psd(w: int = 16, h: int = 16) -> bytes:
    """Photoshop header (8BPS v1, 3 channels, 8 bit, RGB), empty sections, raw planes."""
    header = b"8BPS" + struct.pack(">H", 1) + b"\0" * 6 + struct.pack(">HIIHH", 3, h, w, 8, 3)
    return header + struct.pack(">III", 0, 0, 0) + struct.pack(">H", 0) + bytes(w * h * 3)


SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="32" height="32">'
       b'<rect width="32" height="32" fill="white"/></svg>')
PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] "
       b"/Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


def square(mode: str, size: int, inner, outer, box=None) -> Image.Image:
    """size x size image filled with outer, with inner in the centre box (default: middle half)."""
    img = Image.new(mode, (size, size), outer)
    q = size // 4
    img.paste(inner, box or (q, q, size - q, size - q))
    return img


@pytest.fixture(scope="module")
def bomb30k() -> bytes:
    return bomb_png(30000)


def _bad_files(bomb30k):
    ok = encoded(Image.new("L", (64, 64), 128))
    return {
        "zero-byte": (b"", "empty"),
        "random bytes": (np.random.default_rng(0).bytes(4096), "not an image in a supported format"),
        "truncated PNG": (encoded(Image.effect_noise((64, 64), 60).convert("L"))[:300], "damaged or truncated"),
        "text named .jpg": (b"just some text, not a JPEG at all\n" * 20, "not an image in a supported format"),
        "bomb 30000x30000 PNG": (bomb30k, "too large"),
        "bomb 8000x8000 PNG": (bomb_png(8000), "too large"),
        "SVG": (SVG, "not an image in a supported format"),
        "PDF": (PDF, "not an image in a supported format"),
        "PSD": (minimal_psd(), "not an image in a supported format"),
        "PNG header only": (ok[:33], "damaged or truncated"),
    }


BAD = ["zero-byte", "random bytes", "truncated PNG", "text named .jpg", "bomb 30000x30000 PNG",
       "bomb 8000x8000 PNG", "SVG", "PDF", "PSD", "PNG header only"]
SUFFIX = {"text named .jpg": ".jpg", "SVG": ".svg", "PDF": ".pdf", "PSD": ".psd"}


# ---------------------------------------------------------------- refused
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("name", BAD)
def test_bad_upload_refused_with_readable_message(name, bomb30k, tmp_path):
    data, expected = _bad_files(bomb30k)[name]
    path = tmp_path / f"upload{SUFFIX.get(name, '.png')}"
    path.write_bytes(data)
    for source in (path, str(path), data):                 # as Gradio passes it (a path) and as bytes
        with pytest.raises(ImageError) as info:
            preprocess_image(source)
        msg = str(info.value)
        assert expected in msg, (name, msg)
        assert str(tmp_path) not in msg and "Traceback" not in msg      # no server paths leak
        assert len(msg) < 300


def test_psd_is_refused_by_the_format_list_not_by_accident():
    """Pillow itself can read the crafted PSD: the refusal comes from ALLOWED_FORMATS."""
    assert Image.open(io.BytesIO(minimal_psd())).format == "PSD"
    assert "PSD" not in ALLOWED_FORMATS and "PNG" in ALLOWED_FORMATS
    with pytest.raises(ImageError):
        open_image(minimal_psd())


@pytest.mark.slow
def test_bomb_is_refused_from_its_header_with_memory_flat(bomb30k, tmp_path):
    """In a fresh process (so the high-water mark is ours): refusing the 30000^2 bomb (900 MB if
    decoded) and a 8000^2 one (64 MP: above MAX_PIXELS, below Pillow's default guard) leaves the
    peak RSS where it was."""
    (tmp_path / "bomb30k.png").write_bytes(bomb30k)
    (tmp_path / "bomb8k.png").write_bytes(bomb_png(8000))
    assert 8000 * 8000 > MAX_PIXELS
    code = f"""
import resource, sys
sys.path.insert(0, {str(ROOT)!r})
from model.data import ImageError, preprocess_image
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for name in ("bomb30k.png", "bomb8k.png"):
    try:
        preprocess_image({str(tmp_path)!r} + "/" + name)
        print("ACCEPTED", name)
    except ImageError as e:
        print("refused:", e)
print("grew_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "OMP_NUM_THREADS": "1"}).stdout
    assert "ACCEPTED" not in out and out.count("refused: the image is too large") == 2, out
    grew_kb = int(out.split("grew_kb")[1])
    assert grew_kb < 50_000, out                         # MBs, not the hundreds decoding would take


# ---------------------------------------------------------------- accepted and encoded correctly
@pytest.mark.parametrize("background", ["black", "white"])
def test_fully_transparent_image_becomes_all_background(background):
    bg = 0 if background == "black" else 255
    hidden = (255 - bg,) * 3                             # the RGB under alpha=0 is the *opposite* colour
    rgba = Image.new("RGBA", (40, 30), (*hidden, 0))
    for channels in (1, 3):
        out = preprocess_image(encoded(rgba), 28, channels, background)
        assert out.shape == (channels, 28, 28) and out.dtype == np.uint8
        assert (out == bg).all(), (background, channels, np.unique(out))


def test_rgba_shape_on_transparency_is_composited():
    """An opaque white square on transparent white: onto black, only the square is bright."""
    img = square("RGBA", 28, (255, 255, 255, 255), (255, 255, 255, 0))
    out = preprocess_image(encoded(img), 28, 1, "black")[0]
    assert (out[10:18, 10:18] == 255).all()
    assert (out[:5] == 0).all() and (out[:, :5] == 0).all()


def test_colour_model_keeps_colour_and_white_background():
    img = square("RGBA", 32, (255, 0, 0, 255), (0, 0, 0, 0))
    out = preprocess_image(encoded(img), 64, 3, "white")
    assert tuple(out[:, 32, 32]) == (255, 0, 0)
    assert tuple(out[:, 2, 2]) == (255, 255, 255)       # transparent black became the white background


def test_palette_with_transparency():
    """P image: index 0 white but transparent, index 1 white and opaque in the centre."""
    img = Image.new("P", (28, 28), 0)
    img.putpalette([255, 255, 255] * 2 + [0, 0, 0] * 254)
    img.paste(1, (7, 7, 21, 21))
    data = encoded(img, transparency=0)
    assert Image.open(io.BytesIO(data)).mode == "P"
    out = preprocess_image(data, 28, 1, "black")[0]
    assert (out[8:20, 8:20] == 255).all() and (out[:4] == 0).all()
    gif = preprocess_image(encoded(img, "GIF", transparency=0), 28, 1, "black")[0]
    assert (gif[8:20, 8:20] == 255).all() and (gif[:4] == 0).all()


def test_la_grey_with_alpha():
    img = square("LA", 28, (200, 255), (255, 0))
    out = preprocess_image(encoded(img), 28, 1, "black")[0]
    assert (out[9:19, 9:19] == 200).all() and (out[:5] == 0).all()


def test_cmyk():
    """CMYK (0,0,0,255) is black, (0,0,0,0) white: a white square on black, as TIFF and as JPEG."""
    img = square("CMYK", 28, (0, 0, 0, 0), (0, 0, 0, 255))
    for fmt in ("TIFF", "JPEG"):
        data = encoded(img, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
        assert Image.open(io.BytesIO(data)).mode == "CMYK"
        out = preprocess_image(data, 28, 1, "black", "never")[0].astype(int)
        assert out[10:18, 10:18].min() > 235 and out[:4].max() < 20, fmt


def test_16bit_is_scaled_not_clipped():
    """I;16 values 0..65535: mid-grey 32896 must become ~128 (a naive 8-bit cast clips it to 255)."""
    a = np.zeros((28, 28), np.uint16)
    a[7:21, 7:14] = 32896
    a[7:21, 14:21] = 65535
    img = Image.fromarray(a)
    assert img.mode.startswith("I;16")
    for data in (encoded(img, "PNG"), encoded(img, "TIFF")):
        assert Image.open(io.BytesIO(data)).mode.startswith("I;16")
        out = preprocess_image(data, 28, 1, "black", "never")[0].astype(int)
        assert abs(out[10, 10] - 128) <= 1 and out[10, 17] == 255 and out[0, 0] == 0


def test_1bit():
    img = square("1", 28, 1, 0)
    for fmt in ("PNG", "BMP", "TIFF"):
        data = encoded(img, fmt)
        assert Image.open(io.BytesIO(data)).mode == "1"
        out = preprocess_image(data, 28, 1, "black", "never")[0]
        assert (out[8:20, 8:20] == 255).all() and (out[:6] == 0).all() and set(np.unique(out)) == {0, 255}


def test_animated_gif_uses_first_frame():
    left = Image.new("L", (28, 28), 0)
    left.paste(255, (0, 0, 14, 28))
    right = Image.new("L", (28, 28), 0)
    right.paste(255, (14, 0, 28, 28))
    data = encoded(left, "GIF", save_all=True, append_images=[right, Image.new("L", (28, 28), 128)],
                   duration=100, loop=0)
    gif = Image.open(io.BytesIO(data))
    assert gif.is_animated and gif.n_frames == 3
    out = preprocess_image(data, 28, 1, "black", "never")[0]
    assert (out[:, 1:13] == 255).all() and (out[:, 15:] == 0).all()


def test_exif_rotated_jpeg_is_upright():
    """Upright: a 56x28 landscape with a bright block top-left. Stored rotated (28x56 portrait)
    with Orientation=6 ("rotate 90 CW to view"): the result must match the upright image."""
    upright = Image.new("L", (56, 28), 0)
    upright.paste(255, (0, 0, 20, 10))
    stored = upright.transpose(Image.Transpose.ROTATE_90)          # exif_transpose undoes it with ROTATE_270
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encoded(stored, "JPEG", quality=95, exif=exif.tobytes())
    assert Image.open(io.BytesIO(data)).getexif()[0x0112] == 6

    got = preprocess_image(data, 28, 1, "black", "never")[0].astype(int)
    want = preprocess_image(encoded(upright), 28, 1, "black", "never")[0].astype(int)
    unrotated = preprocess_image(encoded(stored), 28, 1, "black", "never")[0].astype(int)
    assert np.abs(got - want).max() <= 40 and np.abs(got - want).mean() < 3
    assert np.abs(got - unrotated).mean() > 20
    assert got[:7].max() < 20 and got[21:].max() < 20              # landscape: letterbox bands top and bottom
    assert got[8, 2] > 200


def test_one_pixel_image():
    out = preprocess_image(encoded(Image.new("L", (1, 1), 200)), 28, 1, "black")
    assert out.shape == (1, 28, 28) and (out == 200).all()
    rgb = preprocess_image(encoded(Image.new("RGB", (1, 1), (10, 20, 30))), 64, 3, "white")
    assert rgb.shape == (3, 64, 64) and tuple(rgb[:, 0, 0]) == (10, 20, 30)


def test_long_strip_is_letterboxed_not_squashed():
    """3000x20, white on black: aspect 150:1, so it fits into a band ~0.2 px high: the content
    takes at most 2 of 28 rows (squashed it would fill all 28) and spans the full width."""
    strip = Image.new("L", (3000, 20), 255)
    out = preprocess_image(encoded(strip), 28, 1, "black", "never")[0]
    rows = np.nonzero(out.max(axis=1) > 0)[0]
    assert 1 <= len(rows) <= 2 and set(rows) <= {12, 13, 14, 15}
    assert (out[rows[0]] > 100).all()
    tall = preprocess_image(encoded(strip.transpose(Image.Transpose.ROTATE_90)), 28, 1, "black", "never")[0]
    assert 1 <= len(np.nonzero(tall.max(axis=0) > 0)[0]) <= 2


def test_large_photo_is_reduced_before_float_conversion():
    """A 4000x3000 JPEG goes through libjpeg's draft mode and a box reduce, and still gives the
    same picture as an exact resize of the original (within JPEG noise)."""
    rng = np.random.default_rng(1)
    small = rng.integers(0, 256, (3, 4), dtype=np.uint8)
    big = Image.fromarray(small).resize((4000, 3000), Image.NEAREST)
    data = encoded(big, "JPEG", quality=90)
    out = preprocess_image(data, 28, 1, "black", "never")[0].astype(int)
    want = preprocess_image(encoded(Image.fromarray(small).resize((400, 300), Image.NEAREST)), 28, 1,
                            "black", "never")[0].astype(int)
    assert np.abs(out - want).mean() < 4


# ---------------------------------------------------------------- fuzz
MODE_FORMATS = {"1": ["PNG", "BMP", "TIFF", "GIF", "JPEG"], "L": ["PNG", "JPEG", "BMP", "WEBP", "TIFF", "GIF"],
                "LA": ["PNG", "WEBP", "TIFF"], "P": ["PNG", "GIF", "TIFF"],
                "RGB": ["PNG", "JPEG", "BMP", "WEBP", "TIFF"],
                "RGBA": ["PNG", "WEBP", "TIFF", "BMP"], "CMYK": ["JPEG", "TIFF"], "I;16": ["PNG", "TIFF"],
                "I": ["TIFF"], "F": ["TIFF"]}
MAGICS = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"BM", b"RIFF\x00\x01\x00\x00WEBPVP8 ",
          b"II*\x00", b"MM\x00*", b"8BPS", b"%PDF-", b"<svg"]
FAKE_MODELS = [SimpleNamespace(config=SimpleNamespace(image_size=s, channels=c, background=b))
               for s, c, b in ((28, 1, "black"), (64, 3, "white"), (16, 1, "white"))]


def upload_bytes():
    """A hypothesis strategy: random bytes behind a format's magic, a valid image of any mode in a format
    that stores it, or such an image cut short and with bytes flipped."""
    from hypothesis import strategies as st

    @st.composite
    def draw_upload(draw) -> bytes:
        kind = draw(st.sampled_from(["random", "image", "mutated"]))
        if kind == "random":
            return draw(st.sampled_from(MAGICS)) + draw(st.binary(max_size=600))
        mode = draw(st.sampled_from(sorted(MODE_FORMATS)))
        w, h = draw(st.integers(1, 80)), draw(st.integers(1, 80))
        seed = draw(st.integers(0, 2**32 - 1))
        img = Image.frombytes(mode, (w, h), np.random.default_rng(seed).bytes(w * h * 4))  # extra bytes ignored
        data = encoded(img, draw(st.sampled_from(MODE_FORMATS[mode])))
        if kind == "image":
            return data
        cut = draw(st.integers(0, len(data)))
        flips = draw(st.lists(st.tuples(st.integers(0, max(0, len(data) - 1)), st.integers(0, 255)), max_size=6))
        buf = bytearray(data)
        for pos, val in flips:
            if pos < len(buf):
                buf[pos] = val
        return bytes(buf[:cut] if draw(st.booleans()) else buf)
    return draw_upload()


@pytest.mark.filterwarnings("ignore")          # Pillow warns about the corrupt EXIF/TIFF data it is fed
def test_fuzz_preprocessing_returns_an_image_or_raises_image_error():
    # hypothesis is imported here, not with the module: collecting this file stays cheap
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=150, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=upload_bytes(), m=st.sampled_from(FAKE_MODELS), invert=st.sampled_from(["auto", "never", "always"]))
    def check(data, m, invert):
        c = m.config
        try:
            out = preprocess_image(data, c.image_size, c.channels, c.background, invert)
        except ImageError as e:
            assert str(e)
        else:
            assert out.shape == (c.channels, c.image_size, c.image_size) and out.dtype == np.uint8
        try:                                            # the explorer's door: a tensor in [0, 1] or ExplorerError
            x = ex.load_upload(m, data)
        except ex.ExplorerError as e:
            assert str(e)
        else:
            assert tuple(x.shape) == (1, c.channels, c.image_size, c.image_size)
            assert x.dtype == torch.float32 and 0 <= float(x.min()) and float(x.max()) <= 1
    check()


# ---------------------------------------------------------------- through the endpoints
def _model_with_background(weights_root, background: str) -> str:
    for d in sorted(Path(weights_root).iterdir()):
        cfg = d / "config.json"
        if cfg.is_file() and json.loads(cfg.read_text()).get("background") == background \
                and json.loads(cfg.read_text()).get("channels") == 1:
            return d.name
    pytest.skip(f"no grey model with a {background} background under {weights_root}")


def test_bad_uploads_get_a_message_and_the_server_keeps_serving(endpoint, weights_root, bomb30k, tmp_path):
    model = _model_with_background(weights_root, "black")
    good = tmp_path / "good.png"
    square("L", 28, 255, 0).save(good)
    bad = _bad_files(bomb30k)
    for name in ("zero-byte", "random bytes", "truncated PNG", "text named .jpg", "bomb 30000x30000 PNG",
                 "SVG", "PDF", "PSD"):
        data, expected = bad[name]
        path = tmp_path / f"bad-{BAD.index(name)}{SUFFIX.get(name, '.png')}"
        path.write_bytes(data)
        with pytest.raises(endpoint.error) as info:
            endpoint("/encode", image=path, model=model)
        msg = str(info.value)
        assert expected in msg, (name, msg)                  # our message, not Gradio's generic one
        assert "/tmp" not in msg and "gradio" not in msg.lower(), msg
        recon, enc = endpoint("/encode", image=good, model=model)
        assert Path(recon).is_file() and len(enc["mu"]) == len(enc["z"]) > 0 and np.isfinite(enc["elbo"])
    with pytest.raises(endpoint.error) as info:
        endpoint("/interpolate", image_a=tmp_path / "bad-1.png", image_b=good, steps=5, method="linear", model=model)
    assert "not an image in a supported format" in str(info.value)


def test_transparency_is_composited_not_dropped(endpoint, weights_root, tmp_path):
    """Gradio's own Image preprocessing would convert RGBA to RGB (dropping alpha) and I;16 to 8 bit:
    the encoding of a fully transparent white image must equal that of an all-black one, and a
    16-bit mid-grey must equal an 8-bit mid-grey. (That the upload endpoints skip it is checked on the
    built page: test_api.py, test_upload_endpoints_take_the_file_as_sent.)"""
    model = _model_with_background(weights_root, "black")
    Image.new("RGBA", (28, 28), (255, 255, 255, 0)).save(tmp_path / "transparent.png")
    Image.new("L", (28, 28), 0).save(tmp_path / "black.png")
    a16 = np.zeros((28, 28), np.uint16)
    a16[7:21, 7:21] = 32896
    Image.fromarray(a16).save(tmp_path / "grey16.png")
    Image.fromarray((a16 // 257).astype(np.uint8)).save(tmp_path / "grey8.png")
    mu = {n: endpoint("/encode", image=tmp_path / f"{n}.png", model=model)[1]["mu"]
          for n in ("transparent", "black", "grey16", "grey8")}
    assert np.allclose(mu["transparent"], mu["black"], atol=1e-3)
    assert np.allclose(mu["grey16"], mu["grey8"], atol=1e-3)
    assert not np.allclose(mu["grey8"], mu["black"], atol=1e-2)      # the check can fail
