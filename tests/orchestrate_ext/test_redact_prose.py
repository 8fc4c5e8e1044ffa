"""The redactor removes secret values and credential-shaped text, never the words around them (issue 18).

It used to mask prose and examples: "a bot token: Block Kit" lost "Block", the `state.url_env` error's
example ``postgresql://user:password@host:5432/db`` lost its placeholder, ``password=``..`` in a docstring
lost a quote. Every help text and every message literal of the package must come through unchanged,
while real credentials are still masked.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrate_ext.cli import main
from orchestrate_ext.redact import MASK, Redactor

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("orchestrate_ext", "jupyter_extension", "alerts", "dbt_adapter")


def literal_texts() -> list[tuple[str, str]]:
    """Every string literal (f-strings with their fields as ``X``) of the packages' source, with where it is."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    found.append((f"{path.relative_to(ROOT)}:{node.lineno}", node.value))
                elif isinstance(node, ast.JoinedStr):
                    text = "".join(part.value if isinstance(part, ast.Constant) else "X" for part in node.values)
                    found.append((f"{path.relative_to(ROOT)}:{node.lineno}", str(text)))
    return found


def test_no_message_or_docstring_of_the_package_is_changed_by_the_redactor() -> None:
    redact = Redactor()
    changed = [(where, text[:120]) for where, text in literal_texts() if redact(text) != text]
    assert changed == []


def test_no_help_text_is_changed_by_the_redactor() -> None:
    redact = Redactor()
    commands = [[], *([name] for name in main.list_commands(None))]  # type: ignore[arg-type]
    for command in commands:
        text = CliRunner().invoke(main, [*command, "--help"]).output
        assert text and redact(text) == text, command


def test_the_url_env_error_keeps_its_example(tmp_path: Path) -> None:
    (tmp_path / "orchestrate.yaml").write_text("notebooks: {include: ['*.ipynb']}\nstate: {url_env: NO_SUCH_VAR_18}\n")
    result = CliRunner().invoke(main, ["runs", "--project", str(tmp_path)])
    assert result.exit_code == 2
    assert "set it to postgresql://user:password@host:5432/db" in result.stderr


@pytest.mark.parametrize(
    "prose",
    [
        "Posts with a bot token: Block Kit, threads and in-place updates.",
        "the secret: the value of an environment variable",
        "Bearer tokens are sent in a header",
        "postgresql://user:password@host:5432/db",
        "postgresql://user:<password>@host/db and https://user:***@host/x",
        "token=<token> or password=$PGPASSWORD or password=${PGPASSWORD}",
        "``password=`` in key/value strings",
        "Ask for the password: see below.",
        "token_env: SLACK_BOT_TOKEN",
    ],
)
def test_prose_and_placeholders_stay(prose: str) -> None:
    assert Redactor()(prose) == prose


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("password=hunter2hunter2 host=db", "password="),
        ("password: hunter2", "password: "),
        ("token: xoxz-not-slack-but-shaped-123", "token: "),
        ("api_key: sk-abc", "api_key: "),
        ("postgresql://dbuser:s3cr3tpass@db.example.com/shop", "postgresql://dbuser:"),
        ("postgresql://orchestrate:canarypgpass@db/state", "@db/state"),
        ("Authorization: Bearer abcdef1234567890", "Authorization: Bearer "),
        ("password=$ecret123", "password="),
        ("xoxb-1234-5678-abcdef", ""),
        ("PGPASSWORD=hunter2 psql", "PGPASSWORD="),
        ("DB_PASSWORD: s3cret", "DB_PASSWORD: "),
        ("MY_API_TOKEN=abcdefgh", "MY_API_TOKEN="),
    ],
)
def test_credentials_are_still_masked(text: str, kept: str) -> None:
    redacted = Redactor()(text)
    assert MASK in redacted and kept in redacted, redacted
