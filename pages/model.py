import streamlit as st

from pages.shared.setup import page_setup
from tlcore.backbones import DEFAULT_BACKBONE, backbone_info, create_backbone, list_backbones
from tlcore.freezing import apply_freeze, freeze_table, stage_lr_multipliers, trainable_fraction
from tlcore.plots import freeze_map_figure

PRESETS = {"Linear probe (all stages frozen)": "all", "Last stage": "last:1", "Last two stages": "last:2",
           "Full fine-tune": "none"}

page_setup("Backbones")
infos = [backbone_info(n) for n in list_backbones()]
st.dataframe([{"backbone": i.name, "parameters (M)": round(i.params / 1e6, 2), "input px": i.input_size,
               "stages": len(i.stage_names) - 1,
               "ImageNet weights": ("ready" if i.imagenet_available else "not on this machine")
               if "imagenet" in i.weight_sources else "none (random init only)",
               "family": i.family, "about": i.description} for i in infos], width="stretch", hide_index=True)

names = list_backbones()
name = st.selectbox("Freeze map of", names, index=names.index(DEFAULT_BACKBONE), key="model.backbone")
preset = st.radio("Preset", list(PRESETS), horizontal=True, key="model.preset")
decay = st.slider("Learning-rate decay per stage (discriminative LRs)", 0.1, 1.0, 1.0, 0.05, key="model.decay")


@st.cache_resource(max_entries=2)
def skeleton(backbone: str):
    # The freeze map needs shapes, not weights; the head is sized for a 10-class task.
    return create_backbone(backbone, "none", num_classes=10)


model = skeleton(name)
apply_freeze(model, PRESETS[preset])
rows = freeze_table(model, stage_lr_multipliers(model, decay))
st.metric("Trainable parameters", f"{trainable_fraction(model):.1%}")
st.caption("For a 10-class target. Frozen stages keep their BatchNorm statistics.")
st.progress(trainable_fraction(model))
st.plotly_chart(freeze_map_figure(rows), width="stretch")
st.dataframe([{"stage": r.stage, "parameters": r.params, "trainable": r.trainable,
               "frozen": r.frozen, "LR multiplier": round(r.lr_multiplier if not r.frozen else 0.0, 4)}
              for r in rows], width="stretch", hide_index=True)
