"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_has_examples():
    assert python_blocks()


def test_readme_python_examples_run(capsys):
    for block in python_blocks():
        exec(compile(block, str(README), "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert 'WHERE "years" >= 18' in out
    assert "changed while this change was being made" in out
    assert "[{'title': 'Hello World', 'content': 'Updated content'}]" in out
    assert "[{'n': 0}]" in out and "['posts']" in out
    assert "success ['posts', 'tags']" in out
    assert "1 {'user_id': 123}" in out
    assert "['create table tags (4 columns)', 'add column posts.views INTEGER']" in out
    assert "refused DELETE: use delete() or delete_where()" in out
    assert "{'acme': 1, 'globex': 1}" in out and "[{'full_name': 'Ada Globex'}]" in out
