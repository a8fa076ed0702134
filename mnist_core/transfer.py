"""Models in and out: export a trained run as one file, and add such a file to the run store as a new run.

The file is a checkpoint (mnist_core.checkpoint): the state_dict plus its metadata (architecture, class_names,
mean, std, data, config, metrics). An uploaded file is untrusted: it is checked before torch reads it and
loaded with weights_only=True (mnist_core.checkpoint), its config must validate and name the same data source
as the checkpoint itself (a name, never a path), and it loses `label_corrections` (a path on the uploader's
machine, or a probe of this one). It is evaluated on that source's test split with predict_proba and added as
a finished run, built in a hidden staging folder and renamed into place: it appears whole or not at all.
Neither direction copies the bytes it was given: import and export both write a fresh checkpoint of the
checked weights and metadata, so nothing else in a file (an extra zip member) rides along.

    python -m mnist_core.transfer export RUN_DIR OUT.pt
    python -m mnist_core.transfer import FILE.pt [--runs-dir DIR] [--data-dir DIR]
"""
from __future__ import annotations

import dataclasses
import io
import os
import re
import sys
from pathlib import Path

from mnist_core import artifacts, quotas, runs
from mnist_core.checkpoint import checkpoint_bytes, max_checkpoint_bytes
from mnist_core.cli import ArgumentParser, fail
from mnist_core.config import ConfigError, TrainConfig, is_data_name
from mnist_core.data import DataError, default_data_dir, list_data_sources, load_dataset
from mnist_core.files import staging_dir, write_bytes_atomic
from mnist_core.predict import evaluate, predict_proba
from mnist_core.runs import RunInfo, RunStoreError

META_KEYS = ("architecture", "class_names", "mean", "std", "data", "config", "test_accuracy", "test_loss")


def export_file_name(run: RunInfo) -> str:
    """The download name of a run's model, e.g. mnist-lab-20260101-120000-ab12-mnist.pt."""
    data = run.config.get("data")
    return f"mnist-lab-{run.run_id}-{data if is_data_name(data) else 'data'}.pt"


def export_model(run_dir: Path | str) -> bytes:
    """The run's checkpoint, checked and written afresh (never the stored bytes as they are), as one file."""
    path = Path(run_dir) / "model.pt"
    if not path.is_file():
        raise RunStoreError(f"Run {Path(run_dir).name} has no model file (did it finish?).")
    net, meta = runs.load_checkpoint(path)
    return checkpoint_bytes(net, {k: meta[k] for k in META_KEYS if k in meta})


def upload_name(file_name: str) -> str:
    """A visitor's file name made safe to show and store: its last part, plain characters, at most 80."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(str(file_name)).name)[-80:].strip("._")
    return name or "model.pt"


def import_model(file_bytes: bytes, runs_dir: Path | str, data_dir: Path | str, file_name: str = "model.pt",
                 owner: str = "") -> Path:
    """Add a model file as a finished run, evaluated on its data source's test split; return the run folder.

    RunStoreError says why a file is refused: too large, not a checkpoint or a suspicious one, an unknown
    architecture, weights that do not fit it or are not finite, a bad config, a data source missing here, or
    classes that differ from that source's. With an `owner` (the dashboard's login) the run is theirs, and
    quotas.QuotaError is raised first when they have MNIST_MAX_RUNS_PER_USER runs already.
    """
    if owner:
        quotas.check_runs(runs_dir, owner)
    file_name = upload_name(file_name)
    limit = max_checkpoint_bytes()
    if len(file_bytes) > limit:
        raise RunStoreError(f"{file_name} is {len(file_bytes) / 2**20:,.1f} MB; the limit for a model file is "
                            f"{limit / 2**20:.1f} MB (four times the largest net MNIST Lab trains).")
    net, meta = runs.load_checkpoint(io.BytesIO(file_bytes))
    config = imported_config(meta, file_name)
    data, names, mean, std = config.data, meta["class_names"], float(meta["mean"]), float(meta["std"])
    if data not in list_data_sources(data_dir):
        raise RunStoreError(f"This model was trained on data source {data!r}, which is not available here. "
                            f"Import that dataset first (Data page or python -m mnist_core.own_data).")
    try:
        dataset = load_dataset(data, data_dir, download=False)
    except DataError as exc:
        raise RunStoreError(f"This model was trained on data source {data!r}, which cannot be loaded here: "
                            f"{exc}") from exc
    if dataset.class_names != list(names):
        raise RunStoreError(f"This model has {len(names)} classes ({', '.join(map(str, names[:12]))}) but data "
                            f"source {data!r} here has {dataset.num_classes} ({', '.join(dataset.class_names[:12])})"
                            "; it cannot be evaluated on it.")
    probs = predict_proba(net, dataset.test_images, mean, std)
    metrics = evaluate(probs, dataset.test_labels)
    clean = {"architecture": meta["architecture"], "class_names": list(names), "mean": mean, "std": std,
             "data": data, "config": config.to_dict(), "test_accuracy": metrics["accuracy"],
             "test_loss": metrics["loss"]}
    return _add_run(checkpoint_bytes(net, clean), config, probs, dataset.test_labels, metrics, Path(runs_dir),
                    file_name, owner)


def imported_config(meta: dict, file_name: str) -> TrainConfig:
    """The checkpoint's training config, validated, naming the checkpoint's own data source, corrections dropped."""
    raw = meta.get("config")
    if not isinstance(raw, dict):
        raise RunStoreError(f"{file_name} has no training config in its metadata.")
    try:
        # label_corrections goes before validate(), which would look the path up on this server
        config = dataclasses.replace(TrainConfig.from_dict(dict(raw)), label_corrections="").validate()
    except (ConfigError, TypeError) as exc:
        raise RunStoreError(f"{file_name} has no usable training config in its metadata ({exc}).") from exc
    if meta.get("data") != config.data:
        raise RunStoreError(f"{file_name} is refused: its training config names data source {config.data!r}, "
                            "but the checkpoint does not say it was trained on that source.")
    return config


def _add_run(checkpoint: bytes, config: TrainConfig, probs, labels, metrics: dict, runs_dir: Path,
             file_name: str, owner: str = "") -> Path:
    with staging_dir(runs_dir, ".import-") as staging:  # holds no config.json: not a run
        run_dir = runs.create_run(staging, config, owner=owner)
        write_bytes_atomic(run_dir / "model.pt", checkpoint)
        runs.save_probs(run_dir, probs, labels)
        runs.append_event(run_dir, {"type": "imported", "file": file_name, "test_accuracy": metrics["accuracy"],
                                    "test_loss": metrics["loss"]})
        runs.set_status(run_dir, "finished", test_accuracy=metrics["accuracy"], duration=None, pid=None,
                        imported_from=file_name)
        target = runs_dir / run_dir.name
        os.rename(run_dir, target)
    artifacts.push_quietly("runs", target)  # finished here, so it outlives this disk (MNIST_ARTIFACTS)
    return target


def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser(prog="python -m mnist_core.transfer", description="Move trained models in and out.")
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
            write_bytes_atomic(Path(args.out), export_model(args.run_dir))
            print(f"wrote {args.out}")
        else:
            path = Path(args.file)
            print(f"added run {import_model(path.read_bytes(), args.runs_dir, args.data_dir, path.name)}")
    except (RunStoreError, OSError) as exc:
        return fail(exc, 2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
