"""A fresh dashboard server: Streamlit runs each session's page script in a thread of its
own, so on a fresh server several pages import the core and its libraries at the same
moment. They did fail so (scikit-learn's internal circular imports: "cannot import name
'clone' from partially initialized module 'sklearn.base'", 3 of 4 tries with eight pages
opened at once in Chromium); pages/shared/__init__.py imports them one thread at a time.
This imports what the pages import, from eight threads at once, in fresh interpreters."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VIEWS = ["train_form", "feasibility_view", "feature_map_view", "run_panel", "seeds_view", "gradcam_view",
         "export_view", "setup"]
SCRIPT = """
import importlib, sys, threading
errors, start = [], threading.Barrier({n})
def load(name):
    start.wait()  # all threads import at the same moment
    try:
        importlib.import_module(name)
    except Exception as exc:
        errors.append(f"{{name}}: {{type(exc).__name__}}: {{exc}}")
threads = [threading.Thread(target=load, args=(f"pages.shared.{{v}}",)) for v in {views!r}]
[t.start() for t in threads]
[t.join(120) for t in threads]
print(errors)
"""


def test_eight_pages_importing_at_once_on_a_fresh_server():
    for _ in range(3):  # without the one-thread import this failed in about 2 of 3 tries
        done = subprocess.run([sys.executable, "-c", SCRIPT.format(n=len(VIEWS), views=VIEWS)], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
