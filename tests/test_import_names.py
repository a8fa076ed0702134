"""Names from a source are shown safely (issue 17 item 13; issue 18): control characters in member names never
reach a terminal or the report raw, class names are NFC and look-alikes are refused, and a single class left by
cross-class duplicates says so.

    python -m pytest -q tests/test_import_names.py
"""
from __future__ import annotations

import numpy as np
import pytest
from dataset_files import encode, make_zip, npz_bytes, shape_arrays, shape_files, shape_image

from mnist_core.data import DataError
from mnist_core.own_data import __main__ as own_data_cli
from mnist_core.own_data import datasets

FORGED = "bar/x.txt\n  All images verified OK\x1b[32m"


def test_cli_report_escapes_ansi_and_newlines_in_member_names(tmp_path, capsys, datasets_dir):
    source = tmp_path / "evil.zip"
    source.write_bytes(make_zip(shape_files(3) | {FORGED: b"not an image", "\x1b[2Jbox/y.txt": b"nor this"}))
    assert own_data_cli.main(["import", str(source), "--name", "evil", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert not any(line.strip().startswith("All images verified OK") for line in out.splitlines())
    assert "bar/x.txt\\n  All images verified OK\\x1b[32m: not an image" in out
    assert list(datasets_dir.iterdir()) == []


def test_cli_list_escapes_the_source_file_name(tmp_path, capsys):
    source = tmp_path / "ok\x1b[2J.zip"
    source.write_bytes(make_zip(shape_files(3)))
    assert own_data_cli.main(["import", str(source), "--name", "ok"]) == 0
    capsys.readouterr()
    assert own_data_cli.main(["list"]) == 0
    assert capsys.readouterr().out == "ok: 3 classes, 6 train, 3 test, from ok\\x1b[2J.zip\n"


def test_cli_error_escapes_the_upload_name(tmp_path, capsys):
    source = tmp_path / "nothing\x1b[31m.zip"
    source.write_bytes(make_zip({"a.txt": b"text"}))
    assert own_data_cli.main(["import", str(source), "--name", "nothing"]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "nothing\\x1b[31m.zip" in err


def test_class_names_are_nfc_and_lookalikes_are_refused():
    nfd = "e\u0301"  # é decomposed, as macOS writes folder names
    files = {f"{nfd}/{i}.png": encode(shape_image("bar", i)) for i in range(3)}
    files |= {f"b/{i}.png": encode(shape_image("box", i)) for i in range(3)}
    assert datasets.analyse_bytes("a.zip", make_zip(files)).class_names == ["b", "\u00e9"]
    lookalike = shape_files(3, kinds=("bar",)) | {f"0/{i}.png": encode(shape_image("dash", i)) for i in range(3)}
    lookalike |= {f"0\u0301/{i}.png": encode(shape_image("box", i)) for i in range(3)}
    with pytest.raises(DataError, match="Class names '0' and '0\u0301' look alike"):
        datasets.analyse_bytes("b.zip", make_zip(lookalike))
    images, labels = shape_arrays(3)
    with pytest.raises(DataError, match="look alike"):
        datasets.analyse_bytes("c.npz", npz_bytes(images=images, labels=labels,
                                                  class_names=np.array(["Cat", "cat", "dog"])))


def test_a_class_name_with_control_characters_is_refused():
    files = shape_files(3, kinds=("bar",)) | {f"red\x1b[31m/{i}.png": encode(shape_image("box", i)) for i in range(3)}
    with pytest.raises(DataError, match=r"Class name 'red\\\\x1b\[31m' contains control characters"):
        datasets.analyse_bytes("d.zip", make_zip(files))


def test_one_class_left_by_cross_class_duplicates_says_how_many_were_dropped():
    cats = {f"cat/{i}.png": encode(shape_image("bar", i)) for i in range(4)}
    dogs = {f"dog/{i}.png": data for i, data in enumerate(cats.values())}  # byte-identical copies
    with pytest.raises(DataError, match=r"Only one class \(cat\) has images; .* 4 files were dropped as "
                                           r"byte-identical copies of images in another class \(4 from dog\)"):
        datasets.analyse_bytes("pets.zip", make_zip(cats | dogs))
    mixed = cats | dogs | {f"dog/new{i}.png": encode(shape_image("box", i)) for i in range(3)}
    report = datasets.analyse_bytes("pets.zip", make_zip(mixed)).report()
    assert "Dropped as byte-identical copies of an image in another class: 4 from dog" in report
