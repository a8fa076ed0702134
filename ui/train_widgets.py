"""The Train page's form: the config form with presets, the data preview (live progress: ui/train_progress.py)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import streamlit as st

from mnist_core.config import (
    ARCHITECTURE_NAMES,
    MAX_FOLDS,
    MIN_FOLDS,
    OPTIMIZERS,
    PRECISIONS,
    RECIPE_NOTES,
    RECIPES,
    TrainConfig,
)
from mnist_core.data import DataError, Dataset, idx_dir, list_data_sources
from mnist_core.device import cpu_has_bf16, cuda_devices
from mnist_core.distributed import max_workers
from ui import state
from ui.corrections_picker import corrections_picker
from ui.grid import grid_png

FORM_FIELDS = ("epochs", "batch_size", "lr", "optimizer", "architecture", "shuffle", "precision")  # a preset fills them
PRECISION_HELP = ("What the training steps compute in. auto: bfloat16 on a GPU, float32 on the CPU. bfloat16 on the "
                  "CPU is fast only where it has AVX512-BF16 or AMX; its losses differ slightly from float32's. "
                  "Probabilities are always computed in float32.")


def _apply_preset() -> None:
    preset = RECIPES[st.session_state["train_recipe"]]
    for name in FORM_FIELDS:
        st.session_state[f"train_{name}"] = preset[name]


def preset_caption(recipe: str) -> str:
    """The preset's note while the form holds its values; once a field differs, says so and which."""
    changed = [name.replace("_", " ") for name in FORM_FIELDS
               if f"train_{name}" in st.session_state and st.session_state[f"train_{name}"] != RECIPES[recipe][name]]
    if not changed:
        return RECIPE_NOTES[recipe]
    return f"custom: the `{recipe}` preset, modified ({', '.join(changed)} changed)"


def config_form() -> TrainConfig:
    """Widgets -> TrainConfig (validated by the caller). Preset fields not on the form come from the preset."""
    if "train_recipe" not in st.session_state:
        st.session_state["train_recipe"] = "default"
        _apply_preset()
    names = list_data_sources(state.data_dir())
    default_data = "mnist" if idx_dir("mnist", state.data_dir()).is_dir() else "mnist-sample"
    left, middle, right = st.columns(3)
    recipe = left.selectbox("Preset", list(RECIPES), key="train_recipe", on_change=_apply_preset,
                            help="A starting point for every field below; the fields stay editable.")
    left.caption(preset_caption(recipe))
    data = left.selectbox("Data source", names, index=names.index(default_data), key="train_data")
    architecture = left.selectbox("Architecture", list(ARCHITECTURE_NAMES), key="train_architecture")
    epochs = middle.number_input("Epochs", 1, 200, key="train_epochs")
    batch_size = middle.number_input("Batch size", 1, 8192, key="train_batch_size")
    lr = middle.number_input("Learning rate", 1e-6, 10.0, key="train_lr", format="%.1e", step=1e-4)
    precision = middle.selectbox("Precision", PRECISIONS, key="train_precision", help=PRECISION_HELP)
    optimizer = right.selectbox("Optimizer", OPTIMIZERS, key="train_optimizer")
    seed = right.number_input("Seed", 0, 2**31 - 1, 0, key="train_seed")
    devices = ["auto", "cpu"] + (["cuda"] if cuda_devices() else [])
    device = right.selectbox("Device", devices, key="train_device")
    shuffle = right.checkbox("Shuffle every epoch", key="train_shuffle")
    if precision == "bfloat16" and not cpu_has_bf16() and (device == "cpu" or not cuda_devices()):
        middle.caption("This CPU has no native bfloat16 (AVX512-BF16 or AMX): its steps will be slower than "
                       "float32's.")
    low, high = st.columns([3, 1])
    corrections = corrections_picker(low, data)  # an upload or a kept file, never a typed path
    workers = high.number_input("Processes", 1, max_workers(device), 1, key="train_workers",
                                help="Train with DistributedDataParallel on this many processes (one per core, "
                                     "or one per GPU). At MNIST's size one process is usually fastest.")
    preset = {k: v for k, v in RECIPES[recipe].items() if k not in FORM_FIELDS}
    return dataclasses.replace(
        TrainConfig(data=data, epochs=int(epochs), batch_size=int(batch_size), lr=float(lr), optimizer=optimizer,
                    seed=int(seed), shuffle=bool(shuffle), device=device, precision=precision,
                    architecture=architecture, recipe=recipe,
                    label_corrections=corrections, workers=int(workers)), **preset)


def data_preview(name: str) -> None:
    """The notebook's 5x5 grid of training images with their labels, and the class counts."""
    try:
        dataset = state.load_data(name)
    except DataError as exc:
        st.warning(str(exc))
        return
    with st.expander(f"Data: {data_summary(dataset)}", expanded=False):
        left, right = st.columns([3, 2])
        images = dataset.train_images[:25]
        titles = [f"Im. {i}, true {dataset.class_names[int(y)]}" for i, y in enumerate(dataset.train_labels[:25])]
        left.image(grid_png(images, titles, scale=3), caption="The first 25 training images")
        counts = np.bincount(dataset.train_labels, minlength=dataset.num_classes).tolist()
        right.bar_chart(pd.DataFrame({"class": dataset.class_names, "train images": counts}).set_index("class"))


def data_summary(dataset: Dataset) -> str:
    """One readable line, e.g. 'mnist-sample · 4,000 training and 1,000 test images · 10 classes · 28×28 grayscale'.

    Class names stay out of it: an imported dataset's are folder names, and an expander's label is Markdown."""
    height, width = dataset.train_images.shape[1:]
    return (f"{dataset.name} · {len(dataset.train_labels):,} training and {len(dataset.test_labels):,} test images"
            f" · {dataset.num_classes} classes · {height}×{width} grayscale")



def folds_input() -> int:
    """The Train page's "Cross-validate for data review" option: K (default 5), or 0 when it is off."""
    left, right = st.columns([3, 1])
    on = left.checkbox("Cross-validate for data review", key="train_folds_on",
                       help="First train K fold models, each on (K-1)/K of the training set, so that every training "
                            "image gets probabilities from a model that never saw it (for reviewing the training "
                            "labels). The final model still trains on the whole set; the run takes about K times "
                            "as long.")
    k = right.number_input("Folds (K)", MIN_FOLDS, MAX_FOLDS, 5, key="train_folds", disabled=not on)
    return int(k) if on else 0
