import pages.shared  # noqa: F401 - first: waits for the server's one-thread preload (see there)
import streamlit as st

from pages.shared.capture_view import capture_widgets
from pages.shared.data_choice import choose, chosen, load_chosen
from pages.shared.feature_map_view import pretrained_map
from pages.shared.report_view import show_report, upload_widgets
from pages.shared.setup import domain_label, page_setup
from tlcore.data import IngestError, check_domain_pair, domain_info, is_capture_id, list_domains

store = page_setup("Data")
st.caption("The **target** is the image set you want a model for. A **source** set (optional) is a labelled set "
           "from another domain with the same classes, used by the domain-adaptation methods.")

domains = [d for d in list_domains() if not domain_info(d).availability()]
# A link back to a capture set (?capture=ID, e.g. after a refresh) opens the camera view.
st.session_state.setdefault("data.mode", "Camera" if is_capture_id(st.query_params.get("capture")) else
                            "Built-in domains")
mode = st.segmented_control("Images", ["Built-in domains", "Upload my images", "Camera"], key="data.mode")
if mode in ("Upload my images", "Camera") and store is None:
    st.error("Uploads and camera pictures are kept in the runs folder, which cannot be used: " +
             st.session_state.get("run.store_error", ""))
elif mode == "Camera":
    st.subheader("Target images from the camera")
    choose("source", None, None)  # the classes are the user's own: no source domain shares them
    capture_widgets(store.root)
elif mode == "Upload my images":
    t_col, s_col = st.columns(2, gap="large")
    with t_col:
        st.subheader("Target images")
        upload_widgets("target", store.root)
    with s_col:
        st.subheader("Source images (optional)")
        src_kind = st.radio("Source", ["None", "A built-in domain", "Upload"], horizontal=True,
                            key="data.src_kind")
        if src_kind == "None":
            choose("source", None, None)
        elif src_kind == "A built-in domain":
            name = st.selectbox("Source domain", domains, format_func=domain_label, key="data.src_domain")
            choose("source", name, name)
        else:
            upload_widgets("source", store.root)
else:
    c1, c2 = st.columns(2, gap="large")
    target_spec, _ = chosen("target")
    source_spec, _ = chosen("source")
    st.session_state.setdefault("data.w_target", target_spec if target_spec in domains else domains[0])
    st.session_state.setdefault("data.w_source", source_spec if source_spec in domains else "(none)")
    target = c1.selectbox("Target domain", domains, format_func=domain_label, key="data.w_target")
    source = c2.selectbox("Source domain (optional)", ["(none)", *domains], key="data.w_source",
                          format_func=lambda d: "none: no domain adaptation" if d == "(none)" else domain_label(d))
    choose("target", target, target)
    choose("source", None if source == "(none)" else source, None if source == "(none)" else source)
    c1.caption(domain_info(target).description)
    if source != "(none)":
        c2.caption(domain_info(source).description)

target_spec, target_label = chosen("target")
source_spec, source_label = chosen("source")
st.divider()
st.markdown(f"**Training on:** target `{target_label}`" + (f", source `{source_label}`" if source_label else
                                                             ", no source set"))
tabs = st.tabs(["Target report"] + (["Source report"] if source_spec else []))
sets = {}
for tab, (role, spec) in zip(tabs, [("target", target_spec), ("source", source_spec)]):
    with tab:
        try:
            sets[role] = load_chosen(spec)
        except IngestError as exc:
            st.error(f"The {role} set cannot be used: {exc}")
            continue
        show_report(sets[role], role)
if len(sets) == 2:
    try:
        pair_warnings = check_domain_pair(sets["source"], sets["target"])
    except IngestError as exc:
        pair_warnings = []
        st.error(f"This source cannot be used with this target: {exc}")
    for warning in pair_warnings:
        st.warning(warning)
    shared_only = False
    if pair_warnings:  # the widget's own key is dropped off this page; the choice is kept in data.shared_classes
        shared = [n for n in sets["target"].class_names if n in set(sets["source"].class_names)]
        st.session_state.setdefault("data.w_shared_classes", bool(st.session_state.get("data.shared_classes")))
        shared_only = st.toggle(f"Use only the {len(shared)} classes both sets have ({', '.join(shared[:8])}"
                                f"{', …' if len(shared) > 8 else ''})", key="data.w_shared_classes",
                                help="without target labels a target class the source lacks cannot be learnt; with "
                                     "this on, training and evaluation use the shared classes only (nothing is "
                                     "deleted)")
    st.session_state["data.shared_classes"] = shared_only
if "target" in sets:
    pretrained_map(store, source_spec if "source" in sets else None, target_spec)
st.page_link("pages/model.py", label="Next: choose a backbone and what to freeze", icon=":material/arrow_forward:")
