"""Browser: a restarted host with an empty disk shows the runs and datasets kept in the artifact store.

Against moto's S3 server on 127.0.0.1 (started here): a run trained from the command line (mnist-sample, 1
epoch) and a dataset imported from the command line are uploaded when they finish; the runs and datasets
folders are wiped; a new `streamlit run` (the restarted host) lists the run, opens it on Predictions with all
its test images, shows the verdict recorded on it before the restart (in the review database, PostgreSQL in
CI, which lives off the host's disk), and lists the dataset on the Data page.

    python -m pytest tests/browser/test_artifacts_restart.py -q
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from mnist_core.review.store import ReviewStore
from tests.browser.harness import ROOT, SCREENSHOTS, AppServer, open_page
from tests.dataset_files import npz_bytes, shape_arrays
from tests.s3_server import new_bucket, s3_env, s3_server

pytestmark = pytest.mark.browser


def _cli(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=dict(os.environ, **env),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_a_wiped_host_shows_the_stored_run_and_dataset(page, tmp_path):
    with s3_server(tmp_path / "moto.log") as endpoint:
        fs = new_bucket(endpoint, "lab")
        env = s3_env(endpoint, "s3://lab/team") | {"MNIST_RUNS_DIR": str(tmp_path / "runs"),
                                                    "MNIST_DATASETS_DIR": str(tmp_path / "datasets"),
                                                    "MNIST_DATA_DIR": str(tmp_path / "data")}
        images, labels = shape_arrays(per_class=10)
        (tmp_path / "shapes.npz").write_bytes(npz_bytes(images=images, labels=labels))
        _cli(env, "mnist_core.own_data", "import", str(tmp_path / "shapes.npz"), "--name", "shapes")
        out = _cli(env, "mnist_core.train", "--data", "mnist-sample", "--epochs", "1", "--device", "cpu")
        run_id = out.strip().splitlines()[-1].rsplit("/", 1)[-1]
        assert fs.exists(f"lab/team/runs/{run_id}/_artifact.json") and fs.exists("lab/team/datasets/shapes/data.npz")
        db_url = os.environ.get("MNIST_TEST_POSTGRES_URL") or f"sqlite:///{tmp_path / 'reviews.db'}"  # off the disk
        store = ReviewStore(db_url)
        store.add(run_id, "mnist-sample", 7, "ada", "fine", None, "kept", num_samples=1000, num_classes=10)
        store.close()
        for folder in ("runs", "datasets"):  # the host restarts with an empty disk
            shutil.rmtree(tmp_path / folder)

        with AppServer(tmp_path / "data", tmp_path / "runs", log_path=tmp_path / "streamlit.log",
                       env={k: v for k, v in env.items() if k.startswith(("AWS_", "MNIST_ARTIFACTS"))}
                       | {"MNIST_DATASETS_DIR": env["MNIST_DATASETS_DIR"], "MNIST_REVIEW_DB": db_url}) as server:
            open_page(page, f"{server.url}/predictions")
            expect(page.get_by_test_id("stCaptionContainer").filter(has_text="test images match")).to_have_text(
                "1,000 of 1,000 test images match; showing 25.")
            expect(page.get_by_role("combobox", name="Run")).to_have_value(re.compile(rf"^{run_id} · mnist-sample"))
            expect(page.get_by_test_id("stException")).to_have_count(0)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "artifacts-predictions-after-wipe.png"), full_page=True)

            open_page(page, f"{server.url}/review?image=7&reviewer=bob")  # the run's review is there too
            expect(page.get_by_test_id("stAlertContentInfo")).to_contain_text("ada's latest verdict: fine (kept)")
            expect(page.get_by_test_id("stException")).to_have_count(0)

            open_page(page, f"{server.url}/data")
            table = page.get_by_test_id("stDataFrame").first  # a canvas; its cells are in the DOM for screen readers
            expect(table).to_contain_text("shapes")
            expect(table).to_contain_text("npz: shapes.npz")
            expect(page.get_by_test_id("stException")).to_have_count(0)
        assert (tmp_path / "runs" / run_id / "model.pt").is_file()  # copied back, then read as before
