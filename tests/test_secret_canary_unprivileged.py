"""The canary suite of issue 18: as an unprivileged user, no node reads a secret it was not given.

The example pipeline (real dbt, papermill, ipykernel; the alerts plugin delivering to a loopback Slack) runs
with canary values in the engine's environment: the Slack token, the SMTP password and login, a dbt profile
password (``DBT_ENV_SECRET_*``, read by ``profiles.yml``) and, on PostgreSQL, the store URL's password. Two
hostile notebooks join it: each reads its own environment and ``/proc/<pid>/environ`` of every ancestor (the
engine, whatever started it, up to pid 1) and prints and saves all it finds. ``snoop_given`` is given one
secret (``SMTP_USER``) through ``env_passthrough``: it must find exactly that one, ``snoop`` none.

Then every file of the project (state folder, outputs, logs, dbt's target), the store, the CLI's output and
the alerts are searched for the canaries: none is found, but in ``snoop_given``'s own files.

Root reads every process's environment, so the engine runs unprivileged: as ``nobody`` when that user can
run this Python (the project copy is then chowned to it), else as root stripped of every capability
(``setpriv --bounding-set=-all``): without CAP_SYS_PTRACE a process cannot read a non-dumpable process's
``/proc/<pid>/environ`` even of its own user, exactly the unprivileged case. A test process that is not root
is unprivileged already.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from tests.alerts.fake_slack import FakeSlack
from tests.conftest import copy_example

RUN = uuid.uuid4().hex[:8]
TOKEN = f"xoxb-canary{RUN}-1111-slack-token"
SECRETS = {
    "SLACK_BOT_TOKEN": TOKEN,
    "SMTP_PASSWORD": f"canary{RUN}-2222-smtp-password",
    "SMTP_USER": f"canary{RUN}-3333-smtp-login",
    "DBT_ENV_SECRET_WAREHOUSE_PASSWORD": f"canary{RUN}-4444-dbt-profile-password",
}
PG_PASSWORD = f"canary{RUN}-5555-pg-password"
GIVEN = "SMTP_USER"
"""The one secret passed through, to ``snoop_given`` only."""
MARK = f"canary{RUN}"
"""In every canary value: a search for it finds any of them, also a piece of one."""

SNOOP = """
import json, os
found = {"pid": os.getpid(), "own": dict(os.environ), "ancestors": []}
pid = os.getppid()
while pid > 1:
    entry = {"pid": pid}
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            entry["cmdline"] = file.read().replace(b"\\0", b" ").decode(errors="replace")[:200]
        with open(f"/proc/{pid}/environ", "rb") as file:
            entry["environ"] = file.read().decode(errors="replace")
    except OSError as exc:
        entry["error"] = type(exc).__name__
    found["ancestors"].append(entry)
    with open(f"/proc/{pid}/status") as file:
        pid = int(next(line.split()[1] for line in file if line.startswith("PPid:")))
print(json.dumps(found))
with open(OUT, "w") as file:
    json.dump(found, file)
"""


PROBE = """
import subprocess, sys
import dbt.cli, ipykernel, orchestrate_ext, papermill
subprocess.run([sys.executable, "-c", "pass"], check=True)
"""
"""What the engine needs of this Python as another user: its packages, and starting itself again."""


@dataclass(frozen=True)
class Unprivileged:
    prefix: list[str]
    """What runs a command unprivileged (``setpriv ...``), empty when this process is."""
    uid: int | None
    """The user to chown the project to (None: keep it)."""
    how: str


def unprivileged() -> Unprivileged:
    if os.geteuid() != 0:
        return Unprivileged([], None, f"as uid {os.geteuid()} (the test's own)")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("the test runs as root and setpriv (util-linux) is missing: it cannot drop privileges")
    nobody = pwd.getpwnam("nobody")
    as_nobody = [setpriv, f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
    probe = subprocess.run(
        [*as_nobody, sys.executable, "-c", PROBE],
        cwd="/",
        capture_output=True,
        check=False,
    )
    if probe.returncode == 0:
        return Unprivileged(as_nobody, nobody.pw_uid, "as the user nobody")
    # this Python is out of nobody's reach (e.g. under a 0700 /root): root with no capability at all
    return Unprivileged([setpriv, "--inh-caps=-all", "--bounding-set=-all"], None, "as root without capabilities")


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(token=TOKEN)
    yield fake
    fake.stop()


def write_snoop(path: Path, out: Path, orchestrate: dict[str, object]) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["orchestrate"] = orchestrate
    notebook.cells = [nbformat.v4.new_code_cell(f"OUT = {str(out)!r}\n" + SNOOP)]
    nbformat.write(notebook, path)


def make_project(base: Path, slack: FakeSlack, state_url_env: str | None) -> Path:
    project = copy_example(base / "shop")
    config = project / "orchestrate.yaml"
    config.write_text(
        config.read_text()
        + "alerts:\n"
        + f"  slack: {{token_env: SLACK_BOT_TOKEN, base_url: '{slack.base_url}'}}\n"
        + "  email: {smtp_host: localhost, from: orchestrate@example.com,"
        + " username_env: SMTP_USER, password_env: SMTP_PASSWORD}\n"
        + "  routes: [{slack: '#data-alerts', on: [failure, run_finished]}]\n"
        + "  delivery: {exit_wait: 5s}\n"
        + (f"state: {{url_env: {state_url_env}}}\n" if state_url_env else "")
    )
    profiles = project / "dbt" / "profiles.yml"
    profiles.write_text(
        profiles.read_text()
        + "      config_options:\n"
        + "        custom_user_agent: \"{{ env_var('DBT_ENV_SECRET_WAREHOUSE_PASSWORD') }}\"\n"
    )
    write_snoop(project / "notebooks" / "snoop.ipynb", base / "snoop.json", {})
    write_snoop(project / "notebooks" / "snoop_given.ipynb", base / "snoop_given.json", {"env_passthrough": [GIVEN]})
    (base / "home").mkdir()
    return project


def canaries_in(text: str, secrets: dict[str, str]) -> set[str]:
    """The names of the secrets ``text`` holds (a piece of one counts: every value holds :data:`MARK`)."""
    found = {name for name, value in secrets.items() if value in text}
    if MARK in text and not found:
        found.add("a piece of a canary")
    return found


def dump_store(project: Path, url: str | None) -> str:
    if url is None:
        with sqlite3.connect(project / ".orchestrate" / "state.db") as connection:
            return "\n".join(connection.iterdump())
    import psycopg

    rows = []
    with psycopg.connect(url, autocommit=True) as connection:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
        assert tables, "the run wrote its store into the schema"
        for (table,) in tables:
            rows += [repr(row) for row in connection.execute(f'SELECT * FROM "{table}"')]
    return "\n".join(rows)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_no_node_reads_a_secret_it_was_not_given(
    backend: str, slack: FakeSlack, request: pytest.FixtureRequest
) -> None:
    who = unprivileged()
    secrets = dict(SECRETS)
    store_url = None
    if backend == "postgresql":
        plain = request.getfixturevalue("postgres_schema_url")  # the test server trusts: any password will do
        scheme, _, rest = plain.partition("://")
        user, _, host = rest.partition("@")
        store_url = f"{scheme}://{user}:{PG_PASSWORD}@{host}"
        secrets["ORCHESTRATE_DATABASE_URL"] = store_url
    base = Path(tempfile.mkdtemp(prefix="orchestrate-canary-"))
    try:
        project = make_project(base, slack, "ORCHESTRATE_DATABASE_URL" if store_url else None)
        base.chmod(0o755)
        if who.uid is not None:
            for path in [base, *base.rglob("*")]:
                os.chown(path, who.uid, -1, follow_symlinks=False)
        env = {**os.environ, **secrets, "HOME": str(base / "home")}
        orchestrate = str(Path(sys.executable).with_name("orchestrate"))

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*who.prefix, orchestrate, *args],
                cwd=project,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )

        ran = cli("run", "--json")
        assert ran.returncode == 0, f"{who.how}: {ran.stdout[-3000:]}\n{ran.stderr[-3000:]}"
        run_id = json.loads(ran.stdout)["run_id"]

        # what the hostile notebooks found
        snoop = json.loads((base / "snoop.json").read_text())
        given = json.loads((base / "snoop_given.json").read_text())
        assert canaries_in(json.dumps(snoop), secrets) == set(), f"{who.how}: a notebook read secrets not given"
        assert canaries_in(json.dumps(given), secrets) == {GIVEN}, f"{who.how}: the given node read more"
        assert given["own"][GIVEN] == secrets[GIVEN]
        engine = next(entry for entry in snoop["ancestors"] if "orchestrate" in entry.get("cmdline", ""))
        assert "environ" not in engine and engine["error"] == "PermissionError", engine
        assert len(snoop["ancestors"]) >= 2, "the kernel's parent and grandparent were read"

        # the CLI, as the unprivileged user calls it
        outputs = {"run --json": ran.stdout + ran.stderr}
        for args in (
            ("show", run_id),
            ("show", run_id, "--json"),
            ("logs", run_id, "notebook.notebooks/snoop"),
            ("logs", run_id, "model.shop.daily_revenue"),
            ("runs", "--json"),
            ("validate",),
            ("alerts", "outbox", "--all"),
        ):
            result = cli(*args)
            outputs[" ".join(args)] = result.stdout + result.stderr
        for command, output in outputs.items():
            assert canaries_in(output, secrets) == set(), f"orchestrate {command} shows a secret"

        # every file of the project but the given node's own, the store, the alerts
        checked = 0
        for path in base.rglob("*"):
            if not path.is_file() or "snoop_given" in path.name:
                continue
            text = path.read_bytes().decode("utf-8", errors="replace")
            assert canaries_in(text, secrets) == set(), f"{path.relative_to(base)} holds a secret"
            checked += 1
        assert checked >= 20
        assert canaries_in(dump_store(project, store_url), secrets) == set(), "the store holds a secret"
        assert slack.messages, "the alerts went out"
        assert canaries_in("\n".join(body.decode() for _, _, body in slack.requests), secrets) == set()
    finally:
        shutil.rmtree(base, ignore_errors=True)
