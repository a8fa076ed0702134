"""Import your own datasets from the command line.

    python -m mnist_core.own_data import PATH --name NAME [--test-fraction 0.2] [--seed 0] [--dry-run]
    python -m mnist_core.own_data list
    python -m mnist_core.own_data remove NAME
    (each takes --datasets-dir DIR, default $MNIST_DATASETS_DIR else datasets/ beside the runs dir, and
    --data-dir DIR, whose datasets/ folder, the old place, is still listed)

Bad input prints one line `error: ...` and exits 2; a folder that cannot be written exits 1.
"""
from __future__ import annotations

import sys
from argparse import Namespace

from mnist_core.cli import ArgumentParser, fail
from mnist_core.data import DataError, default_data_dir, default_datasets_dir
from mnist_core.own_data.archive import printable
from mnist_core.own_data.datasets import analyse_path, commit, list_imported, remove_dataset, validate_name


def parse_args(argv: list[str] | None) -> Namespace:
    common = ArgumentParser(add_help=False)
    common.add_argument("--datasets-dir", default=str(default_datasets_dir()),
                        help="where imported datasets live; default: $MNIST_DATASETS_DIR, else datasets/ beside "
                             "the runs dir")
    common.add_argument("--data-dir", default=str(default_data_dir()),
                        help="also list datasets from <data dir>/datasets (their old place); default: "
                             "$MNIST_DATA_DIR or ./data")
    p = ArgumentParser(prog="python -m mnist_core.own_data", description="Import your own datasets.")
    sub = p.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", parents=[common], help="import a .zip, an .npz or a folder of class folders")
    imp.add_argument("path")
    imp.add_argument("--name", required=True, help="the new data source's name, e.g. my-digits")
    imp.add_argument("--test-fraction", type=float, default=0.2, help="share of each class held out for testing")
    imp.add_argument("--seed", type=int, default=0, help="seed of the split and of the stored order")
    imp.add_argument("--dry-run", action="store_true", help="print the validation report, write nothing")
    sub.add_parser("list", parents=[common], help="list imported datasets")
    rm = sub.add_parser("remove", parents=[common], help="delete an imported dataset")
    rm.add_argument("name")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.command == "list":
            for row in list_imported(args.datasets_dir, args.data_dir):
                counts = row.get("counts", {})
                print(printable(f"{row['name']}: " + (row.get("error") or f"{len(row['class_names'])} classes, "
                      f"{sum(counts['train'].values()):,} train, {sum(counts['test'].values()):,} test, "
                      f"from {row['source']['file']}")))
        elif args.command == "remove":
            remove_dataset(args.name, args.datasets_dir, args.data_dir)
            print(f"removed {args.name}")
        else:
            validate_name(args.name, args.datasets_dir, args.data_dir)  # before reading what may be gigabytes
            analysis = analyse_path(args.path, args.test_fraction, args.seed)
            print("\n".join(analysis.report()))
            if args.dry_run:
                print("dry run: nothing was written")
                return 0
            folder = commit(analysis, args.name, args.datasets_dir, args.data_dir)
            print(f"imported {args.name!r} into {folder}\ntrain on it: python -m mnist_core.train --data {args.name}")
    except DataError as exc:
        return fail(printable(str(exc)), 2)
    except OSError as exc:
        return fail(f"could not write to {args.datasets_dir}: {exc}", 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
