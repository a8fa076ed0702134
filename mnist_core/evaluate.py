"""How good and how honest are a finished run's test probabilities: accuracy, per-class accuracy, NLL, Brier, ECE
before and after temperature scaling, the temperature, and the five most frequent confusions.

    python -m mnist_core.evaluate --run runs/<run id> [--json]

The temperature is the one fitted on the run's validation split when it trained (`--validation N`); a run
without one reports `ece after temperature scaling: n/a` (JSON: null) and says how to get one. Errors print one
line and exit 1 (bad arguments: 2).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from mnist_core import runs
from mnist_core.calibration import calibration_report
from mnist_core.predict import evaluate
from mnist_core.run_probs import load_temperature

NO_VALIDATION = ("no validation split to fit a temperature on: train with --validation N "
                 "(e.g. 5000 images held out of the training set)")


def top_confusions(confusion: np.ndarray, class_names: list[str], top: int = 5) -> list[dict]:
    """The `top` largest off-diagonal cells of a confusion matrix (rows true), largest first, ties by index."""
    off = confusion.copy()
    np.fill_diagonal(off, 0)
    flat = np.argsort(-off, axis=None, kind="stable")[:top]
    cells = [divmod(int(i), off.shape[1]) for i in flat]
    return [{"true": class_names[t], "predicted": class_names[p], "count": int(off[t, p])}
            for t, p in cells if off[t, p] > 0]


def run_report(run_dir: Path) -> dict:
    """Everything `python -m mnist_core.evaluate` prints, for one finished run folder."""
    info = runs.read_run(run_dir)
    if info.status != "finished":
        raise runs.RunStoreError(f"Run {info.run_id} is {info.status}, not finished: nothing to evaluate")
    probs, labels = runs.load_probs(run_dir)
    _, meta = runs.load_checkpoint(Path(run_dir) / "model.pt")
    names = [str(n) for n in meta["class_names"]]
    basics = evaluate(probs, labels)
    per_class = [None if np.isnan(v) else v for v in basics["per_class_accuracy"]]  # NaN: no test image of it
    report = {"run": info.run_id, "images": int(len(labels)), "accuracy": basics["accuracy"],
              "per_class_accuracy": dict(zip(names, per_class, strict=True)),
              **calibration_report(probs, labels, load_temperature(run_dir)),
              "top_confusions": top_confusions(basics["confusion"], names)}
    return report


def format_text(report: dict) -> str:
    def num(value) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    lines = [f"run: {report['run']} ({report['images']} test images)", f"accuracy: {report['accuracy']:.4f}",
             "per-class accuracy: " + ", ".join(f"{k} {num(v)}" for k, v in report["per_class_accuracy"].items()),
             f"nll: {num(report['nll'])}", f"brier: {num(report['brier'])}", f"ece: {num(report['ece'])}",
             f"mce: {num(report['mce'])}", f"temperature: {num(report['temperature'])}",
             f"ece after temperature scaling: {num(report['ece_scaled'])}",
             f"nll after temperature scaling: {num(report['nll_scaled'])}"]
    if report["temperature"] is None:
        lines.append(f"note: {NO_VALIDATION}")
    lines.append("top confusions: " + (", ".join(f"true {c['true']} as {c['predicted']} ({c['count']})"
                                                 for c in report["top_confusions"]) or "none"))
    return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        self.exit(2, f"error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    p = _Parser(prog="python -m mnist_core.evaluate", description="Accuracy and calibration of a finished run.")
    p.add_argument("--run", required=True, help="the run folder, e.g. runs/20250101-120000-ab12")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text lines")
    args = p.parse_args(argv)
    run_dir = Path(args.run)
    if not run_dir.is_dir() and (runs.default_runs_dir() / args.run).is_dir():
        run_dir = runs.default_runs_dir() / args.run  # a bare run id
    try:
        report = run_report(run_dir)
    except (runs.RunStoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, allow_nan=False) if args.json else format_text(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
