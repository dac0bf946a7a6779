"""The ingest report of an image set, and the three ways to upload one."""
from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from tlcore.data import IngestError, keep_upload, zip_classes, zip_files
from tlcore.plots import class_counts_figure, class_thumbnails

from .data_choice import choose
from .format import count


def show_report(image_set, key: str) -> None:
    report = image_set.report
    c1, c2, c3 = st.columns(3)
    c1.metric("Images", count(report.num_images))
    c2.metric("Classes", len(report.class_counts))
    c3.metric("Skipped files", count(len(report.skipped)))
    for warning in report.warnings:
        st.warning(warning)
    st.plotly_chart(class_counts_figure(report), width="stretch", key=f"ui.counts_{key}")
    with st.expander("Examples per class", expanded=True):
        for cls, strip in class_thumbnails(image_set, per_class=12, size=48):
            st.image(strip, caption=cls)
    if report.skipped:
        st.subheader("Skipped files")
        st.dataframe([{"file": s.path, "reason": s.reason} for s in report.skipped], width="stretch",
                     hide_index=True)


def _use(role: str, data: bytes, name: str, root: Path) -> None:
    """Validate and keep an upload; on failure show why and leave the current choice alone."""
    digest = hashlib.sha256(data).hexdigest()
    done = st.session_state.get(f"data.kept_{role}")
    if done and done[0] == digest:  # the same file still sits in the uploader: no second check
        st.success(done[1])
        return
    try:
        with st.spinner(f"Checking {name}…"):
            path, image_set = keep_upload(data, name, root)
    except IngestError as exc:
        st.error(f"This upload cannot be used: {exc}")
        if exc.report is not None and exc.report.skipped:
            st.dataframe([{"file": s.path, "reason": s.reason} for s in exc.report.skipped[:200]],
                         width="stretch", hide_index=True)
        return
    choose(role, str(path), name)
    message = f"Using {name}: {image_set.report.num_images:,} images in {image_set.num_classes} classes."
    st.session_state[f"data.kept_{role}"] = (digest, message)
    st.success(message)


def upload_widgets(role: str, root: Path) -> None:
    how = st.radio("Upload as", ["Zip of class folders", "A folder", "Images per class"], horizontal=True,
                   key=f"data.{role}_how")
    if how == "Zip of class folders":
        st.caption("One folder per class (optionally inside train/ val/ test/). Nothing is extracted to disk; "
                   "every file is checked before it is used.")
        upload = st.file_uploader("Zip of class folders", type=["zip"], key=f"data.upload_{role}_zip")
        if upload is not None:
            _use(role, upload.getvalue(), upload.name, root)
    elif how == "A folder":
        st.caption("Pick the folder that holds one subfolder per class.")
        files = st.file_uploader("Folder of class folders", accept_multiple_files="directory",
                                 key=f"data.upload_{role}_dir")
        if files:
            if not any("/" in f.name for f in files):
                st.error("The browser sent the files without their folders, so the classes are unknown. "
                         "Upload a zip, or the images per class, instead.")
            else:
                _use(role, zip_files([(f.name, f.getvalue()) for f in files]), files[0].name.split("/")[0], root)
    else:
        n = st.number_input("Number of classes", 2, 50, key=f"data.{role}_nclasses")
        classes = {}
        for i in range(int(n)):
            c1, c2 = st.columns([1, 3])
            name = c1.text_input(f"Class {i + 1} name", key=f"data.{role}_class{i}", placeholder=f"class {i + 1}")
            files = c2.file_uploader(f"Images of class {i + 1}", accept_multiple_files=True,
                                     key=f"data.upload_{role}_class{i}")
            if files:
                classes[name.strip() or f"class {i + 1}"] = [(f.name, f.getvalue()) for f in files]
        if st.button("Use these images", key=f"ui.{role}_use_classes", disabled=len(classes) < 2):
            if len(set(classes)) < len(classes):
                st.error("Two classes have the same name.")
            else:
                _use(role, zip_classes(classes), "images per class", root)
