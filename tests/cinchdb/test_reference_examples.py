"""The reference README's Python SDK examples, as written there, with its documented results.

The key-value examples (``db.kv``) and ``merge_branches`` belong to later work and are not
here yet. Where the reference shows integer ids ("1", 999) the records here have CinchDB's
generated ids; everything else is the reference's text.
"""

from __future__ import annotations

import pytest

import cinchdb


@pytest.fixture
def in_project(project, monkeypatch):
    monkeypatch.chdir(project)
    monkeypatch.delenv("CINCHDB_PROJECT_DIR", raising=False)
    return project


def test_python_sdk_quick_start(in_project):
    from cinchdb.models import Column

    # Local connection
    db = cinchdb.connect("myapp")
    # Create schema
    db.create_table(
        "posts",
        [Column(name="title", type="TEXT", nullable=False), Column(name="content", type="TEXT")],
    )
    # Query data
    results = db.query("SELECT * FROM posts WHERE title LIKE ?", ["%python%"])
    assert results == []
    # CRUD operations - single insert
    post_id = db.insert("posts", {"title": "Hello World", "content": "First post"})
    # Batch insert - multiple records at once
    posts = db.insert(
        "posts",
        {"title": "First", "content": "Content 1"},
        {"title": "Second", "content": "Content 2"},
        {"title": "Third", "content": "Content 3"},
    )
    assert [p["title"] for p in posts] == ["First", "Second", "Third"]
    # Or with a list using star expansion
    post_list = [
        {"title": "Post A", "content": "Content A"},
        {"title": "Post B", "content": "Content B"},
    ]
    results = db.insert("posts", *post_list)
    assert len(results) == 2
    # The reference passes the inserted record itself as the id.
    updated = db.update("posts", post_id, {"content": "Updated content"})
    assert updated["content"] == "Updated content" and updated["id"] == post_id["id"]
    db.close()


def test_api_reference_sections(in_project):
    from cinchdb.models import Column

    db = cinchdb.CinchDB(database="myapp", branch="main")
    assert db.current_branch == "main" and db.current_tenant == "main"

    # Table Management
    db.create_table("users", [Column(name="name"), Column(name="email"), Column(name="age",
                    type="INTEGER")])  # fmt: skip
    table = db.create_table(
        "products",
        columns=[
            Column(name="name", type="TEXT", nullable=False),
            Column(name="price", type="REAL", default=0.0),
        ],
    )
    assert table.name == "products"
    table = db.get_table("users")
    assert table.row_count == 0 and [c.name for c in table.columns][1:4] == ["name", "email",
                                                                            "age"]  # fmt: skip
    tables = db.list_tables()
    assert [t.name for t in tables] == ["users", "products"]

    # Query Execution
    db.insert("users", {"name": "Alice", "age": 25})
    users = db.query("SELECT * FROM users WHERE age > ?", [18])
    assert [(u["name"], u["age"]) for u in users] == [("Alice", 25)]
    empty = db.query("SELECT * FROM users WHERE id = ?", [999])
    assert empty == []

    # Data Operations
    user = db.insert("users", {"name": "Bob", "email": "bob@example.com"})
    assert {k: user[k] for k in ("name", "email")} == {"name": "Bob", "email": "bob@example.com"}
    users = db.insert(
        "users",
        {"name": "Alice", "email": "alice@example.com"},
        {"name": "Charlie", "email": "charlie@example.com"},
    )
    assert len(users) == 2 and all(u["id"] for u in users)
    updated = db.update("users", user["id"], {"email": "newemail@example.com"})
    assert (updated["name"], updated["email"]) == ("Bob", "newemail@example.com")
    with pytest.raises(ValueError, match="Record with ID '999' not found"):
        db.update("users", "999", {"email": "x"})
    deleted_count = db.delete("users", users[0]["id"], users[1]["id"], "3")
    assert deleted_count == 2
    db.insert("users", *({"name": f"kid{i}", "age": i} for i in range(5)))
    deleted = db.delete_where("users", age__lt=18)
    assert deleted == 5

    # Branch Operations
    branch = db.create_branch("feature/new-tables")
    assert branch.name == "feature/new-tables"
    branches = db.list_branches()
    assert [b.name for b in branches] == ["main", "feature/new-tables"]

    # Tenant Management
    tenant = db.create_tenant("customer_123")
    assert tenant.name == "customer_123"
    tenants = db.list_tenants()
    assert [t.name for t in tenants] == ["main", "customer_123"]
    db.delete_tenant("customer_123")
    assert [t.name for t in db.list_tenants()] == ["main"]

    # Index Management
    index = db.create_index("idx_users_email", table="users", columns=["email"], unique=True)
    assert index.name == "idx_users_email"
    indexes = db.list_indexes("users")
    assert [{k: i[k] for k in ("name", "unique", "columns")} for i in indexes] == [
        {"name": "idx_users_email", "unique": True, "columns": ["email"]}
    ]

    # Column Operations
    db.add_column("users", Column(name="last_login", type="TEXT"))
    db.add_column("users", Column(name="score", type="INTEGER", default=0))
    db.drop_column("users", "score")
    db.rename_column("users", "email", "email_address")
    assert "email_address" in [c.name for c in db.get_table("users").columns]

    # View Management
    view = db.create_view(
        "active_users", "SELECT * FROM users WHERE last_login > datetime('now', '-30 days')"
    )
    assert view.name == "active_users"
    views = db.list_views()
    assert [v.name for v in views] == ["active_users"]

    # "Table does not exist"
    with pytest.raises(ValueError, match="Table 'orders' does not exist"):
        db.query("SELECT * FROM orders")
    db.close()
