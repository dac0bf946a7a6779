import streamlit as st

from pages.shared.setup import cached_domain, domain_label, page_setup
from tlcore.data import IngestError, domain_info, ingest_zip_bytes, list_domains
from tlcore.plots import class_counts_figure, class_thumbnails

page_setup("Data")

source = st.radio("Images", ["Built-in domain", "Upload a zip"], horizontal=True, key="data.source")
image_set = None
if source == "Built-in domain":
    name = st.selectbox("Domain", list_domains(), format_func=domain_label, key="data.domain")
    info = domain_info(name)
    st.caption(f"{info.description}. Licence: {info.licence}. From: {info.provider}.")
    missing = info.availability()
    if missing:
        st.warning(missing)
    else:
        image_set = cached_domain(name)
else:
    st.caption("A .zip with one folder per class (optionally inside train/ val/ test/ folders). "
               "Nothing is extracted to disk; every file is checked before it is used.")
    upload = st.file_uploader("Zip of class folders", type=["zip"], key="data.upload")
    if upload is not None:
        try:
            image_set = ingest_zip_bytes(upload.getvalue(), upload.name)
        except IngestError as exc:
            st.error(f"This upload cannot be used: {exc}")
            if exc.report is not None and exc.report.skipped:
                st.dataframe([{"file": s.path, "reason": s.reason} for s in exc.report.skipped],
                             width="stretch", hide_index=True)

if image_set is not None:
    report = image_set.report
    c1, c2, c3 = st.columns(3)
    c1.metric("Images", f"{report.num_images:,}")
    c2.metric("Classes", len(report.class_counts))
    c3.metric("Skipped files", len(report.skipped))
    for warning in report.warnings:
        st.warning(warning)
    st.plotly_chart(class_counts_figure(report), width="stretch")
    st.subheader("Examples per class")
    for cls, strip in class_thumbnails(image_set, per_class=12, size=48):
        st.image(strip, caption=cls)
    if report.skipped:
        st.subheader("Skipped files")
        st.dataframe([{"file": s.path, "reason": s.reason} for s in report.skipped], width="stretch",
                     hide_index=True)
