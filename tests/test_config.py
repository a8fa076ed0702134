"""TrainConfig validation: every bad value raises ConfigError naming the field and what is allowed.

    python -m pytest -q tests/test_config.py
"""
from __future__ import annotations

import dataclasses
import json

import pytest

from mnist_core import runs
from mnist_core.config import RECIPES, ConfigError, TrainConfig, apply_recipe
from mnist_core.data import list_data_sources
from mnist_core.nets import ARCHITECTURES

BAD_VALUES = [
    ("lr", 0, r"must be a number > 0, got 0"),
    ("lr", -1e-3, r"must be a number > 0, got -0.001"),
    ("lr", float("nan"), r"must be a number > 0, got nan"),
    ("lr", float("inf"), r"must be a number > 0, got inf"),
    ("lr", "0.01", r"must be a number > 0, got '0.01'"),
    ("batch_size", 0, r"must be an integer >= 1, got 0"),
    ("batch_size", 32.0, r"must be an integer >= 1, got 32.0"),
    ("epochs", 0, r"must be an integer >= 1, got 0"),
    ("epochs", True, r"must be an integer >= 1, got True"),
    ("seed", -1, r"must be an integer >= 0, got -1"),
    ("optimizer", "rmsprop", r"unknown optimizer 'rmsprop'; allowed: adam, adamw, sgd"),
    ("architecture", "resnet", rf"unknown architecture 'resnet'; allowed: {', '.join(ARCHITECTURES)}"),
    ("device", "tpu", r"unknown device 'tpu'; allowed: auto, cpu, cuda"),
    ("precision", "float16", r"unknown precision 'float16'; allowed: auto, float32, bfloat16"),
    ("schedule", "cosine", r"unknown schedule 'cosine'; allowed: constant, onecycle"),
    ("weight_decay", -0.1, r"must be a number >= 0, got -0.1"),
    ("label_smoothing", 1.0, r"must be in \[0, 1\), got 1.0"),
    ("workers", 0, r"must be an integer >= 1, got 0"),
    ("ema", 1.0, r"must be in \[0, 1\) \(0: no weight average\), got 1.0"),
    ("ema", -0.5, r"must be in \[0, 1\) \(0: no weight average\), got -0.5"),
    ("augment", "mixup", r"unknown augmentation 'mixup'; allowed: none, shift, affine"),
    ("augment", True, r"unknown augmentation True; allowed: none, shift, affine"),
    ("shuffle", "no", r"must be true or false, got 'no'"),
    ("normalize", 1, r"must be true or false, got 1"),
    ("label_corrections", None, r"must be a string, got None"),
    ("data", "", r"must be the name of a data source \(1 to 40 lowercase .*\), got ''"),
    ("data", "../../../../tmp/x", r"must be the name of a data source \(.*\), got '../../../../tmp/x'"),
    ("data", "/etc", r"must be the name of a data source \(.*\), got '/etc'"),
    ("data", "x" * 41, r"must be the name of a data source \(.*\), got 'x{41}'"),
    ("data", "y" * 100, r"must be the name of a data source \(.*\), got 'y{56}\.\.\.$"),
    ("recipe", 7, r"must be a string, got 7"),
    ("optimizer", [[1]] * 3, r"unknown optimizer a list; allowed"),
]


@pytest.mark.parametrize("field, value, message", BAD_VALUES, ids=[f"{f}={v!r}" for f, v, _ in BAD_VALUES])
def test_bad_value_names_the_field_and_what_is_allowed(field, value, message):
    config = dataclasses.replace(TrainConfig(), **{field: value})
    with pytest.raises(ConfigError, match=rf"^{field}: {message}") as info:
        config.validate()
    assert info.value.field == field


def test_unknown_data_source_lists_the_known_ones(tmp_path):
    with pytest.raises(ConfigError, match=r"^data: unknown data source 'cifar10'; allowed: mnist, fashion-mnist, "
                                          r"kmnist, mnist-sample$") as info:
        TrainConfig(data="cifar10").validate(known_data=list_data_sources(tmp_path))
    assert info.value.field == "data"


def test_good_configs_validate_and_round_trip_through_json():
    for recipe in RECIPES:
        config = apply_recipe(TrainConfig(data="mnist-sample", seed=3), recipe)
        assert config.validate(known_data=["mnist-sample"]) is config
        assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert TrainConfig(lr=1, weight_decay=0, label_smoothing=0.1, device="cuda").validate()  # ints are numbers


def test_configs_saved_before_the_architecture_field_was_renamed_still_load(tmp_path):
    """config.json files and checkpoints written with `model` (the field's old name) keep loading."""
    assert TrainConfig.from_dict({"model": "fast", "epochs": 2}) == TrainConfig(architecture="fast", epochs=2)
    run_dir = runs.create_run(tmp_path, TrainConfig())
    old = TrainConfig(architecture="best").to_dict()
    old["model"] = old.pop("architecture")
    (run_dir / "config.json").write_text(json.dumps(old))
    assert runs.read_run(run_dir).config["architecture"] == "best" and "model" not in runs.read_run(run_dir).config
    with pytest.raises(ConfigError, match="unknown field model"):  # both names: ambiguous, refused
        TrainConfig.from_dict({"model": "fast", "architecture": "best"})


def test_configs_saved_when_augment_was_true_or_false_load_as_shift_or_none(tmp_path):
    """Before the "affine" mode, `augment` was a bool: true meant the 2-pixel shifts."""
    assert TrainConfig.from_dict({"augment": True}).augment == "shift"
    assert TrainConfig.from_dict({"augment": False}).augment == "none"
    run_dir = runs.create_run(tmp_path, TrainConfig())
    old = TrainConfig(architecture="best").to_dict() | {"augment": True}
    (run_dir / "config.json").write_text(json.dumps(old))
    assert runs.read_run(run_dir).config["augment"] == "shift"


def test_from_dict_rejects_unknown_fields():
    with pytest.raises(ConfigError, match=r"^learning_rate: unknown fields learning_rate, momentum; allowed: "
                                          r"architecture, augment, batch_size, data,") as info:
        TrainConfig.from_dict({"lr": 0.1, "learning_rate": 0.1, "momentum": 0.9})
    assert info.value.field == "learning_rate"
    with pytest.raises(ConfigError, match=r"expected a mapping of field names to values, got list"):
        TrainConfig.from_dict([("lr", 0.1)])


def test_from_dict_fills_missing_fields_with_defaults():
    config = TrainConfig.from_dict({"data": "mnist-sample", "epochs": 2})
    assert config == dataclasses.replace(TrainConfig(), data="mnist-sample", epochs=2)


def test_recipes_keep_data_seed_and_device_and_reject_unknown_names():
    base = TrainConfig(data="kmnist", seed=7, device="cpu", epochs=99)
    notebook = apply_recipe(base, "notebook")
    assert (notebook.data, notebook.seed, notebook.device, notebook.recipe) == ("kmnist", 7, "cpu", "notebook")
    assert (notebook.epochs, notebook.shuffle, notebook.normalize, notebook.batch_size) == (10, False, False, 64)
    with pytest.raises(ConfigError, match=rf"^recipe: unknown recipe 'turbo'; allowed: {', '.join(RECIPES)}$"):
        apply_recipe(base, "turbo")
