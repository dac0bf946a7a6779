"""The Train page's form: a strategy picked and described from its StrategyInfo, its
hyper-parameters rendered from the info's defaults and help, and the run's settings."""
from __future__ import annotations

import streamlit as st

from tlcore.backbones import backbone_info
from tlcore.config import (AUGMENTATIONS, DEFAULT_BACKBONE, DataConfig, FeatureMapConfig, ModelConfig, OptimConfig,
                           RunConfig, ScheduleConfig, StrategyConfig)
from tlcore.data import is_domain
from tlcore.data.augment import PRESETS
from tlcore.data.pipeline import BALANCE_MODES
from tlcore.runs.seeds import MAX_SEEDS
from tlcore.strategies import freeze_for, list_strategies, strategy_info
from tlcore.strategies.recommend import automatic_adaptation, recommended_adaptation
from tlcore.train.optim import list_optimizers, list_schedules, optimizer_info, schedule_info

from .data_choice import label_edits_config
from .setup import device_label

ON_CPU = device_label().startswith("CPU")
SEEDS_HELP = ("Run these settings this many times, with seeds s, s+1, … (s: the Seed under Data and run settings), "
              "one after another. A seed changes the images drawn, the split, the new head's start and the batch "
              "order; on a few hundred images that alone moves the test accuracy by a few points. With several "
              "seeds the Evaluate page shows mean ± std, so you can tell whether one method beats another by more "
              "than that.")


def _default(key: str, value) -> None:
    st.session_state.setdefault(key, value)


def current_strategy() -> str:
    """The method the Train page has chosen (its default until the select box is drawn)."""
    return st.session_state.get("train.strategy") or (
        "gradual_unfreeze" if st.session_state.get("model.gradual") else StrategyConfig.name)


def freeze_plan(strategy: str) -> str:
    """What trains: the Model page's plan once the user chose one there, else the method's
    recommendation, else the default (tlcore.strategies.freeze_for, as the CLI decides)."""
    chosen = st.session_state.get("model.freeze") if st.session_state.get("model.freeze_chosen") else None
    return freeze_for(strategy, chosen)


def strategy_choice(has_source: bool):
    names = list_strategies()
    _default("train.strategy", current_strategy())

    def label(name):
        info = strategy_info(name)
        return f"{name} ({info.family})" + (" — needs a source set" if info.needs_source and not has_source else "")

    name = st.selectbox("Method", names, key="train.strategy", format_func=label,
                        help="Methods that adapt from a source domain need a source set (Data page)")
    info = strategy_info(name)
    st.caption(info.description + (". Uses the source set." if info.needs_source else
                                   ". Uses only the labelled target images."))
    if has_source:
        _recommendation(name)
    params = {}
    if info.defaults:
        cols = st.columns(min(4, len(info.defaults)))
        for i, (key, default) in enumerate(info.defaults.items()):
            widget_key = f"train.hp.{name}.{key}"
            _default(widget_key, default)
            with cols[i % len(cols)]:
                help_text = info.help.get(key)
                if isinstance(default, bool):
                    params[key] = st.checkbox(key, key=widget_key, help=help_text)
                elif isinstance(default, int):
                    params[key] = int(st.number_input(key, step=1, key=widget_key, help=help_text))
                elif isinstance(default, float):
                    params[key] = float(st.number_input(key, key=widget_key, help=help_text, format="%g"))
                else:
                    params[key] = st.text_input(key, key=widget_key, help=help_text)
    return info, params


def _use_recommendation(rec) -> None:
    """Button callback (runs before the widgets are drawn, so it may set their values)."""
    st.session_state["train.strategy"] = rec.strategy
    for key, value in {**strategy_info(rec.strategy).defaults, **rec.params}.items():
        st.session_state[f"train.hp.{rec.strategy}.{key}"] = value
    st.session_state["train.target_labels"] = 0


def _recommendation(current: str) -> None:
    rec, auto = recommended_adaptation(), automatic_adaptation()
    text, button = st.columns([6, 1], vertical_alignment="center")
    text.info(f"**Recommended for {rec.situation}: Adapt automatically** (below). It trains source only and the "
              f"adaptation methods, and keeps the one the label-free validator `{auto.validator}` rates best, so "
              f"never one it rates below source only. {auto.why()} **By hand**, one method: `{rec.strategy}` "
              f"({rec.settings()}); every adaptation run ends with a verdict (likely helped / likely hurt / cannot "
              "tell) against its source-only twin.", icon=":material/recommend:")
    if current != rec.strategy:
        button.button(f"Use {rec.strategy}", key="ui.use_recommended", on_click=_use_recommendation, args=(rec,))


def _training_defaults(native: int) -> None:
    """The form's starting values (kept in the session across pages once set)."""
    _default("train.epochs", 5)
    _default("train.lr", 1e-3)
    _default("train.optimizer", "adamw")
    _default("train.scheduler", "cosine")
    _default("train.batch_size", 32)
    _default("train.image_size", 64 if ON_CPU else native)
    _default("train.per_class", 100 if ON_CPU else 0)
    _default("train.target_labels", 0)
    _default("train.augment", "none")
    _default("train.balance", DataConfig.balance)
    _default("train.seed", 0)
    _default("train.seeds", 1)
    _default("train.patience", 0)
    _default("train.name", "")
    maps = FeatureMapConfig.from_environment()  # $TLSTUDIO_FEATURE_MAPS sets the default
    _default("train.map_every", maps.every)
    _default("train.map_points", 500 if ON_CPU else maps.per_domain)


def training_fields(info, target: str) -> dict:
    """Optimiser, schedule and data settings, with defaults that finish in about a minute on
    a CPU for the built-in demo and use the backbone's own input size on a GPU."""
    backbone = st.session_state.get("model.backbone", DEFAULT_BACKBONE)
    native = backbone_info(backbone).input_size
    _training_defaults(native)
    c = st.columns(5)
    fields = {
        "epochs": c[0].number_input("Epochs", 1, 500, key="train.epochs"),
        "lr": c[1].number_input("Learning rate", 1e-6, 10.0, key="train.lr", format="%g",
                                help="of the head; lower stages get it times the LR multiplier (Model page)"),
        "optimizer": c[2].selectbox("Optimiser", list_optimizers(), key="train.optimizer",
                                    format_func=lambda n: f"{n}: {optimizer_info(n).description}"),
        "scheduler": c[3].selectbox("LR schedule", list_schedules(), key="train.scheduler",
                                    help="; ".join(f"{n}: {schedule_info(n).description}" for n in list_schedules())),
        "seeds": c[4].number_input("Seeds", 1, MAX_SEEDS, key="train.seeds", help=SEEDS_HELP),
    }
    with st.expander("Data and run settings"):
        c = st.columns(4)
        fields["image_size"] = c[0].number_input("Image size (px)", 8, 1024, step=8, key="train.image_size",
                                                 help=f"{backbone} was pretrained at {native} px; smaller is faster")
        fields["per_class"] = c[1].number_input("Images per class (0: all)", 0, 100000, key="train.per_class",
                                                help="load at most this many images of each class")
        fields["batch_size"] = c[2].number_input("Batch size", 2, 1024, key="train.batch_size")
        fields["seed"] = c[3].number_input("Seed", 0, 2**31 - 1, key="train.seed")
        c = st.columns(4)
        uses_labels = info.needs_target_labels or info.semi_supervised
        fields["target_labels"] = c[0].number_input(
            "Labelled target images per class (0: all)" if info.needs_target_labels else
            "Labelled target images per class (0: none)", 0, 100000, key="train.target_labels",
            disabled=not uses_labels, help="few-shot: train with only this many target labels a class")
        fields["augment"] = c[1].selectbox("Augmentation", AUGMENTATIONS, key="train.augment",
                                           help="per image, on training batches: "
                                                + "; ".join(f"{n}: {PRESETS[n]}" for n in AUGMENTATIONS)
                                                + " (the Model page previews them)")
        fields["patience"] = c[2].number_input("Early stopping patience (0: off)", 0, 100, key="train.patience")
        fields["name"] = c[3].text_input("Run name", key="train.name", placeholder=info.name)
        c = st.columns(4)
        fields["map_every"] = c[0].number_input(
            "Feature map every (epochs, 0: off)", 0, 100, key="train.map_every",
            help="a snapshot of source and target features for the Features page, before training and every "
                 "this many epochs")
        fields["map_points"] = c[1].number_input(
            "Map images per domain", 10, 5000, step=100, key="train.map_points",
            help="the probe set drawn on the map, the same number from every class; each snapshot runs the "
                 "network over them once (about 4-8 s per 1,000 images at 64 px on 2 CPU cores)")
        fields["balance"] = c[2].selectbox(
            "Class balance", BALANCE_MODES, key="train.balance",
            help="sampler: training batches draw every labelled class equally often; auto: only when the largest "
                 "class has more than 3x the images of the smallest; off: classes as they come")
    return fields


def build_config(info, params: dict, f: dict, target: str, source: str | None, target_label: str) -> RunConfig:
    labels = int(f["target_labels"])
    target_labels = (labels or None) if info.needs_target_labels else labels if info.semi_supervised else None
    return RunConfig(
        data=DataConfig(target=target, source=source if info.needs_source else None,
                        per_class=int(f["per_class"]) or None, target_labels_per_class=target_labels,
                        image_size=int(f["image_size"]), augment=f["augment"], balance=f["balance"],
                        label_edits=label_edits_config(target),
                        shared_classes_only=bool(source and st.session_state.get("data.shared_classes"))),
        model=ModelConfig(backbone=st.session_state.get("model.backbone", DEFAULT_BACKBONE),
                          weights=st.session_state.get("model.weights", ModelConfig.weights),
                          freeze=freeze_plan(info.name),
                          lr_decay=float(st.session_state.get("model.decay", 1.0))),
        strategy=StrategyConfig(info.name, params),
        optim=OptimConfig(name=f["optimizer"], lr=float(f["lr"])),
        schedule=ScheduleConfig(epochs=int(f["epochs"]), scheduler=f["scheduler"],
                                early_stopping_patience=int(f["patience"]) or None),
        feature_map=FeatureMapConfig(every=int(f["map_every"]), per_domain=int(f["map_points"]),
                                     layout=FeatureMapConfig.from_environment().layout),
        batch_size=int(f["batch_size"]), seed=int(f["seed"]),
        tracking="mlflow" if st.session_state.get("run.mlflow") else "",
        name=f["name"] or f"{info.name} · {target_label if is_domain(target) else target_label[:40]}")
