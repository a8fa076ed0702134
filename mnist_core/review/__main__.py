"""Team data review from the command line: the suspect queue, the verdicts, the corrected labels.

    python -m mnist_core.review suspects --run RUN_DIR [--split test|train] [--top 20] [--class 3] [--mispredicted]
                                         [--issues]
    python -m mnist_core.review leaks --run RUN_DIR
    python -m mnist_core.review export --run RUN_DIR --format csv|json [--out FILE] [--db URL]
    python -m mnist_core.review corrections --run RUN_DIR --out FILE [--db URL]

`suspects` prints a header, then one tab-separated line per image of the split, most suspicious first:
index (in that split), given label, predicted label, p(given label), and `yes` for a likely label issue.
--split test (the default): the run's test probabilities, ranked by the rule of mnist_core/review/suspects.py.
--split train: the out-of-fold probabilities of a run trained with --folds K, ranked by cleanlab
(mnist_core/review/issues.py, cached as issues_train.pt), with a last column: the suggested label of an issue.
Class names are printed for imported datasets.
`leaks` prints `train_index<TAB>test_index` per near-duplicate pair between the training and the test set
(needs the embeddings of a run trained with --folds K).
`export` writes the latest verdict per judged image; `corrections` writes a corrected-labels file
(format: mnist_core/review/corrections.py) for `python -m mnist_core.train --label-corrections FILE`.
The database: --db, else env MNIST_REVIEW_DB, else <runs dir>/reviews.db next to RUN_DIR.
Errors print one line and exit 1 (bad arguments: 2).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from mnist_core import runs
from mnist_core.cli import ArgumentParser, fail
from mnist_core.files import write_bytes_atomic
from mnist_core.review.corrections import CorrectionsError, format_corrections
from mnist_core.review.export import csv_cell, export_rows, review_corrections, rows_to_csv, rows_to_json
from mnist_core.review.issues import leaks, run_issues, split_inputs
from mnist_core.review.store import ReviewStore, ReviewStoreError, configured_db_url
from mnist_core.review.suspects import filter_queue, find_suspects
from mnist_core.runs import RunStoreError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = ArgumentParser(prog="python -m mnist_core.review", description="Review where a model and the labels disagree.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("suspects", help="print the test images most likely mislabelled")
    s.add_argument("--split", choices=("test", "train"), default="test",
                   help="test images (default) or training images (needs a run trained with --folds K)")
    s.add_argument("--top", type=int, default=20, help="how many lines (default 20; 0 = all)")
    s.add_argument("--class", dest="klass", help="only images labelled with this class (index or name)")
    s.add_argument("--mispredicted", action="store_true", help="only images predicted as another class")
    s.add_argument("--issues", action="store_true", help="only likely label issues (confident learning)")
    lk = sub.add_parser("leaks", help="print the near duplicates between the training and the test set")
    e = sub.add_parser("export", help="write the verdicts, one row per judged image")
    e.add_argument("--format", choices=("csv", "json"), required=True)
    c = sub.add_parser("corrections", help="write a corrected-labels file for retraining")
    for parser in (s, lk, e, c):
        parser.add_argument("--run", required=True, help="the run folder, e.g. runs/20250101-120000-ab12")
    for parser in (e, c):
        parser.add_argument("--out", required=parser is c, help="output file (default for export: stdout)")
        parser.add_argument("--db", help="database URL (default: env MNIST_REVIEW_DB, else <runs dir>/reviews.db)")
    args = p.parse_args(argv)
    if args.command == "suspects" and args.top < 0:
        p.error(f"--top must be >= 0, got {args.top}")
    return args


def load_run(run_dir: Path) -> tuple[runs.RunInfo, np.ndarray, np.ndarray, list[str]]:
    """(info, probs (N, C), labels (N,), class names) of a finished run."""
    info = runs.read_run(run_dir)
    if info.status != "finished":
        raise RunStoreError(f"Run {info.run_id} is {info.status}, not finished: it has nothing to review.")
    probs, labels = runs.load_probs(run_dir)
    _, meta = runs.load_checkpoint(run_dir / "model.pt")
    return info, probs, labels, list(meta["class_names"])


def class_index(value: str, class_names: list[str]) -> int:
    if value in class_names:
        return class_names.index(value)
    if value.isdigit() and int(value) < len(class_names):
        return int(value)
    raise ValueError(f"unknown class {value!r}; classes: {', '.join(class_names)} (or their index)")


def print_train_suspects(args: argparse.Namespace, run_dir: Path, names: list[str]) -> None:
    """The training split's ranking by cleanlab, with the same filters and columns plus the suggested label."""
    table = run_issues(run_dir, "train")
    probs, labels, _, _ = split_inputs(run_dir, "train")
    predicted, p_given = probs.argmax(axis=1), probs[np.arange(len(labels)), labels]
    queue = table.order()
    if args.klass is not None:
        queue = queue[labels[queue] == class_index(args.klass, names)]
    if args.mispredicted:
        queue = queue[predicted[queue] != labels[queue]]
    if args.issues:
        queue = queue[table.is_issue[queue]]
    shown = queue[: args.top] if args.top else queue
    print("index\tgiven\tpredicted\tp_given\tlikely_issue\tsuggested")
    for i in shown:
        given, predicted_name = (csv_cell(names[k]) for k in (labels[i], predicted[i]))
        suggested = csv_cell(names[table.suggested[i]]) if table.is_issue[i] else ""
        print(f"{i}\t{given}\t{predicted_name}\t{p_given[i]:.4f}\t{'yes' if table.is_issue[i] else 'no'}\t{suggested}")
    print(f"{len(shown)} of {len(queue)} images in the queue; {int(table.is_issue.sum())} likely label issues "
          f"of {len(labels)} training images (out-of-fold probabilities, cleanlab).", file=sys.stderr)


def print_suspects(args: argparse.Namespace, probs: np.ndarray, labels: np.ndarray, names: list[str]) -> None:
    s = find_suspects(probs, labels)
    klass = class_index(args.klass, names) if args.klass is not None else None
    queue = filter_queue(s, klass=klass, mispredicted_only=args.mispredicted, issues_only=args.issues)
    shown = queue[: args.top] if args.top else queue
    print("index\tgiven\tpredicted\tp_given\tlikely_issue")
    for i in shown:
        issue = "yes" if s.issue[i] else "no"
        given, predicted = (csv_cell(names[k]) for k in (s.labels[i], s.predicted[i]))  # pasted into sheets
        print(f"{i}\t{given}\t{predicted}\t{s.p_given[i]:.4f}\t{issue}")
    print(f"{len(shown)} of {len(queue)} images in the queue; {int(s.issue.sum())} likely label issues "
          f"of {len(labels)} test images.", file=sys.stderr)


def write_output(text: str, out: str | None) -> None:
    if out:
        write_bytes_atomic(Path(out), text.encode())
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run_dir = Path(args.run)
    try:
        info, probs, labels, names = load_run(run_dir)
        if args.command == "leaks":
            pairs = leaks(run_dir)
            print("train_index\ttest_index")
            print("\n".join(f"{a}\t{b}" for a, b in pairs) if pairs else "", end="\n" if pairs else "")
            print(f"{len(pairs)} near duplicates between the training and the test set.", file=sys.stderr)
            return 0
        if args.command == "suspects" and args.split == "train":
            print_train_suspects(args, run_dir, names)
            return 0
        if args.command == "suspects":
            print_suspects(args, probs, labels, names)
            return 0
        store = ReviewStore(args.db or configured_db_url(run_dir.resolve().parent))
        try:
            history = store.history(info.run_id, split=None)  # corrections take both splits' verdicts
        finally:
            store.close()
        data = info.config.get("data", "")
        if args.command == "export":
            rows = export_rows([v for v in history if v.split == "test"], probs, labels, names)
            write_output(rows_to_csv(rows) if args.format == "csv" else rows_to_json(rows), args.out)
        else:
            corrected = review_corrections(history, data, info.config.get("label_corrections", ""))
            write_output(format_corrections(data, corrected), args.out)
    except (RunStoreError, ReviewStoreError, CorrectionsError, ValueError, OSError) as exc:
        return fail(exc, 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
