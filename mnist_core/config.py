"""TrainConfig: the typed, validated description of one training run, saved with every run.

Recipes (`default`, `notebook`, `fast`, `best`) are named presets of TrainConfig fields.
"""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from pathlib import Path

from mnist_core.device import cpu_has_bf16

OPTIMIZERS = ("adam", "adamw", "sgd")
# The nets' names; mnist_core.nets.ARCHITECTURES pairs them with the nets (torch), this tuple needs no torch
ARCHITECTURE_NAMES = ("notebook", "fast", "best", "wide", "deep")
DEVICES = ("auto", "cpu", "cuda")
SCHEDULES = ("constant", "onecycle")
AUGMENTATIONS = ("none", "shift", "affine")  # mnist_core.augment: nothing, 2-pixel shifts, rotate + scale + shift
# What the training steps compute in (mnist_core.device.autocast): auto is bfloat16 on a GPU, float32 on the CPU
PRECISIONS = ("auto", "float32", "bfloat16")
MIN_FOLDS, MAX_FOLDS = 2, 10  # cross-validation: fewer than 2 is no split; more than 10 costs more than it tells
RENAMED_FIELDS = {"model": "architecture"}  # old name -> name: what saved configs may still say
# A data source's name is a name, never a path: it picks a folder under the data dir (mnist_core.data), and a
# config or checkpoint from outside (an upload, a URL, a run folder) must not reach any other folder with it.
DATA_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
DATA_NAME_RULE = "1 to 40 lowercase letters, digits, '-' or '_', starting with a letter or digit"


def is_data_name(value) -> bool:
    """True for a string that may name a data source (built-in or imported)."""
    return isinstance(value, str) and DATA_NAME_PATTERN.fullmatch(value) is not None


def shown(value) -> str:
    """A value for an error message: short scalars as repr, cut at 60 characters; anything else by its type.

    Values come from uploaded files too: a megabyte string, or a list nested a hundred deep that shares its
    parts (cheap to unpickle, exponential to print), must not make the message itself the attack."""
    if value is None or isinstance(value, (bool, int, float, str)):
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    return f"a {type(value).__name__}"


class ConfigError(ValueError):
    """A TrainConfig field has a bad value; `field` names it."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass
class TrainConfig:
    data: str = "mnist"
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    seed: int = 0
    shuffle: bool = True
    device: str = "auto"
    precision: str = "auto"  # a name in PRECISIONS; saved configs without it trained as "auto" does
    architecture: str = "notebook"  # a name in ARCHITECTURE_NAMES (mnist_core.nets.ARCHITECTURES)
    normalize: bool = True  # the notebook fed raw ToTensor pixels in [0, 1]; its recipe sets False
    schedule: str = "constant"
    weight_decay: float = 0.0
    augment: str = "none"  # a name in AUGMENTATIONS (saved configs may say true / false: upgrade_fields)
    label_smoothing: float = 0.0
    ema: float = 0.0  # decay of an exponential moving average of the weights, which is what is scored; 0: none
    label_corrections: str = ""  # path of a corrected-labels CSV (mnist_core.review.corrections); never from a visitor
    recipe: str = ""  # name of the preset this config started from, for display only
    workers: int = 1  # processes for DistributedDataParallel training
    validation: int = 0  # training images held out (seeded, stratified) to fit a temperature on; 0: none
    folds: int = 0  # cross-validate first: K fold models give every training image out-of-fold probabilities

    def validate(self, known_data: list[str] | None = None,
                 known_architectures: list[str] | None = None) -> TrainConfig:
        """Raise ConfigError naming the first bad field; return self when all is well."""
        def need(ok: bool, name: str, message: str) -> None:
            if not ok:
                raise ConfigError(name, message)

        need(_is_int(self.epochs) and self.epochs >= 1, "epochs", f"must be an integer >= 1, got {shown(self.epochs)}")
        need(_is_int(self.batch_size) and self.batch_size >= 1, "batch_size",
             f"must be an integer >= 1, got {shown(self.batch_size)}")
        need(_is_number(self.lr) and self.lr > 0, "lr", f"must be a number > 0, got {shown(self.lr)}")
        need(self.optimizer in OPTIMIZERS, "optimizer",
             f"unknown optimizer {shown(self.optimizer)}; allowed: {', '.join(OPTIMIZERS)}")
        need(_is_int(self.seed) and self.seed >= 0, "seed", f"must be an integer >= 0, got {shown(self.seed)}")
        need(self.device in DEVICES, "device", f"unknown device {shown(self.device)}; allowed: {', '.join(DEVICES)}")
        need(self.precision in PRECISIONS, "precision",
             f"unknown precision {shown(self.precision)}; allowed: {', '.join(PRECISIONS)}")
        names = known_architectures if known_architectures is not None else list(ARCHITECTURE_NAMES)
        need(self.architecture in names, "architecture",
             f"unknown architecture {shown(self.architecture)}; allowed: {', '.join(names)}")
        need(self.schedule in SCHEDULES, "schedule",
             f"unknown schedule {shown(self.schedule)}; allowed: {', '.join(SCHEDULES)}")
        need(_is_number(self.weight_decay) and self.weight_decay >= 0, "weight_decay",
             f"must be a number >= 0, got {shown(self.weight_decay)}")
        need(_is_number(self.label_smoothing) and 0 <= self.label_smoothing < 1, "label_smoothing",
             f"must be in [0, 1), got {shown(self.label_smoothing)}")
        need(_is_number(self.ema) and 0 <= self.ema < 1, "ema",
             f"must be in [0, 1) (0: no weight average), got {shown(self.ema)}")
        need(_is_int(self.workers) and self.workers >= 1, "workers",
             f"must be an integer >= 1, got {shown(self.workers)}")
        need(_is_int(self.validation) and self.validation >= 0, "validation",
             f"must be an integer >= 0 (training images to hold out), got {shown(self.validation)}")
        need(_is_int(self.folds) and (self.folds == 0 or MIN_FOLDS <= self.folds <= MAX_FOLDS), "folds",
             f"must be 0 (no cross-validation) or an integer from {MIN_FOLDS} to {MAX_FOLDS}, got {shown(self.folds)}")
        need(self.augment in AUGMENTATIONS, "augment",
             f"unknown augmentation {shown(self.augment)}; allowed: {', '.join(AUGMENTATIONS)}")
        for name in ("shuffle", "normalize"):
            value = getattr(self, name)
            need(isinstance(value, bool), name, f"must be true or false, got {shown(value)}")
        for name in ("label_corrections", "recipe"):
            value = getattr(self, name)
            need(isinstance(value, str), name, f"must be a string, got {shown(value)}")
        need(is_data_name(self.data), "data", f"must be the name of a data source ({DATA_NAME_RULE}), "
                                              f"got {shown(self.data)}")
        need(not self.label_corrections or Path(self.label_corrections).is_file(), "label_corrections",
             f"no such file: {self.label_corrections!r}")
        if known_data is not None:
            need(self.data in known_data, "data",
                 f"unknown data source {shown(self.data)}; allowed: {', '.join(known_data)}")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """A config from saved fields (missing ones take defaults); unknown fields raise ConfigError."""
        if not isinstance(values, dict):
            raise ConfigError("config", f"expected a mapping of field names to values, got {type(values).__name__}")
        values = upgrade_fields(values)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted((k for k in values if k not in names), key=str)
        if unknown:
            listed = ", ".join(k if isinstance(k, str) and len(k) <= 40 else shown(k) for k in unknown[:5])
            raise ConfigError(str(unknown[0])[:40], f"unknown field{'s' if len(unknown) > 1 else ''} {listed}"
                                                    f"{', ...' if len(unknown) > 5 else ''}; "
                                                    f"allowed: {', '.join(sorted(names))}")
        return cls(**values)


def upgrade_fields(values: dict) -> dict:
    """Saved config fields under today's names: config.json files and checkpoints written before a field was
    renamed keep loading (the files themselves are left as they are)."""
    upgraded = dict(values)
    for old, new in RENAMED_FIELDS.items():
        if old in upgraded and new not in upgraded:
            upgraded[new] = upgraded.pop(old)
    if isinstance(upgraded.get("augment"), bool):  # before the affine mode, augment was on (shifts) or off
        upgraded["augment"] = "shift" if upgraded["augment"] else "none"
    return upgraded


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    """A finite int or float (NaN and inf are rejected; bools are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# Presets. `notebook` is the notebook exactly: no shuffle, raw [0, 1] pixels, batch 64, Adam 1e-3, 10 epochs.
# `fast` and `best` trade it for time to accuracy on 2 CPU cores (benchmarks/README.md, time_to_accuracy.py and
# recipe_search.py): `fast` is one epoch of the BatchNorm `best` net, which clears 99 % where the `fast` net,
# without BatchNorm, needs 3-4 epochs at about two thirds of the cost per epoch. `fast` trains in bfloat16 where
# the CPU has it natively (1.2x start to exit, 99.14-99.22 % against float32's 99.20-99.21 % on 3 seeds:
# benchmarks/precision.py), else as `auto`.
_PLAIN = dict(optimizer="adam", normalize=True, weight_decay=0.0, augment="none", label_smoothing=0.0, ema=0.0,
              precision="auto")
NATIVE_BF16 = "bfloat16" if cpu_has_bf16() else "auto"  # bfloat16 where this machine computes it natively
RECIPES: dict[str, dict] = {
    "default": dict(_PLAIN, epochs=10, batch_size=64, lr=1e-3, shuffle=True, architecture="notebook",
                    schedule="constant"),
    "notebook": dict(_PLAIN, epochs=10, batch_size=64, lr=1e-3, shuffle=False, architecture="notebook",
                     normalize=False, schedule="constant", precision="float32"),  # the notebook's maths on a GPU too
    "fast": dict(_PLAIN, epochs=1, batch_size=128, lr=1e-2, shuffle=True, architecture="best", schedule="onecycle",
                 label_smoothing=0.1, precision=NATIVE_BF16),
    "best": dict(_PLAIN, epochs=16, batch_size=128, lr=5e-3, shuffle=True, architecture="deep", schedule="onecycle",
                 augment="affine", label_smoothing=0.1, ema=0.999),
}

RECIPE_NOTES: dict[str, str] = {  # one line each for the Train page and --help; figures: benchmarks/README.md
    "default": "the notebook's net and hyperparameters (Adam 1e-3, batch 64, 10 epochs), shuffled every epoch, "
               "normalised pixels: about 99.1 % test accuracy",
    "notebook": "the notebook exactly: no shuffling, raw [0, 1] pixels; 98.6-99.0 % test accuracy",
    "fast": "the `best` net (three BatchNorm convs, 16 to 64 channels), batch 128, one-cycle learning rate up to "
            "1e-2, label smoothing 0.1, 1 epoch, bfloat16 where the CPU computes it natively: 99.1-99.2 % test "
            "accuracy in 7-9 s on 2 CPU cores, start to exit (10-13 s in float32)",
    "best": "the `deep` net (five BatchNorm convs, 32 to 128 channels), batch 128, one-cycle up to 5e-3, "
            "random rotations, scalings and shifts, label smoothing 0.1, a moving average of the weights, "
            "16 epochs: 99.70-99.73 % test accuracy in 310-380 s on 2 CPU cores",
}


def apply_recipe(config: TrainConfig, recipe: str) -> TrainConfig:
    """A copy of `config` with the recipe's fields filled in (data, seed, device are kept)."""
    if recipe not in RECIPES:
        raise ConfigError("recipe", f"unknown recipe {recipe!r}; allowed: {', '.join(RECIPES)}")
    return dataclasses.replace(config, recipe=recipe, **RECIPES[recipe])
