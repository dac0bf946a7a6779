"""A fresh dashboard server: Streamlit runs each session's page script in a thread of its
own, so on a fresh server several pages import the core and its libraries at the same
moment. They did fail so (scikit-learn's internal circular imports: "cannot import name
'clone' from partially initialized module 'sklearn.base'", 3 of 4 tries with eight pages
opened at once in Chromium). pages/shared/__init__.py imports them one thread at a time,
and every page script waits for it with `import pages.shared` as its first import.

This runs the import lines of app.py and of every page, each in a thread, all at once,
in fresh interpreters: what a fresh server does when a class opens the pages together."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]
RUN_AT_ONCE = """
import sys, threading, time
HEAVY = ("sklearn", "torch", "timm", "plotly", "cv2", "umap")
importers, slowed = set(), []
class WatchHeavyImports:  # records which threads import the heavy libraries
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HEAVY:
            importers.add(threading.current_thread().name)
            if not slowed:  # widen the window in which a second thread could start on them
                slowed.append(name)
                time.sleep(1.0)
        return None
sys.meta_path.insert(0, WatchHeavyImports())
errors, start = [], threading.Barrier({n})
def run_imports(name, code):
    start.wait()  # all threads import at the same moment
    try:
        exec(code, {{"__name__": "__page__"}})
    except Exception as exc:
        errors.append(f"{{name}}: {{type(exc).__name__}}: {{exc}}")
threads = [threading.Thread(target=run_imports, args=item, name=item[0]) for item in {imports!r}]
[t.start() for t in threads]
[t.join(120) for t in threads]
print((errors, sorted(importers)))
"""


def import_lines(script: Path) -> str:
    """The script's top-level import statements, in order: what runs before its first widget."""
    tree = ast.parse(script.read_text())
    return "\n".join(ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)))


def test_every_page_waits_for_the_one_thread_preload_first():
    for script in SCRIPTS:
        body = ast.parse(script.read_text()).body
        imports = [node for node in body if isinstance(node, (ast.Import, ast.ImportFrom))]
        first = next(node for node in imports if not (isinstance(node, ast.ImportFrom) and node.module == "__future__"))
        names = [alias.name for alias in first.names] if isinstance(first, ast.Import) else []
        assert names == ["pages.shared"], f"{script.name}: the first import must be `import pages.shared`"


def test_all_pages_importing_at_once_on_a_fresh_server():
    imports = [(script.name, import_lines(script)) for script in SCRIPTS]
    done = subprocess.run([sys.executable, "-c", RUN_AT_ONCE.format(n=len(imports), imports=imports)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    errors, importers = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert errors == [], errors
    # One thread imported torch, scikit-learn, plotly...; the other pages waited for it.
    assert len(importers) == 1, importers
