from __future__ import annotations

from pathlib import Path

import pytest

from orchestrate_ext.clock import parse_duration
from orchestrate_ext.config import load_config
from orchestrate_ext.errors import ConfigError
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
    assert config.state_path == tmp_path / ".orchestrate" / "state.db"


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
