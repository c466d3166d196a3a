"""Every ```python block of docs/integrations.md runs as written (each in a fresh namespace and directory).

A block that imports lightning or transformers is skipped only where that package is missing (CI installs both
through the test extras).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), flags=re.S | re.M)
OPTIONAL = {"lightning": "lightning", "transformers": "transformers"}


def _title(code: str, k: int) -> str:
    head = DOC.read_text(encoding="utf-8").split(code)[0]
    sections = re.findall(r"^## (.+)$", head, flags=re.M)
    return f"{k}-{sections[-1] if sections else 'top'}"


def test_the_page_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("code", BLOCKS, ids=[_title(c, k) for k, c in enumerate(BLOCKS)])
def test_example_runs_as_written(code, tmp_path, monkeypatch, capsys):
    for word, package in OPTIONAL.items():
        if re.search(rf"^\s*(import|from) {word}\b|integrations\.{word}\b", code, flags=re.M):
            pytest.importorskip(package)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, f"{DOC.name} example", "exec"), {"__name__": "__docs_example__"})
    assert capsys.readouterr().out.strip(), "each example prints what it shows"
