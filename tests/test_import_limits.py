"""Imports that would amplify (issue 17 item 5) and server folders (item 2), attacked for real: PNG and npz
bombs made here, 16-bit PNGs, non-image files, a real device node, symbolic links out of an allowed root.

    python -m pytest -q tests/test_import_limits.py
"""
from __future__ import annotations

import io
import os
import stat
import tracemalloc

import numpy as np
import pytest
from dataset_files import big_png, encode, make_zip, npz_bytes, shape_files, shape_image, write_tree
from PIL import Image

from mnist_core.data import DataError
from mnist_core.own_data import archive, convert, datasets
from mnist_core.own_data.archive import MB, Limits


def test_a_zip_of_huge_pngs_stops_at_the_pixel_budget(monkeypatch):
    decoded = []
    real = convert.to_gray
    monkeypatch.setattr(convert, "to_gray", lambda image: decoded.append(image.size) or real(image))
    files = {f"{'ab'[i % 2]}/{i}.png": big_png(1000, i) for i in range(40)}  # 40 megapixels in ~40 KB
    assert len(make_zip(files)) < 200_000
    with pytest.raises(DataError, match=r"more than 5,000,000 pixels in all .*MNIST_IMPORT_MAX_PIXELS"):
        datasets.analyse_bytes("bomb.zip", make_zip(files), limits=Limits(total_pixels=5_000_000))
    assert len(decoded) == 5  # refused before the 6th image was decoded


def test_the_limits_are_settings():
    limits = Limits.from_env({"MNIST_IMPORT_MAX_PIXELS": "1000", "MNIST_IMPORT_MEMORY_MB": "512",
                              "MNIST_IMPORT_MAX_FILE_MB": "1.5"})
    assert (limits.total_pixels, limits.memory_bytes, limits.upload_bytes) == (1000, 512 * MB, int(1.5 * MB))
    assert Limits.from_env({}) == Limits()
    with pytest.raises(DataError, match="MNIST_IMPORT_CPU_SECONDS must be above 0"):
        Limits.from_env({"MNIST_IMPORT_CPU_SECONDS": "0"})


def test_a_16_bit_png_is_converted_in_bounded_memory():
    pixels = (np.arange(1500 * 1500, dtype=np.uint32).reshape(1500, 1500) % 65536).astype(np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    tracemalloc.start()
    image, size, _ = convert.decode_image(buffer.getvalue())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert size == (1500, 1500) and image.shape == (28, 28)
    assert peak < 1500 * 1500 * 7  # float32 in place; float64 with copies took 24 bytes a pixel


def npy_member(header: dict, body: bytes) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + body


def test_an_npz_bomb_is_refused_from_its_header_before_anything_is_inflated():
    tracemalloc.start()
    bomb = io.BytesIO()
    np.savez_compressed(bomb, images=np.zeros((40_000, 28, 28), dtype=np.uint8), labels=np.zeros(40_000, int))
    assert len(bomb.getvalue()) < 100_000  # 31 MB of pixels
    tracemalloc.reset_peak()
    with pytest.raises(DataError, match=r"31,360,000 pixels in all; the limit is 10,000,000 .*Nothing was read"):
        datasets.analyse_bytes("bomb.npz", bomb.getvalue(), limits=Limits(total_pixels=10_000_000))
    assert tracemalloc.get_traced_memory()[1] < 2 * MB
    tracemalloc.stop()


def test_npz_headers_that_declare_more_than_the_data_or_the_limits_are_refused():
    huge = {"descr": "<f8", "fortran_order": False, "shape": (10**7, 28, 28)}
    with pytest.raises(DataError, match=r"declares 59,814 MB \(float64.*Nothing was read"):
        datasets.analyse_bytes("f.npz", make_zip({"images.npy": npy_member(huge, b""), "labels.npy": b""}),
                               limits=Limits(total_pixels=10**10))
    liar = {"descr": "|u1", "fortran_order": False, "shape": (10, 28, 28)}
    with pytest.raises(DataError, match="does not match the size its header declares"):
        datasets.analyse_bytes("l.npz", make_zip({"images.npy": npy_member(liar, b"\0" * 100)}))
    odd = {"descr": [("a", "<i4")], "fortran_order": False, "shape": (3,)}
    with pytest.raises(DataError, match="which is not supported"):
        datasets.analyse_bytes("s.npz", make_zip({"images.npy": npy_member(odd, b"\0" * 12)}))
    wide = {"descr": "|u1", "fortran_order": False, "shape": (1, 5000, 5000)}
    with pytest.raises(DataError, match="images of 5000x5000 pixels; the limit is 1,000,000 per image"):
        datasets.analyse_bytes("w.npz", make_zip({"images.npy": npy_member(wide, b"")}),
                               limits=Limits(image_pixels=1_000_000))


def test_a_float_npz_converts_in_blocks():
    images = np.random.default_rng(0).random((3000, 28, 28), dtype=np.float32)
    data = npz_bytes(images=images, labels=np.arange(3000) % 2)
    tracemalloc.start()
    analysis = datasets.analyse_bytes("f.npz", data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(analysis.train_index) + len(analysis.test_index) == 3000
    assert peak < images.nbytes * 4  # float64 copies of the whole array alone would be 2x more than it


def test_non_image_files_are_skipped_unread(tmp_path, monkeypatch):
    files = shape_files(3) | {"bar/notes.bin": b"\0" * (3 * MB)}
    write_tree(tmp_path / "src", files)
    limits = Limits(unpacked_bytes=MB)  # reading notes.bin whole would break this budget
    analysis = datasets.analyse_path(tmp_path / "src", limits=limits)
    assert ("bar/notes.bin", "not an image (or not PNG, JPEG, BMP or TIFF)") in analysis.data.skipped
    heads = []  # inside a zip: never inflated past its first bytes
    real = archive.read_limited
    monkeypatch.setattr(archive, "read_limited", lambda stream, budget, what, head=b"": heads.append(head[:4])
                        or real(stream, budget, what, head))
    analysis = datasets.analyse_bytes("x.zip", make_zip(files))
    assert ("bar/notes.bin", "not an image (or not PNG, JPEG, BMP or TIFF)") in analysis.data.skipped
    assert heads == [b"\x89PNG"] * 9


def test_a_device_node_is_never_opened(tmp_path, monkeypatch):
    write_tree(tmp_path / "src", shape_files(3))
    node = tmp_path / "src" / "bar" / "zero.png"
    try:
        os.mknod(node, stat.S_IFCHR | 0o644, os.makedev(1, 5))  # the same device as /dev/zero
    except PermissionError:
        pytest.skip("creating a device node needs root")
    opened = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda path, *a, **k: opened.append(str(path)) or real_open(path, *a, **k))
    analysis = datasets.analyse_path(tmp_path / "src")
    assert ("bar/zero.png", "not a regular file (never opened)") in analysis.data.skipped
    assert str(node) not in opened and len(opened) == 9
    with pytest.raises(DataError, match="neither a regular file nor a folder"):
        datasets.analyse_path("/dev/zero")
    assert "/dev/zero" not in opened


@pytest.fixture
def allowed(tmp_path):
    """An allowed root holding one image folder, next to a folder with secrets that is not allowed."""
    root = tmp_path / "imports"
    write_tree(root / "digits", shape_files(3) | {"bar/credentials.env": b"PASSWORD=hunter2"})
    write_tree(tmp_path / "home", {"id_rsa": b"-----BEGIN KEY", "a/x.png": encode(shape_image("bar", 1))})
    return root


def test_import_roots_come_from_the_setting(tmp_path):
    assert datasets.import_roots({}) == []
    roots = datasets.import_roots({"MNIST_IMPORT_ROOTS": f"{tmp_path}/a{os.pathsep}{tmp_path}/b/../c"})
    assert roots == [tmp_path / "a", tmp_path / "c"]


def test_a_folder_inside_a_root_is_named_relative_to_it(allowed):
    analysis = datasets.analyse_path("digits", root=allowed.resolve())
    assert analysis.source["file"] == "imports/digits"
    assert analysis.data.skipped == [("bar/credentials.env", "not an image (or not PNG, JPEG, BMP or TIFF)")]
    assert str(allowed.parent) not in " ".join(analysis.report())


@pytest.mark.parametrize("path", ["../home", "/etc", "~", "digits/../../home", "escape", "escape/a"])
def test_paths_out_of_the_root_are_refused(allowed, path):
    os.symlink(allowed.parent / "home", allowed / "escape")
    with pytest.raises(DataError, match="relative to the chosen folder|leads outside the folders") as info:
        datasets.analyse_path(path, root=allowed.resolve())
    assert str(allowed.parent) not in str(info.value)


def test_a_missing_path_in_a_root_is_named_without_the_roots_own_path(allowed):
    with pytest.raises(DataError, match="^imports/nothing does not exist on this machine"):
        datasets.analyse_path("nothing", root=allowed.resolve())

