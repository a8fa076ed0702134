"""The argument parser every command line of the lab uses (train, own_data, transfer, review).

A bad argument prints one line, `error: <what is wrong>`, on stderr and exits with status 2: no usage dump,
no traceback. `fail` prints a caught error the same way.

    python -m mnist_core.train --lr -1      # error: lr: must be a number > 0, got -1.0  (exit 2)
"""
from __future__ import annotations

import argparse
import sys

BAD_ARGUMENTS = 2  # the exit status of every bad command line, as argparse's own


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        self.exit(BAD_ARGUMENTS, f"error: {message}\n")

    def add_subparsers(self, **kwargs):
        """Subcommands that report bad arguments the same way."""
        kwargs.setdefault("parser_class", ArgumentParser)
        return super().add_subparsers(**kwargs)


def fail(message: object, status: int = BAD_ARGUMENTS) -> int:
    """Print `error: <message>` on stderr; return `status` for main() to exit with."""
    print(f"error: {message}", file=sys.stderr)
    return status
