from __future__ import annotations

import pytest

import cinchdb


@pytest.fixture
def project(tmp_path):
    """A fresh project; its root."""
    return cinchdb.init(tmp_path / "project")


@pytest.fixture
def db(project):
    """A handle on database 'main', branch 'main', tenant 'main' of a fresh project."""
    with cinchdb.connect(project_dir=project) as handle:
        yield handle


@pytest.fixture
def users(db):
    """``db`` with a table ``users(name TEXT NOT NULL, email TEXT UNIQUE, age INTEGER)``."""
    from cinchdb.models import Column

    db.create_table(
        "users",
        [
            Column(name="name", type="TEXT", nullable=False),
            Column(name="email", type="TEXT", unique=True),
            Column(name="age", type="INTEGER"),
        ],
    )
    return db
