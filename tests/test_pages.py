"""App tests (streamlit.testing.AppTest) for the Train, Predictions and Probabilities pages, through app.py."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from fake_run import make_fake_run
from streamlit.proto.Metric_pb2 import Metric
from streamlit.testing.v1 import AppTest

from mnist_core import runs
from mnist_core.config import RECIPES

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture(scope="module")
def lab(tmp_path_factory, mnist_sample):
    """A data folder (mnist-sample needs none), and a runs folder with one finished (fake) run on mnist-sample."""
    root = tmp_path_factory.mktemp("lab")
    data_dir, runs_dir = root / "data", root / "runs"
    run_dir = make_fake_run(runs_dir, labels=mnist_sample.test_labels.numpy())
    return data_dir, runs_dir, run_dir


@pytest.fixture
def app(lab, monkeypatch):
    data_dir, runs_dir, _ = lab
    monkeypatch.setenv("MNIST_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MNIST_RUNS_DIR", str(runs_dir))
    return lambda: AppTest.from_file(APP, default_timeout=60)


def texts(at) -> str:
    kinds = ("markdown", "caption", "info", "success", "error", "warning")
    parts = [e.value for kind in kinds for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("page", ["app_pages/predictions.py", "app_pages/probabilities.py"])
def test_pages_without_a_run_point_to_train(page, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(page).run()
    assert not at.exception
    assert "No trained model yet" in texts(at)


def test_predictions_filters_and_pages(app, lab):
    probs, labels = runs.load_probs(lab[2])
    wrong = int((probs.argmax(1) != labels).sum())
    at = app().run()
    at.switch_page("app_pages/predictions.py").run()
    assert not at.exception
    assert f"{len(labels):,} of {len(labels):,} test images match" in texts(at)
    first_page = at.selectbox(key="pred_image").options
    at.number_input(key="pred_page").set_value(2).run()
    assert at.selectbox(key="pred_image").options != first_page
    assert at.selectbox(key="pred_image").options[0] == "#25: " + at.selectbox(key="pred_image").options[0][5:]
    at.radio(key="pred_outcome").set_value("wrong").run()
    assert f"{wrong:,} of {len(labels):,} test images match" in texts(at)
    at.selectbox(key="pred_true").set_value("3").run()
    expected = int(((probs.argmax(1) != labels) & (labels == 3)).sum())
    assert f"{expected:,} of {len(labels):,} test images match" in texts(at)
    assert at.query_params["true"] == "3" and at.query_params["outcome"] == "wrong"


def test_predictions_sort_by_confidence(app, lab):
    probs, _ = runs.load_probs(lab[2])
    at = app().run()
    at.switch_page("app_pages/predictions.py").run()
    at.selectbox(key="pred_sort").set_value("confidence ascending").run()
    first = int(at.selectbox(key="pred_image").value)
    assert first == int(np.argmin(probs.max(1)))


def test_probabilities_slider_changes_the_surfaced_count(app, lab):
    probs, labels = runs.load_probs(lab[2])
    at = app().run()
    at.switch_page("app_pages/probabilities.py").run()
    assert not at.exception
    at.selectbox(key="prob_class").set_value("4").run()
    counts = {}
    for threshold in (0.5, 0.99):
        at.slider(key="prob_threshold").set_value(threshold).run()
        counts[threshold] = int(at.metric[0].value)
        assert at.metric[0].proto.direction == Metric.MetricDirection.NONE  # a count, not a change: no arrow
        assert counts[threshold] == int(((labels == 4) & (probs[:, 4] < threshold)).sum())
    assert counts[0.99] > counts[0.5]
    assert at.query_params["threshold"] == "0.99" and at.query_params["class"] == "4"


def test_probabilities_view_restored_from_url(app):
    at = app()
    at.query_params["class"] = "7"
    at.query_params["threshold"] = "0.8"
    at.run()
    at.switch_page("app_pages/probabilities.py")
    at.query_params["class"] = "7"
    at.query_params["threshold"] = "0.8"
    at.run()
    assert at.selectbox(key="prob_class").value == "7"
    assert at.slider(key="prob_threshold").value == pytest.approx(0.8)


def test_train_preset_fills_in_the_notebook_recipe(app):
    at = app().run()
    assert not at.exception
    at.selectbox(key="train_recipe").set_value("notebook").run()
    assert at.checkbox(key="train_shuffle").value is False
    assert at.number_input(key="train_batch_size").value == 64
    assert at.number_input(key="train_epochs").value == 10
    at.selectbox(key="train_recipe").set_value("best").run()
    assert at.selectbox(key="train_architecture").value == "deep" and at.number_input(key="train_epochs").value == 16
    assert any("five BatchNorm convs" in c.value for c in at.caption)  # the preset says what it sets


@pytest.mark.parametrize("native", [True, False])
def test_train_precision_comes_from_the_preset_and_warns_without_native_bf16(app, monkeypatch, native):
    import ui.train_widgets

    monkeypatch.setattr(ui.train_widgets, "cpu_has_bf16", lambda: native)
    monkeypatch.setattr(ui.train_widgets, "cuda_devices", lambda: 0)
    at = app().run()
    assert at.selectbox(key="train_precision").value == "auto"
    at.selectbox(key="train_recipe").set_value("fast").run()
    assert at.selectbox(key="train_precision").value == RECIPES["fast"]["precision"]
    at.selectbox(key="train_precision").set_value("bfloat16").run()
    warned = any("no native bfloat16" in c.value for c in at.caption)
    assert warned is not native and not at.exception
    modified = "(precision changed)" in texts(at)
    assert modified is (RECIPES["fast"]["precision"] != "bfloat16")  # the preset caption says what differs


def test_train_shows_the_data_as_a_readable_line(app):
    at = app().run()
    at.selectbox(key="train_data").set_value("mnist-sample").run()
    labels = [e.label for e in at.expander]
    assert "Data: mnist-sample · 4,000 training and 1,000 test images · 10 classes · 28×28 grayscale" in labels
    assert not any("Dataset(" in label for label in labels)


@pytest.mark.slow
def test_train_launches_a_worker_and_shows_it_finish(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.selectbox(key="train_data").set_value("mnist-sample").run()
    at.number_input(key="train_epochs").set_value(2).run()
    at.button(key="train_start").click().run()
    assert not at.exception
    deadline = time.time() + 180
    while time.time() < deadline:
        [info] = runs.list_runs(tmp_path / "runs")
        if info.status != "running":
            break
        time.sleep(1)
    assert info.status == "finished", info.error
    at.run()
    assert f"test accuracy {info.test_accuracy:.2%}" in texts(at)
    assert "Run" in at.subheader[0].value and "finished" in at.subheader[0].value
    events = runs.read_events(info.path)
    assert [e["epoch"] for e in events if e["type"] == "epoch"] == [0, 1]
    assert at.sidebar.selectbox(key="sidebar_run").value == info.run_id  # the new run is picked in the sidebar
    at.switch_page("app_pages/predictions.py").run()  # and is what the other pages now show
    assert "1,000 of 1,000 test images match" in texts(at)


def test_delete_asks_for_confirmation(tmp_path, monkeypatch):
    data_dir, runs_dir = tmp_path / "data", tmp_path / "runs"
    labels = np.arange(100) % 10  # the Train page lists runs; it never loads their data
    keep, doomed = make_fake_run(runs_dir, labels=labels, seed=1), make_fake_run(runs_dir, labels=labels, seed=2)
    monkeypatch.setenv("MNIST_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MNIST_RUNS_DIR", str(runs_dir))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.selectbox(key="train_delete_pick").set_value(doomed.name).run()
    at.button(key="train_delete").click().run()
    assert doomed.exists() and "for good" in texts(at)
    at.button(key="train_delete_keep").click().run()
    assert doomed.exists()
    at.button(key="train_delete").click().run()
    at.button(key="train_delete_confirm").click().run()
    assert not doomed.exists() and keep.exists()


@pytest.mark.slow
def test_train_launches_a_two_process_run(tmp_path, monkeypatch):
    from mnist_core.distributed import max_workers

    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert at.number_input(key="train_workers").max == max_workers("auto")
    if max_workers("auto") < 2:
        pytest.skip("one core: no second process to launch")
    at.selectbox(key="train_data").set_value("mnist-sample").run()
    at.number_input(key="train_epochs").set_value(1).run()
    at.number_input(key="train_workers").set_value(2).run()
    at.button(key="train_start").click().run()
    assert not at.exception
    [info] = runs.list_runs(tmp_path / "runs")
    assert info.config["workers"] == 2
    deadline = time.time() + 240
    while info.status == "running" and time.time() < deadline:
        time.sleep(1)
        info = runs.read_run(info.path)
    assert info.status == "finished", info.error
    at.run()
    assert f"test accuracy {info.test_accuracy:.2%}" in texts(at)
