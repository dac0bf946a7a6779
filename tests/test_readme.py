"""The README's Python examples run as written."""
import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_example(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example that writes a run folder writes it here, not in the checkout
    names = {}
    exec(compile(code, "README.md", "exec"), names)
    if "fit" in names:  # the notebook example: a finished run, its model, and predictions from its folder
        import torch
        assert names["result"].status == "finished" and isinstance(names["model"], torch.nn.Module)
        assert 0.0 <= names["result"].summary["target.test.accuracy"] <= 1.0
        assert (tmp_path / "runs" / "notebook-demo" / "checkpoints" / "best.safetensors").exists()
        top = names["predictor"].predict(list(names["images"]), k=2)
        assert len(top) == 3 and all(len(row) == 2 and row[0][1] >= row[1][1] for row in top)
