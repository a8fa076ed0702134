"""Write the README's screenshots: one 1280x800 PNG per page of the app into docs/screenshots/, taken with
Chromium from a real app showing a real run on real MNIST, then reduced to 256 colours to stay small.

    python scripts/screenshots.py [--data-dir ../shared/data] [--runs-dir DIR] [--epochs 1] [--out docs/screenshots]

--runs-dir: a folder with a finished run on `mnist` to show (copied, never written to); without it, one is
trained first (`python -m mnist_core.train --data mnist`). The Train shot catches a second real-MNIST run
mid-way (then cancels it), Predictions shows the wrong predictions, Draw a drawn 7. Needs Debian's chromium.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from mnist_core import runs  # noqa: E402
from tests.browser.harness import (  # noqa: E402
    AppServer,
    choose,
    draw,
    launch_chromium,
    nav_links,
    open_page,
    run_progress,
    wait_idle,
)

VIEWPORT = {"width": 1280, "height": 800}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"), help="folder holding MNIST/raw")
    p.add_argument("--runs-dir", help="a runs folder with a finished run on mnist (default: train one)")
    p.add_argument("--epochs", type=int, default=1, help="epochs of the run trained when --runs-dir is not given")
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    return p.parse_args(argv)


def prepare_runs(args: argparse.Namespace, runs_dir: Path) -> None:
    """Copy the finished mnist runs of --runs-dir into runs_dir, or train one there."""
    if args.runs_dir:
        found = [r for r in runs.list_runs(args.runs_dir) if r.status == "finished" and r.config["data"] == "mnist"]
        if not found:
            raise SystemExit(f"error: no finished run on mnist in {args.runs_dir}")
        shutil.copytree(found[0].path, runs_dir / found[0].run_id)
        return
    print(f"training {args.epochs} epoch(s) on real MNIST…", flush=True)
    subprocess.run([sys.executable, "-m", "mnist_core.train", "--data", "mnist", "--epochs", str(args.epochs),
                    "--data-dir", args.data_dir, "--runs-dir", str(runs_dir)], cwd=ROOT, check=True)


def shoot_train(page, url: str) -> None:
    """A real-MNIST run caught after its first epoch: progress bars, loss and accuracy charts; then cancelled."""
    open_page(page, url)
    choose(page, "Data source", "mnist")
    page.get_by_label("Epochs").fill("3")
    page.get_by_label("Epochs").press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Start training").click()
    page.get_by_test_id("stProgress").first.wait_for()
    deadline = time.monotonic() + 900
    while run_progress(page) < 45 and time.monotonic() < deadline:
        time.sleep(1)
    page.get_by_test_id("stPlotlyChart").nth(1).wait_for()  # accuracy per epoch, once an epoch is done
    page.get_by_role("heading", name=re.compile(r"^Run .* · running$")).evaluate(
        "heading => heading.scrollIntoView({block: 'start'})")
    time.sleep(1.5)  # let the charts finish drawing


def shoot(page, out: Path, name: str) -> Path:
    path = out / f"{name}.png"
    page.screenshot(path=str(path))
    image = Image.open(path).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mnist-shots-") as tmp:
        runs_dir = Path(tmp) / "runs"
        runs_dir.mkdir()
        prepare_runs(args, runs_dir)
        with AppServer(Path(args.data_dir).resolve(), runs_dir, log_path=Path(tmp) / "streamlit.log") as server, \
                sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(120_000)
            open_page(page, server.url)
            for title, href in nav_links(page).items():
                name = title.lower().replace(" ", "-")
                if title == "Train":
                    shoot_train(page, href)
                    shot = shoot(page, out, name)
                    page.get_by_role("button", name="Cancel training").click()
                    expect(page.get_by_role("heading", name=re.compile(r"· cancelled$"))).to_be_visible()
                elif title == "Draw":
                    open_page(page, href)
                    draw(page, [(0.28, 0.22), (0.72, 0.22), (0.42, 0.85)])  # a 7
                    page.mouse.move(VIEWPORT["width"] - 5, VIEWPORT["height"] - 5)  # hides the canvas's toolbar
                    page.get_by_text("What the model sees").wait_for()
                    wait_idle(page)
                    shot = shoot(page, out, name)
                else:
                    query = {"Predictions": "?outcome=wrong", "Probabilities": "?class=4&threshold=0.90"}
                    open_page(page, href + query.get(title, ""))
                    shot = shoot(page, out, name)
                print(f"{shot}  {shot.stat().st_size / 1024:.0f} KB", flush=True)
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
