"""Models in and out: export a trained run as one file, and add such a file to the run store as a new run.

The file is the run's checkpoint, model.pt, as written by runs.save_checkpoint: the state_dict plus its
metadata (architecture, class_names, mean, std, data, config, metrics). Importing loads it with
weights_only=True (never unpickling arbitrary objects), checks it against the data source it names, computes
the test-set probabilities with predict_proba, and adds a finished run that the dashboard reviews like any
other. The run is built in a hidden staging folder and renamed into place: it appears whole or not at all.

    python -m mnist_core.transfer export RUN_DIR OUT.pt
    python -m mnist_core.transfer import FILE.pt [--runs-dir DIR] [--data-dir DIR]
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

from mnist_core import runs
from mnist_core.config import ConfigError, TrainConfig
from mnist_core.data import DataError, default_data_dir, list_data_sources, load_dataset
from mnist_core.predict import evaluate, predict_proba
from mnist_core.runs import RunInfo, RunStoreError

MAX_MODEL_BYTES = 200 * 1024 * 1024


def export_file_name(run: RunInfo) -> str:
    """The download name of a run's model, e.g. mnist-lab-20260101-120000-ab12-mnist.pt."""
    return f"mnist-lab-{run.run_id}-{run.config.get('data', 'data')}.pt"


def export_model(run_dir: Path | str) -> bytes:
    """The run's checkpoint, as one file's bytes."""
    path = Path(run_dir) / "model.pt"
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise RunStoreError(f"Run {Path(run_dir).name} has no model file (did it finish?).") from exc


def import_model(data: bytes, runs_dir: Path | str, data_dir: Path | str, file_name: str = "model.pt") -> Path:
    """Add a model file as a finished run, evaluated on its data source's test split; return the run folder.

    RunStoreError says why a file is refused: too large, not a checkpoint, an unknown architecture,
    weights that do not fit it, a data source missing here, or classes that differ from that source's.
    """
    if len(data) > MAX_MODEL_BYTES:
        raise RunStoreError(f"{file_name} is {len(data) / 2**20:,.0f} MB; the limit for a model file is "
                            f"{MAX_MODEL_BYTES / 2**20:.0f} MB.")
    model, meta = runs.load_checkpoint(io.BytesIO(data))
    try:
        config = TrainConfig.from_dict(dict(meta.get("config") or {})).validate()
    except (ConfigError, TypeError) as exc:
        raise RunStoreError(f"{file_name} has no usable training config in its metadata ({exc}).") from exc
    source, names, mean, std = meta.get("data", config.data), meta["class_names"], meta.get("mean"), meta.get("std")
    if not all(isinstance(v, (int, float)) for v in (mean, std)) or not std > 0:
        raise RunStoreError(f"{file_name} has no valid normalisation (mean {mean!r}, std {std!r}) in its metadata.")
    if source not in list_data_sources(data_dir):
        raise RunStoreError(f"This model was trained on data source {source!r}, which is not available here. "
                            f"Import that dataset first (Data page or python -m mnist_core.datasets).")
    try:
        dataset = load_dataset(source, data_dir, download=False)
    except DataError as exc:
        raise RunStoreError(f"This model was trained on data source {source!r}, which cannot be loaded here: "
                            f"{exc}") from exc
    if dataset.class_names != list(names):
        raise RunStoreError(f"This model has {len(names)} classes ({', '.join(map(str, names[:12]))}) but data "
                            f"source {source!r} here has {dataset.num_classes} ({', '.join(dataset.class_names[:12])})"
                            "; it cannot be evaluated on it.")
    probs = predict_proba(model, dataset.test_images, float(mean), float(std))
    metrics = evaluate(probs, dataset.test_labels)
    return _add_run(data, config, probs, dataset.test_labels, metrics, Path(runs_dir), file_name)


def _add_run(data: bytes, config: TrainConfig, probs, labels, metrics: dict, runs_dir: Path, file_name: str) -> Path:
    runs_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=runs_dir))  # holds no config.json: not a run
    try:
        run_dir = runs.create_run(staging, config)
        runs.write_bytes_atomic(run_dir / "model.pt", data)
        runs.save_probs(run_dir, probs, labels)
        runs.append_event(run_dir, {"type": "imported", "file": file_name, "test_accuracy": metrics["accuracy"],
                                    "test_loss": metrics["loss"]})
        runs.set_status(run_dir, "finished", test_accuracy=metrics["accuracy"], duration=None, pid=None,
                        imported_from=file_name)
        target = runs_dir / run_dir.name
        os.rename(run_dir, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mnist_core.transfer", description="Move trained models in and out.")
    sub = p.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("export", help="write a run's model to one file")
    exp.add_argument("run_dir")
    exp.add_argument("out")
    imp = sub.add_parser("import", help="add a model file to the run store as a finished run")
    imp.add_argument("file")
    imp.add_argument("--runs-dir", default=str(runs.default_runs_dir()))
    imp.add_argument("--data-dir", default=str(default_data_dir()))
    args = p.parse_args(argv)
    try:
        if args.command == "export":
            runs.write_bytes_atomic(Path(args.out), export_model(args.run_dir))
            print(f"wrote {args.out}")
        else:
            path = Path(args.file)
            print(f"added run {import_model(path.read_bytes(), args.runs_dir, args.data_dir, path.name)}")
    except (RunStoreError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
