"""Who may do what once the dashboard has a login: administrators, and the per-identity limits on runs and datasets.

The identity is the logged-in email (the dashboard's ui/identity.py reads it from st.user); this module only
sees strings, so the command line and the tests use it the same way. Settings (docs/deploy.md):

    MNIST_ADMINS                  comma-separated emails that may delete runs and datasets (login on)
    MNIST_MAX_RUNS_PER_USER       runs kept in the store per identity (default 20; 0: no limit)
    MNIST_MAX_DATASETS_PER_USER   imported datasets per identity (default 10; 0: no limit)

    from mnist_core import quotas
    quotas.check_runs(runs_dir, "ada@example.com")   # QuotaError when she has MNIST_MAX_RUNS_PER_USER runs
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from mnist_core.run_read import list_runs

ADMINS_ENV = "MNIST_ADMINS"
MAX_RUNS_ENV, MAX_DATASETS_ENV = "MNIST_MAX_RUNS_PER_USER", "MNIST_MAX_DATASETS_PER_USER"
DEFAULT_MAX_RUNS, DEFAULT_MAX_DATASETS = 20, 10


class QuotaError(ValueError):
    """An identity reached its limit; the message names the limit, the count and what to do. Nothing was made."""


def same_identity(a: str, b: str) -> bool:
    """Emails compared as providers treat them: case-insensitively, without surrounding spaces."""
    return bool(a.strip()) and a.strip().casefold() == b.strip().casefold()


def admins(environ=os.environ) -> frozenset[str]:
    """MNIST_ADMINS as a set of casefolded emails (empty: nobody may delete while login is on)."""
    return frozenset(e.strip().casefold() for e in environ.get(ADMINS_ENV, "").split(",") if e.strip())


def is_admin(identity: str, environ=os.environ) -> bool:
    return bool(identity.strip()) and identity.strip().casefold() in admins(environ)


def _limit(name: str, default: int, environ) -> int:
    text = environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise ValueError(f"{name} must be a whole number >= 0 (0: no limit), got {text!r}")
    return int(text)


def max_runs(environ=os.environ) -> int:
    return _limit(MAX_RUNS_ENV, DEFAULT_MAX_RUNS, environ)


def max_datasets(environ=os.environ) -> int:
    return _limit(MAX_DATASETS_ENV, DEFAULT_MAX_DATASETS, environ)


def owned_runs(runs_dir: Path | str, identity: str) -> list[str]:
    """Ids of the runs in the store that `identity` started (any status: each holds its folder on disk)."""
    return [r.run_id for r in list_runs(runs_dir) if same_identity(r.owner, identity)]


def owned_datasets(datasets_dir: Path | str) -> dict[str, str]:
    """{dataset name: who imported it} for every imported dataset in `datasets_dir` whose manifest says."""
    found = {}
    root = Path(datasets_dir)
    for manifest in sorted(root.glob("*/manifest.json")) if root.is_dir() else []:
        try:
            by = json.loads(manifest.read_text()).get("imported_by", "")
        except (OSError, ValueError, AttributeError):
            continue  # an unreadable manifest is listed as such by list_imported; it counts for nobody
        if isinstance(by, str) and by:
            found[manifest.parent.name] = by
    return found


def check_runs(runs_dir: Path | str, identity: str, environ=os.environ) -> None:
    """QuotaError when `identity` already has MNIST_MAX_RUNS_PER_USER runs in the store. Call it under the runs
    folder's lock, with the start that follows, so that two pages pressing Start at once cannot both pass."""
    limit = max_runs(environ)
    mine = owned_runs(runs_dir, identity) if limit else []
    if limit and len(mine) >= limit:
        raise QuotaError(f"You have {len(mine)} runs on this server, the limit per person ({MAX_RUNS_ENV}={limit}). "
                         "No run was started. Ask an administrator to delete runs you no longer need.")


def check_datasets(datasets_dir: Path | str, identity: str, environ=os.environ) -> None:
    """QuotaError when `identity` already imported MNIST_MAX_DATASETS_PER_USER datasets."""
    limit = max_datasets(environ)
    mine = [n for n, by in owned_datasets(datasets_dir).items() if same_identity(by, identity)] if limit else []
    if limit and len(mine) >= limit:
        raise QuotaError(f"You have imported {len(mine)} datasets, the limit per person ({MAX_DATASETS_ENV}="
                         f"{limit}): {', '.join(mine)}. Nothing was imported. Ask an administrator to remove "
                         "datasets you no longer need.")
