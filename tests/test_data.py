"""Data sets (model/data/): the IDX reader, where Fashion-MNIST is looked for and the one-line
message when it is absent, scikit-learn's digits, and a user's folder of images."""
import gzip
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.data import (
    FASHION_CLASSES,
    DataError,
    FolderSource,
    find_fashion_mnist,
    list_folder,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_folder,
    read_idx,
)
from model.data import fashion as mdata
from model.training import loop as mtrain


def idx_bytes(arr: np.ndarray) -> bytes:
    arr = np.asarray(arr, dtype=np.uint8)
    return struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def write_fake_fashion(d: Path, n_train=6, n_test=4, gz=True) -> dict:
    """Four tiny IDX files with the real names; returns the arrays written."""
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, arr in arrays.items():
        if gz:
            with gzip.open(d / f"{name}.gz", "wb") as f:
                f.write(idx_bytes(arr))
        else:
            (d / name).write_bytes(idx_bytes(arr))
    return arrays


@pytest.fixture
def no_system_fashion(monkeypatch, tmp_path):
    """As if Debian's dataset-fashion-mnist were not installed and VAE_DATA_DIR unset."""
    monkeypatch.setattr(mdata, "DEBIAN_FASHION_DIR", tmp_path / "not-installed")
    monkeypatch.delenv("VAE_DATA_DIR", raising=False)


# ---------------------------------------------------------------- IDX
def test_read_idx_gz_and_plain(tmp_path):
    imgs = np.arange(3 * 2 * 5, dtype=np.uint8).reshape(3, 2, 5)
    with gzip.open(tmp_path / "x.gz", "wb") as f:
        f.write(idx_bytes(imgs))
    (tmp_path / "x").write_bytes(idx_bytes(imgs))
    for p in (tmp_path / "x.gz", tmp_path / "x"):
        got = read_idx(p)
        assert got.dtype == np.uint8 and got.shape == (3, 2, 5)
        assert np.array_equal(got, imgs)
        got[0, 0, 0] = 99                               # writable, not a view of a bytes buffer
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    (tmp_path / "l").write_bytes(idx_bytes(labels))
    assert np.array_equal(read_idx(tmp_path / "l"), labels)


def test_read_idx_rejects_bad_files(tmp_path):
    good = idx_bytes(np.zeros((2, 4, 4), np.uint8))
    cases = {"short": b"\x00\x00", "magic": b"\x01\x02" + good[2:], "dtype": good[:2] + b"\x0d" + good[3:],
             "truncated": good[:-5]}
    for name, blob in cases.items():
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(DataError, match=name if name == "truncated" else re.escape(str(tmp_path / name))):
            read_idx(tmp_path / name)


def test_fashion_mnist_from_data_dir(tmp_path, no_system_fashion):
    arrays = write_fake_fashion(tmp_path / "fm")
    train = load_fashion_mnist("train", tmp_path / "fm")
    test = load_dataset("fashion-mnist", "test", str(tmp_path / "fm"))
    assert train.images.shape == (6, 1, 28, 28) and train.images.dtype == np.uint8
    assert np.array_equal(train.images[:, 0], arrays["train-images-idx3-ubyte"])
    assert np.array_equal(train.labels, arrays["train-labels-idx1-ubyte"].astype(np.int64))
    assert test.images.shape == (4, 1, 28, 28) and len(test) == 4
    assert train.class_names == FASHION_CLASSES and len(FASHION_CLASSES) == 10
    # the uncompressed files work too
    write_fake_fashion(tmp_path / "plain", gz=False)
    assert len(load_fashion_mnist("test", tmp_path / "plain")) == 4


def test_fashion_mnist_search_order(tmp_path, monkeypatch):
    write_fake_fashion(tmp_path / "explicit", n_test=2)
    write_fake_fashion(tmp_path / "env", n_test=3)
    write_fake_fashion(tmp_path / "debian", n_test=5)
    monkeypatch.setattr(mdata, "DEBIAN_FASHION_DIR", tmp_path / "debian")
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "env"))
    assert find_fashion_mnist(tmp_path / "explicit") == tmp_path / "explicit"
    assert find_fashion_mnist() == tmp_path / "env"
    assert len(load_fashion_mnist("test")) == 3
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "empty-env"))          # env without files
    assert find_fashion_mnist() == tmp_path / "debian"
    monkeypatch.delenv("VAE_DATA_DIR")
    assert len(load_fashion_mnist("test")) == 5


def test_missing_fashion_mnist_is_one_line_with_the_apt_hint(tmp_path, no_system_fashion):
    with pytest.raises(DataError) as e:
        find_fashion_mnist()
    msg = str(e.value)
    assert "apt-get install dataset-fashion-mnist" in msg and "VAE_DATA_DIR" in msg and "\n" not in msg
    # an explicit --data-dir without the files is named in the message
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist") as e:
        find_fashion_mnist(tmp_path / "empty")
    assert str(tmp_path / "empty") in str(e.value) and "\n" not in str(e.value)
    # three of the four files is still "missing"
    write_fake_fashion(tmp_path / "partial")
    (tmp_path / "partial" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="dataset-fashion-mnist"):
        load_fashion_mnist("train", tmp_path / "partial")


@pytest.mark.parametrize("with_dir", [True, False])
def test_train_command_prints_one_line_and_exits_2_without_the_data(tmp_path, capsys, no_system_fashion,
                                                                    with_dir):
    (tmp_path / "empty").mkdir()
    argv = ["--dataset", "fashion-mnist", "--out", str(tmp_path / "out")]
    if with_dir:
        argv += ["--data-dir", str(tmp_path / "empty")]
    assert mtrain.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ") and "apt-get install dataset-fashion-mnist" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# ---------------------------------------------------------------- digits
def test_digits_shapes_and_split():
    train, test = load_digits("train"), load_digits("test")
    assert train.images.shape == (1437, 1, 28, 28) and test.images.shape == (360, 1, 28, 28)
    assert train.images.dtype == np.uint8 and train.images.max() > 200 and train.images.min() == 0
    assert set(np.unique(train.labels)) == set(range(10)) == set(np.unique(test.labels))
    assert train.class_names == tuple(str(i) for i in range(10))
    # disjoint: no test image is also a training image
    tr = {im.tobytes() for im in train.images}
    assert sum(im.tobytes() in tr for im in test.images) < 5          # (the set has a few duplicates)
    assert np.array_equal(load_digits("test").images, test.images)    # fixed order
    assert load_digits("test", image_size=32).images.shape == (360, 1, 32, 32)


# ---------------------------------------------------------------- a folder of images
@pytest.fixture
def image_folder(tmp_path) -> Path:
    """Sub-folder classes with images of every size and mode, plus files that must be skipped."""
    root = tmp_path / "imgs"
    rng = np.random.default_rng(0)
    makers = [
        lambda: Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8), "RGB"),
        lambda: Image.fromarray(rng.integers(0, 256, (17, 50, 4), dtype=np.uint8), "RGBA"),
        lambda: Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8), "L"),
        lambda: Image.fromarray(rng.integers(0, 256, (9, 9), dtype=np.uint8), "L").convert("P"),
        lambda: Image.fromarray(rng.integers(0, 65535, (20, 20), dtype=np.uint16)),
        lambda: Image.fromarray(rng.integers(0, 2, (33, 12), dtype=np.uint8) * 255, "L").convert("1"),
        lambda: Image.new("CMYK", (25, 25), (10, 200, 30, 0)),
        lambda: Image.new("LA", (1, 1), (128, 255)),
    ]
    exts = {"CMYK": ".jpg", "P": ".gif", "1": ".bmp"}
    for cls in ("cats", "dogs", "zebras"):
        (root / cls / "nested").mkdir(parents=True)
        for i, make in enumerate(makers):
            img = make()
            sub = root / cls / ("nested" if i % 3 == 0 else "")
            img.save(sub / f"{i:02d}{exts.get(img.mode, '.png')}")
    (root / "cats" / "notes.txt").write_text("not an image")
    (root / "dogs" / "zz_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return root


def test_list_folder_classes_are_first_sub_folders(image_folder):
    files, labels, classes = list_folder(image_folder)
    assert classes == ("cats", "dogs", "zebras")
    assert len(files) == 3 * 8 + 1                              # the .txt is not an image file
    for f, lab in zip(files, labels, strict=True):
        assert f.relative_to(image_folder).parts[0] == classes[lab]


@pytest.mark.parametrize("channels, size", [(1, 28), (3, 64)])
def test_folder_loader_mixed_modes_and_sizes(image_folder, channels, size, capsys):
    train = load_folder(image_folder, "train", size, channels, background="white")
    test = load_folder(image_folder, "test", size, channels, background="white")
    assert train.images.shape[1:] == (channels, size, size) and train.images.dtype == np.uint8
    assert test.images.shape[1:] == (channels, size, size)
    assert train.class_names == test.class_names == ("cats", "dogs", "zebras")
    # every 10th file is test data; the broken file is skipped with a message, not a crash
    files = list_folder(image_folder)[0]
    assert len(train) + len(test) == len(files) - 1
    assert "zz_broken.png" in capsys.readouterr().out
    ds = load_dataset("folder", "train", image_folder, size, channels)
    assert np.array_equal(ds.images, train.images)


def test_streaming_source_matches_the_in_memory_loader(image_folder):
    src = FolderSource(image_folder, "train", 28, 3)
    mem = load_folder(image_folder, "train", 28, 3, background="white")
    assert len(src) == len(mem) + 1                              # the broken file: a blank image
    j = 0
    for i in range(len(src)):
        arr, label = src[i]
        assert arr.shape == (3, 28, 28) and arr.dtype == np.uint8
        if src.files[i].name == "zz_broken.png":
            assert (arr == 255).all()
            continue
        assert np.array_equal(arr, mem.images[j]) and label == mem.labels[j]
        j += 1


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        list_folder(tmp_path / "nope")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "readme.md").write_text("hi")
    with pytest.raises(DataError, match="no images"):
        load_folder(tmp_path / "empty", "train", 28, 1)
    with pytest.raises(DataError, match="--data-dir"):
        load_dataset("folder", "train", None)
    with pytest.raises(DataError, match="unknown dataset"):
        load_dataset("cifar", "train")
