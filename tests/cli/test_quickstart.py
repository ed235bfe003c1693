"""The reference README's command-line blocks, run as written by real processes, in order;
and the CI checks as a pipeline would run them."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess

import pytest

CINCH = shutil.which("cinch")

FIRST_BLOCK = """
cinch init
cinch table create users name:TEXT email:TEXT
cinch query "SELECT * FROM users"
cinch branch create feature
cinch branch switch feature
cinch table create products name:TEXT price:REAL
cinch branch merge-into-main feature
cinch tenant create customer_a
cinch query "SELECT * FROM users" --tenant customer_a
cinch tenant create secure_customer --encrypt --key="your-secret-key"
cinch query "SELECT * FROM users" --tenant secure_customer --key="your-secret-key"
cinch codegen generate python cinchdb_models/
"""

SECOND_BLOCK = """
cinch init my_app
cd my_app
cinch branch create user-system
cinch table create users username:TEXT email:TEXT
cinch view create active_users "SELECT * FROM users WHERE created_at > datetime('now', '-30 days')"
cinch branch merge-into-main user-system
cinch tenant create customer_a
cinch tenant create customer_b
cinch query "SELECT COUNT(*) FROM users" --tenant customer_a
"""


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("CINCHDB_")}
    env["COLUMNS"] = "200"
    return env


def run_block(block: str, cwd) -> list[subprocess.CompletedProcess[str]]:
    results = []
    for line in filter(None, (raw.strip() for raw in block.splitlines())):
        argv = shlex.split(line)
        if argv[0] == "cd":
            cwd = cwd / argv[1]
            continue
        assert CINCH is not None, "the cinch command is not installed (pip install -e .)"
        result = subprocess.run([CINCH, *argv[1:]], cwd=cwd, env=_env(), capture_output=True,
                                text=True, timeout=120)  # fmt: skip
        assert result.returncode == 0, (line, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        results.append(result)
    return results


def test_the_cinch_command_is_installed():
    assert CINCH is not None


def test_first_quick_start_block(tmp_path):
    results = run_block(FIRST_BLOCK, tmp_path)
    assert "Merged 'feature' into 'main'" in results[6].stdout
    secure = subprocess.run(
        [CINCH, "query", "SELECT * FROM users", "--tenant", "secure_customer", "--key=wrong"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert secure.returncode == 1
    assert secure.stderr == "Error: Wrong encryption key for tenant 'secure_customer'\n"
    # (the exact line above: the key itself appears nowhere in the output)


def test_second_quick_start_block(tmp_path):
    results = run_block(SECOND_BLOCK, tmp_path)
    assert "Created branch 'user-system' from 'main' and switched to it" in results[1].stdout
    assert "COUNT(*)" in results[-1].stdout and "0" in results[-1].stdout


@pytest.fixture
def feature_project(tmp_path):
    run_block(
        """
        cinch init
        cinch table create users name:TEXT age:INTEGER
        cinch branch create feature
        cinch view create adults "SELECT name FROM users WHERE age >= 18"
        cinch branch switch main
        cinch column drop users age --yes
        """,
        tmp_path,
    )
    return tmp_path


def test_ci_checks_in_a_pipeline(feature_project):
    def cinch(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([CINCH, *args], cwd=feature_project, env=_env(),
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    diff = cinch("diff", "main", "feature", "--exit-code")
    assert diff.returncode == 1 and "create view adults" in diff.stdout
    check = cinch("merge", "feature", "--into", "main", "--check")
    assert check.returncode == 3
    assert "dependency: View adults (ViewCreated) uses column 'users.age'" in check.stderr
    lint = cinch("lint", "feature..main")
    assert lint.returncode == 1 and "drop_column" in lint.stdout
    integrity = cinch("check")
    assert integrity.returncode == 0 and "OK" in integrity.stdout
    assert cinch("diff", "main", "main", "--exit-code").returncode == 0


def test_readme_cli_block(tmp_path):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("<!-- cli-quickstart -->", 1)[1].split("```bash\n", 1)[1]
    block = block.split("```", 1)[0]
    lines = [line.split("  #", 1)[0].strip() for line in block.splitlines()]
    results = run_block("\n".join(lines), tmp_path)
    assert '"n": 1' in results[-2].stdout
    assert "create view active_users" in results[-1].stdout
