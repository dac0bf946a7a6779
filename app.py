"""TL Studio entry point: page config and routing only; the pages do the rest."""
import streamlit as st

st.set_page_config(page_title="TL Studio", page_icon="assets/logo.png", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/data.py", title="Data", icon=":material/photo_library:", url_path="data"),
    st.Page("pages/backbones.py", title="Backbones", icon=":material/account_tree:", url_path="backbones"),
]
st.navigation(pages).run()
