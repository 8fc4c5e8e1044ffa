from __future__ import annotations

from pathlib import Path

import pytest

from orchestrate_ext.clock import parse_duration
from orchestrate_ext.config import ExecutorConfig, load_config
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.execution.launchers import open_launcher
from orchestrate_ext.launcher import LocalLauncher
from orchestrate_ext.model import StateLocation
from orchestrate_ext.project import load_plugins


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "orchestrate.yaml"
    path.write_text(text)
    return path


def test_defaults_and_durations(tmp_path: Path) -> None:
    path = write(tmp_path, "concurrency: 2\ndefaults: {retries: 3, retry_backoff: 1m30s, timeout: 2h}\n")
    config = load_config(path, load_plugins())
    assert config.core.concurrency == 2
    assert config.core.defaults.retries == 3
    assert config.core.defaults.retry_backoff == 90.0
    assert config.core.defaults.timeout == 7200.0
    assert config.state_location() == StateLocation(path=tmp_path / ".orchestrate" / "state.db")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("concurency: 2\n", "unknown key 'concurency'; did you mean 'concurrency'?"),
        ("defaults: {retriez: 1}\n", "unknown key 'defaults.retriez'"),
        ("concurrency: many\n", "key 'concurrency': Input should be a valid integer"),
        ("defaults: {timeout: soon}\n", "key 'defaults.timeout'"),
        ("concurrency: 0\n", "key 'concurrency': Input should be greater than or equal to 1"),
        ("dbt: {projekt_dir: x}\n", "unknown key 'dbt.projekt_dir'"),
        ("notebooks: {include: 5}\n", "key 'notebooks.include'"),
        ("- a\n- b\n", "must be a mapping"),
        ("concurrency: [\n", "not valid YAML at line"),
    ],
)
def test_bad_config_names_the_key_and_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, load_plugins())
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("value", "seconds"), [(5, 5.0), ("30s", 30.0), ("5m", 300.0), ("1h30m", 5400.0), ("250ms", 0.25), ("2", 2.0)]
)
def test_parse_duration(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["soon", "5x", "m5", "", -1, True, "5m soon"])
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError, match=r"is not a duration|negative"):
        parse_duration(value)


SECRET = "s3cr3t-canary-pw"


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (f"{{url: 'postgresql://team:{SECRET}@db.example.com:5432/orchestrate'}}", "state.url holds a password"),
        (f"{{url: 'postgresql://db.example.com/orchestrate?password={SECRET}'}}", "state.url holds a password"),
        ("{url: 'mysql://db.example.com/orchestrate'}", "must be a PostgreSQL URL"),
        ("{path: 'postgresql://db.example.com/orchestrate'}", "state.path is a file path"),
        ("{path: x.db, url_env: ORCHESTRATE_DB}", "set only one of state.path, state.url and state.url_env"),
        ("{outage_wait: -5}", "state.outage_wait"),
        ("{outage_wait: soon}", "state.outage_wait"),
    ],
)
def test_bad_state_settings_are_refused_without_echoing_a_password(tmp_path: Path, state: str, message: str) -> None:
    path = write(tmp_path, f"state: {state}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, load_plugins())
    assert message in str(error.value) and str(path) in str(error.value)
    assert SECRET not in str(error.value)


def test_the_state_url_and_where_logs_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql://team@db.example.com:5432/orchestrate"
    config = load_config(write(tmp_path, f"state: {{url: '{url}'}}\n"), load_plugins())
    assert config.state_location() == StateLocation(url=url)
    assert config.workspace.state_dir == tmp_path / ".orchestrate", "logs and outputs stay in the project"
    config = load_config(write(tmp_path, "state: {url_env: ORCHESTRATE_DB, dir: /srv/shared/runs}\n"), load_plugins())
    monkeypatch.delenv("ORCHESTRATE_DB", raising=False)
    with pytest.raises(ConfigError, match="names the environment variable ORCHESTRATE_DB, which is not set"):
        config.state_location()
    monkeypatch.setenv("ORCHESTRATE_DB", f"postgresql://team:{SECRET}@db.example.com/orchestrate")
    assert config.state_location().url == f"postgresql://team:{SECRET}@db.example.com/orchestrate"
    assert config.workspace.state_dir == Path("/srv/shared/runs")


def test_how_long_a_run_waits_for_an_unreachable_store(tmp_path: Path) -> None:
    url = "postgresql://team@db.example.com:5432/orchestrate"
    config = load_config(write(tmp_path, f"state: {{url: '{url}'}}\n"), load_plugins())
    assert config.state_location().outage_wait == 120.0, "the default waits two minutes"
    config = load_config(write(tmp_path, f"state: {{url: '{url}', outage_wait: 5m}}\n"), load_plugins())
    assert config.state_location() == StateLocation(url=url, outage_wait=300.0)


@pytest.mark.parametrize(
    ("executor", "message"),
    [
        ("{type: dask}", "needs exactly one of address"),
        ("{type: dask, address: 'tcp://a:8786', local: {workers: 2}}", "needs exactly one of address"),
        ("{address: 'tcp://a:8786'}", "executor.address needs executor.type: dask"),
        ("{type: kubernetes}", "key 'executor.type'"),
        ("{type: dask, local: {workers: 0}}", "key 'executor.local.workers'"),
    ],
)
def test_bad_executor_settings_name_the_key(tmp_path: Path, executor: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, f"executor: {executor}\n"), load_plugins())


def test_a_dask_address_from_the_environment_must_be_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(write(tmp_path, "executor: {type: dask, address_env: DASK_SCHEDULER}\n"), load_plugins())
    monkeypatch.delenv("DASK_SCHEDULER", raising=False)
    with pytest.raises(ConfigError, match="names the environment variable DASK_SCHEDULER, which is not set"):
        open_launcher(config.core.executor, config.workspace.config_path)
    assert isinstance(open_launcher(ExecutorConfig(), config.workspace.config_path), LocalLauncher)


def test_an_invalid_schedule_entry_is_set_aside_and_the_others_load(tmp_path: Path) -> None:
    path = tmp_path / "orchestrate.yaml"
    path.write_text(
        "schedules:\n"
        "  - {name: nightly, cron: '0 6 * * *'}\n"
        "  - {name: hourly, cron: '0 * * * * *'}\n"
        "  - {name: berlin, cron: '@daily', timezone: Europe/Berln}\n"
        "  - {cron: '@daily'}\n"
    )
    config = load_config(path, load_plugins())
    assert [schedule.name for schedule in config.core.schedules] == ["nightly"]
    assert set(config.broken_schedules) == {"hourly", "berlin", "schedules.3"}
    assert "key 'schedules.1.cron'" in config.broken_schedules["hourly"]
    assert "key 'schedules.2.timezone'" in config.broken_schedules["berlin"]
    assert str(path) in config.broken_schedules["schedules.3"]


def test_schedules_that_are_not_a_list_are_an_unreadable_config(tmp_path: Path) -> None:
    path = tmp_path / "orchestrate.yaml"
    path.write_text("schedules: {name: nightly}\n")
    with pytest.raises(ConfigError, match="key 'schedules': must be a list"):
        load_config(path, load_plugins())
