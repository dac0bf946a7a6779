import pages.shared  # noqa: F401 - first: waits for the server's one-thread preload (see there)
import streamlit as st

from pages.shared.data_choice import chosen, load_chosen
from pages.shared.setup import page_setup
from tlcore.backbones import (DEFAULT_BACKBONE, WeightsError, backbone_info, create_backbone, keep_weights_file,
                              list_backbones)
from tlcore.config import AUGMENTATIONS, ModelConfig
from tlcore.data import IngestError
from tlcore.data.augment import PRESETS as AUGMENT_PRESETS
from tlcore.data.augment import preview_grid, preview_images
from tlcore.freezing import apply_freeze, freeze_table, stage_lr_multipliers, trainable_fraction
from tlcore.plots import freeze_map_figure

# Preset -> freeze spec. Gradual unfreezing trains every stage in the end, one more per epoch.
PRESETS = {"Linear probe": "all", "Last stage": "last:1", "Last two stages": "last:2", "Full fine-tune": "none",
           "Gradual unfreezing": "none"}
PRESET_HELP = {"Linear probe": "every backbone stage frozen: only the new head trains (fast, safe with few images)",
               "Last stage": "the last backbone stage and the head train",
               "Last two stages": "the last two backbone stages and the head train",
               "Full fine-tune": "every stage trains (needs more images and a lower learning rate)",
               "Gradual unfreezing": "starts as a linear probe and unfreezes one more stage per epoch "
                                     "(the Train page picks the gradual_unfreeze strategy)"}

store = page_setup("Model")


def _chosen() -> None:
    st.session_state["model.freeze_chosen"] = True


@st.cache_resource(max_entries=3)
def skeleton(backbone: str):
    # The freeze map needs shapes, not weights; the head is sized for a 10-class task.
    return create_backbone(backbone, "none", num_classes=10)


@st.cache_data(max_entries=16, show_spinner=False)
def augment_preview(spec: str, preset: str, seed: int):
    # Cached per (data, preset, seed): a rerun for any other widget redraws the same views.
    return preview_grid(preview_images(load_chosen(spec), count=4, seed=seed), preset, n=8, seed=seed)


def _new_views() -> None:
    st.session_state["model.preview_seed"] = st.session_state.get("model.preview_seed", 0) + 1


@st.cache_data
def catalogue():
    return [{"backbone": i.name, "parameters (M)": round(i.params / 1e6, 2), "input px": i.input_size,
             "stages": len(i.stage_names) - 1, "family": i.family,
             "ImageNet weights": ("ready" if i.imagenet_available else "not on this machine")
             if "imagenet" in i.weight_sources else "none (random init only)", "about": i.description}
            for i in map(backbone_info, list_backbones())]


query = st.text_input("Search backbones", key="model.search", placeholder="e.g. efficientnet, resnet*, vit")
rows = [r for r in catalogue() if not query or query.lower().strip("*") in r["backbone"].lower()
        or query.lower() in r["about"].lower()]
with st.expander(f"Backbones ({len(rows)} of {len(catalogue())})", expanded=bool(query)):
    st.dataframe(rows, width="stretch", hide_index=True)
names = [r["backbone"] for r in rows] or list_backbones()
st.session_state.setdefault("model.backbone", DEFAULT_BACKBONE)
if st.session_state["model.backbone"] not in names:
    names = [st.session_state["model.backbone"], *names]
name = st.selectbox("Backbone", names, key="model.backbone")
info = backbone_info(name)

weights_choices = (["ImageNet"] if "imagenet" in info.weight_sources else []) + ["None (random init)",
                                                                                 "Upload a weights file"]
if st.session_state.get("model.weights_choice") not in weights_choices:
    st.session_state["model.weights_choice"] = weights_choices[0]
left, right = st.columns(2, gap="large")
with left:
    choice = st.radio("Weights", weights_choices, key="model.weights_choice", horizontal=True)
    if choice == "ImageNet":
        st.session_state["model.weights"] = "imagenet"
        if info.imagenet_available:
            st.caption("ImageNet weights are on this machine.")
        else:
            st.warning(f"ImageNet weights for {name} are not on this machine: {info.imagenet_hint}")
    elif choice.startswith("None"):
        st.session_state["model.weights"] = "none"
        st.caption("Random initial weights: a baseline that shows what the pretraining is worth.")
    else:
        upload = st.file_uploader("Weights (.safetensors, or a plain PyTorch state dict)",
                                  type=["safetensors", "pt", "pth", "bin"], key="model.upload_weights")
        if upload is not None and store is not None:
            try:
                path = keep_weights_file(upload.getvalue(), upload.name, store.root,
                                         lambda p: create_backbone(name, f"file:{p}", num_classes=10))
                st.session_state["model.weights"] = f"file:{path}"
                st.success(f"{upload.name} fits {name}.")
            except WeightsError as exc:
                st.error(f"These weights cannot be used: {exc}")
        if not str(st.session_state.get("model.weights", "")).startswith("file:"):
            st.session_state["model.weights"] = "imagenet" if info.imagenet_available else "none"
            st.caption(f"Until a file is accepted the run uses {st.session_state['model.weights']} weights.")
with right:
    # The default plan is ModelConfig's, as for the CLI; until the user picks one here, the
    # Train page uses the chosen method's recommended plan where it has one (freeze_for).
    st.session_state.setdefault("model.preset", next(k for k, v in PRESETS.items() if v == ModelConfig.freeze))
    preset = st.radio("What trains", list(PRESETS), key="model.preset", horizontal=True, on_change=_chosen,
                      help="; ".join(f"{k}: {v}" for k, v in PRESET_HELP.items()))
    st.caption(PRESET_HELP[preset])
    st.session_state.setdefault("model.decay", 1.0)
    decay = st.slider("Learning-rate decay per stage", 0.1, 1.0, step=0.05, key="model.decay",
                      help="Discriminative learning rates: each stage below the head gets this times the LR of "
                           "the stage above it (1: one LR for all)")

model = skeleton(name)
apply_freeze(model, PRESETS[preset])
table = freeze_table(model, stage_lr_multipliers(model, decay))
edited = st.data_editor(
    [{"stage": r.stage, "frozen": r.frozen, "parameters": r.params, "LR multiplier": round(r.lr_multiplier, 4)}
     for r in table if r.stage != "head"],
    key=f"ui.freeze_{name}_{preset}", hide_index=True, width="stretch", on_change=_chosen,
    disabled=["stage", "parameters",
                                                                                 "LR multiplier"],
    column_config={"frozen": st.column_config.CheckboxColumn("frozen", help="untick to train this stage"),
                   "parameters": st.column_config.NumberColumn(format="localized")})
frozen = [row["stage"] for row in edited if row["frozen"]]
spec = PRESETS[preset]
if set(frozen) != {r.stage for r in table if r.frozen and r.stage != "head"}:
    spec = ",".join(frozen) if frozen else "none"  # the toggles were changed by hand
    st.caption("Custom freeze map (the toggles differ from the preset).")
apply_freeze(model, spec)
st.session_state["model.freeze"] = spec
st.session_state["model.gradual"] = preset == "Gradual unfreezing"
rows = freeze_table(model, stage_lr_multipliers(model, decay))
fraction = trainable_fraction(model)
c1, c2 = st.columns([1, 3])
c1.metric("Trainable parameters", f"{fraction:.1%}",
          help="of all parameters, for a 10-class head; the head always trains")
c2.progress(fraction, text=f"{sum(r.trainable for r in rows):,} of {sum(r.params for r in rows):,} parameters train")
st.plotly_chart(freeze_map_figure(rows), width="stretch")
st.caption("Frozen stages keep their BatchNorm statistics. The head (a new classifier for your classes) always "
           "trains.")
st.subheader("Augmentation preview")
target, target_label = chosen("target")
st.session_state.setdefault("model.augment_preview", "standard")
c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
augment = c1.selectbox("Augmentation", AUGMENTATIONS, key="model.augment_preview",
                       help="what the Train page's Augmentation setting does to each training image")
c2.button("Other views", key="ui.preview_reseed", on_click=_new_views)
st.caption(AUGMENT_PRESETS[augment])
try:
    st.image(augment_preview(target, augment, st.session_state.get("model.preview_seed", 0)),
             caption=f"{target_label}: each image as loaded (left), then 8 augmented views")
except IngestError as exc:
    st.warning(f"No preview: {exc}")
st.page_link("pages/train.py", label="Next: train", icon=":material/arrow_forward:")
