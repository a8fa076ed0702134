"""Missing and corrupt IDX files give a specific DataError, and the files are left as they were.

Left to itself torchvision 0.29 reports these as: truncated -> RuntimeError "shape '[n, 28, 28]' is invalid
for input of size ...", wrong magic -> a bare AssertionError, empty file -> ValueError "invalid literal for
int()", image/label count mismatch -> no error at all (1,000 images with 999 labels).

    python -m pytest -q tests/test_idx_errors.py
"""
from __future__ import annotations

import gzip

import pytest
from idxfiles import idx_bytes

from mnist_core.data import DataError, load_dataset

TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"


def _truncate(raw):
    path = raw / TRAIN_IMAGES
    path.write_bytes(path.read_bytes()[:5000])


def _shorter_than_header(raw):
    (raw / TRAIN_LABELS).write_bytes(b"\x00\x00\x08")


def _empty(raw):
    (raw / TRAIN_LABELS).write_bytes(b"")


def _wrong_magic(raw):
    path = raw / TRAIN_IMAGES
    path.write_bytes(b"PK\x03\x04" + path.read_bytes()[4:])


def _labels_in_images_file(raw):  # a 1-d file where a 3-d one belongs
    (raw / TRAIN_IMAGES).write_bytes((raw / TRAIN_LABELS).read_bytes())


def _gzipped(raw):
    path = raw / TRAIN_IMAGES
    path.write_bytes(gzip.compress(path.read_bytes()))


def _count_mismatch(raw):
    path = raw / TRAIN_LABELS
    path.write_bytes(idx_bytes(path.read_bytes()[8:8 + 99], (99,)))


def _trailing_bytes(raw):
    path = raw / TRAIN_IMAGES
    path.write_bytes(path.read_bytes() + b"\x00\x00")


def _wrong_image_size(raw):
    (raw / TRAIN_IMAGES).write_bytes(idx_bytes(bytes(100 * 32 * 32), (100, 32, 32)))


def _label_out_of_range(raw):
    path = raw / TRAIN_LABELS
    path.write_bytes(idx_bytes(bytes([11]) + path.read_bytes()[9:], (100,)))


CASES = {
    "truncated": (_truncate, TRAIN_IMAGES, r"is truncated: its header promises 100 x 28 x 28 values \(78416 bytes in "
                                          r"all\) but the file has 5000 bytes"),
    "shorter than header": (_shorter_than_header, TRAIN_LABELS, r"is truncated: 3 bytes, shorter than its 8-byte "
                                                                "header"),
    "empty": (_empty, TRAIN_LABELS, r"is truncated: 0 bytes"),
    "wrong magic": (_wrong_magic, TRAIN_IMAGES, r"magic number is 0x504b0304, expected 0x00000803"),
    "1-d in a 3-d file": (_labels_in_images_file, TRAIN_IMAGES, r"magic number is 0x00000801, expected 0x00000803"),
    "gzipped": (_gzipped, TRAIN_IMAGES, r"looks gzipped: gunzip it first"),
    "count mismatch": (_count_mismatch, TRAIN_IMAGES, rf"{TRAIN_IMAGES} has 100 images but {TRAIN_LABELS} has 99 "
                                                      "labels"),
    "trailing bytes": (_trailing_bytes, TRAIN_IMAGES, r"longer than its header says"),
    "32x32 images": (_wrong_image_size, TRAIN_IMAGES, r"holds 32x32 images; this source needs 28x28"),
    "label 11": (_label_out_of_range, TRAIN_LABELS, r"label 11 is out of range for 10 classes"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_corrupt_idx_file_gives_a_specific_data_error(make_idx_dir, case):
    corrupt, culprit, expected = CASES[case]
    root = make_idx_dir(n_train=100, n_test=50)
    raw = root / "MNIST" / "raw"
    corrupt(raw)
    before = {p.name: p.read_bytes() for p in raw.iterdir()}
    with pytest.raises(DataError, match=expected) as info:
        load_dataset("mnist", root, download=False)
    message = str(info.value)
    assert culprit in message and str(raw) in message
    assert "Delete the *-ubyte files" in message  # says how to recover
    assert {p.name: p.read_bytes() for p in raw.iterdir()} == before  # nothing deleted or rewritten


def test_corrupt_files_are_not_replaced_by_a_download(make_idx_dir):
    """With all four files present nothing is downloaded, even when one is corrupt: the error says which."""
    root = make_idx_dir(n_train=100, n_test=50)
    _truncate(root / "MNIST" / "raw")
    with pytest.raises(DataError, match="is truncated"):
        load_dataset("mnist", root, mirrors=["http://127.0.0.1:9/"])


def test_one_missing_file_is_named(make_idx_dir):
    root = make_idx_dir(n_train=100, n_test=50)
    (root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match=r"\(missing: t10k-labels-idx1-ubyte\) and downloading is off"):
        load_dataset("mnist", root, download=False)


def test_small_valid_files_load(make_idx_dir):
    d = load_dataset("mnist", make_idx_dir(n_train=100, n_test=50), download=False)
    assert d.train_images.shape == (100, 28, 28) and d.test_labels.shape == (50,)
