"""The data-step examples of docs/merge.md and docs/sdk.md run as written: each section's
```python blocks in one namespace, in order, and the ```output block after a python block is
exactly what it printed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
#: (document, level-2 heading of the section whose examples run)
SECTIONS = [
    ("merge.md", "Data steps: backfills and reference rows"),
    ("sdk.md", "Data migrations: data steps"),
]

_BLOCK = re.compile(r"^```([^\n]*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def section(document: str, heading: str) -> str:
    parts = re.split(r"^## (.+)$", (DOCS / document).read_text(), flags=re.MULTILINE)
    found = {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}
    return found[heading]


@pytest.mark.parametrize(("document", "heading"), SECTIONS)
def test_the_examples_run_and_print_what_the_doc_says(document, heading, capsys):
    blocks = [(info.strip(), body) for info, body in _BLOCK.findall(section(document, heading))]
    assert [info for info, _ in blocks].count("python") >= 1
    namespace: dict[str, object] = {"__name__": "docs"}
    checked = 0
    for info, body in blocks:
        if info == "python":
            capsys.readouterr()
            exec(compile(body, f"{document}:{heading}", "exec"), namespace)
        elif info == "output":
            assert capsys.readouterr().out == body, f"the output in {document}, '{heading}'"
            checked += 1
    assert checked >= 1
