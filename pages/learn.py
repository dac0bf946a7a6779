import pages.shared  # noqa: F401 - first: waits for the server's one-thread preload (see there)
import streamlit as st

from pages.shared.lesson_view import comparison, lesson_section
from pages.shared.setup import page_setup
from tlcore.lessons import lessons

store = page_setup("Learn")
st.markdown(
    "Four kinds of transfer learning, one small run each on the demo data: **MNIST** handwritten digits are the "
    "labelled *source*, **printed digits** (syndigits) the *target*. Every section shows a stored result at once; "
    "**Run it yourself** trains the same settings here, about a minute on a CPU. Each is judged on the same 150 "
    "target test images by accuracy, recall and F1, before vs after transfer.")
st.markdown(" · ".join(f"[{n}. {lesson.kind}](#{lesson.key})" for n, lesson in enumerate(lessons(), 1))
            + " · [All of them compared](#compared)")

results = {}
for number, lesson in enumerate(lessons(), 1):
    result = lesson_section(store, number, lesson)
    if result is not None:
        results[lesson.key] = result
    st.divider()

st.header("All of them compared", anchor="compared")
comparison(results, {lesson.key: lesson.kind for lesson in lessons()})
