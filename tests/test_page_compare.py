"""App tests of the Compare page on two real short runs of the offline sample, and a run scored on other labels.

    OMP_NUM_THREADS=1 python -m pytest -q tests/test_page_compare.py
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from apptest_helpers import all_text, open_app, table_with
from page_fixtures import make_finished_run
from scipy.stats import binomtest

from mnist_core import runs

PAGE = "app_pages/compare.py"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    data_dir, runs_dir = root / "data", root / "runs"
    one = make_finished_run(runs_dir, data_dir, epochs=1, seed=1)
    two = make_finished_run(runs_dir, data_dir, epochs=2, seed=2, lr=2e-3)
    # a copy of run one scored on another test set: the same 1,000 images, labels rolled by one
    other = runs_dir / (one.name[:-4] + "beef")
    shutil.copytree(one, other)
    probs, labels = runs.load_probs(other)
    runs.save_probs(other, probs, np.roll(labels, 1))
    return data_dir, runs_dir, one, two, other


def open_page(lab, monkeypatch, **params):
    return open_app(lab[0], lab[1], monkeypatch, PAGE, **params)


def test_two_runs_side_by_side_with_mcnemar(lab, monkeypatch):
    one, two = lab[2], lab[3]
    at = open_page(lab, monkeypatch, runs=f"{one.name},{two.name}")
    assert at.multiselect(key="compare_runs").value == [one.name, two.name]
    (pa, labels), (pb, _) = runs.load_probs(one), runs.load_probs(two)
    right_a, right_b = pa.argmax(1) == labels, pb.argmax(1) == labels
    b, c = int((right_a & ~right_b).sum()), int((right_b & ~right_a).sum())
    text = all_text(at)
    assert f"A alone right on {b}, B alone right on {c}" in text
    assert f"p = {binomtest(min(b, c), b + c, 0.5).pvalue:.3g}" in text
    differing = table_with(at, "field")
    assert set(differing["field"]) == {"epochs", "lr", "seed"}
    per_class = table_with(at, "class")
    assert per_class[one.name].iloc[-1] == pytest.approx(float(right_a.mean()))
    assert at.query_params["runs"] == f"{one.name},{two.name}"
    at.selectbox(key="compare_a").set_value(two.name).run()
    at.selectbox(key="compare_b").set_value(one.name).run()
    assert f"A alone right on {c}, B alone right on {b}" in all_text(at)
    assert at.query_params["a"] == two.name


def test_runs_scored_on_different_test_sets_are_refused(lab, monkeypatch):
    at = open_page(lab, monkeypatch, runs=f"{lab[2].name},{lab[4].name}")
    assert at.error and "different test sets" in at.error[0].value and "1000 labels differ" not in at.error[0].value
    assert not any("field" in d.value.columns for d in at.dataframe)  # no table of wrong numbers


def test_unknown_runs_in_the_url_are_dropped(lab, monkeypatch):
    at = open_page(lab, monkeypatch, runs=f"nope,{lab[3].name},../etc")
    assert at.multiselect(key="compare_runs").value == [lab[3].name]
    assert "Pick at least two runs." in all_text(at)
