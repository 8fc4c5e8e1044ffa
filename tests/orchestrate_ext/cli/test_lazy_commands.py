"""Commands load on demand: each core command is where the group looks for it, and a command imports only its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from orchestrate_ext.cli import main
from orchestrate_ext.cli.app import COMMAND_MODULES


def test_every_core_command_is_mapped_to_the_module_that_defines_it() -> None:
    listed = main.list_commands(None)  # type: ignore[arg-type]
    core = {name: command for name, command in main.commands.items() if command.callback is not None}
    for name, command in core.items():
        module = command.callback.__module__  # type: ignore[union-attr]
        if module.startswith("orchestrate_ext.cli."):
            assert COMMAND_MODULES.get(name) == module.rsplit(".", 1)[1], name
    assert set(COMMAND_MODULES) <= set(listed)
    assert "alerts" in listed, "a plugin's command is listed too"


def test_a_command_imports_only_its_own_module(tmp_path: Path) -> None:
    (tmp_path / "orchestrate.yaml").write_text("concurrency: 1\n")
    probe = (
        "import sys\n"
        "from orchestrate_ext.cli import main\n"
        "try:\n"
        f"    main(['runs', '--project', {str(tmp_path)!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('orchestrate_ext.cli.') and m.endswith('_commands')))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.splitlines()[-1] == "['orchestrate_ext.cli.history_commands']"


def test_help_lists_every_command() -> None:
    output = CliRunner().invoke(main, ["--help"]).output
    for name in ("status", "freshness", "runs", "show", "logs", "schedules", "ticks", "completion", "state", "alerts"):
        assert f"  {name} " in output
