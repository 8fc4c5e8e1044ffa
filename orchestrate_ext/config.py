"""Loading and validating ``orchestrate.yaml``.

The engine owns a few keys (``concurrency``, ``max_runs``, ``defaults``, ``state``, ``schedules``); every
other top-level key belongs to a plugin, which validates it with its own model.
Unknown keys and wrong types are errors naming the key and the file. The file is
read by the safe loader (:mod:`orchestrate_ext.safe_load`: size, depth, alias
expansion, integer and UTF-8 limits); an empty file is an error, not a project
without nodes. The environment variables it names as secrets (``*_env`` keys)
are kept on the :class:`~orchestrate_ext.interfaces.Workspace`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from orchestrate_ext.clock import parse_duration
from orchestrate_ext.errors import ConfigError, did_you_mean
from orchestrate_ext.interfaces import Plugin, Workspace
from orchestrate_ext.model import DEFAULT_OUTAGE_WAIT, StateLocation
from orchestrate_ext.parameters import parameter_name_problem
from orchestrate_ext.safe_load import CONFIG_LIMITS, load_yaml_file
from orchestrate_ext.schedule_settings import ScheduleConfig
from orchestrate_ext.secrets import secret_env_names

CONFIG_FILE = "orchestrate.yaml"
DEFAULT_STATE_PATH = ".orchestrate/state.db"
KERNEL_FOLDERS = (Path("/proc"), Path("/sys"))
"""Folders of the kernel's pseudo file systems: no state store can be created below them."""

"""Seconds a run waits for an unreachable PostgreSQL state store by default (``state.outage_wait``)."""

Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, written in YAML as a number or a text like ``30s``, ``5m``, ``1h``."""


Count = Annotated[int, Strict()]
"""A whole number (retries, concurrency, workers), strictly: pydantic alone reads ``true`` as 1, ``'3'`` as 3
and ``3.0`` as 3, so ``retries: true`` meant one retry; now each is "Input should be a valid integer"."""


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


MAX_RETRIES = 100
"""The most retries a node (or the defaults) may ask for."""


class Defaults(StrictModel):
    """Policies of every node and run unless a node or schedule says otherwise.

    ``only_changed`` makes runs reuse the result of every node whose code and inputs did not
    change since its last success (``orchestrate run --all`` runs everything anyway).
    """

    retries: Count = Field(default=0, ge=0, le=MAX_RETRIES)
    retry_backoff: Duration = 10.0
    timeout: Duration | None = None
    only_changed: bool = False


class StateConfig(StrictModel):
    """Where the history is kept: a SQLite file (``path``, the default) or a PostgreSQL database.

    ``url`` is a ``postgresql://user@host:5432/db`` URL without a password (libpq
    finds it in ``PGPASSWORD`` or ``~/.pgpass``); ``url_env`` names an environment
    variable that holds the whole URL, password included. ``dir`` is the folder of
    run logs and output notebooks (default: the folder of ``path``, or ``.orchestrate``).
    ``outage_wait`` is how long a run in flight waits for an unreachable PostgreSQL
    server (it pauses, and goes on when the server is back) before it gives up.
    """

    path: str | None = None
    url: str | None = None
    url_env: str | None = None
    dir: str | None = None
    outage_wait: Duration = Field(default=DEFAULT_OUTAGE_WAIT, ge=0, le=7 * 24 * 3600)

    @field_validator("path", "dir")
    @classmethod
    def _a_file_path(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or "\x00" in value):
            raise ValueError("give a path relative to orchestrate.yaml, e.g. .orchestrate/state.db")
        return value

    @model_validator(mode="after")
    def _one_place(self) -> StateConfig:
        chosen = [key for key in ("path", "url", "url_env") if getattr(self, key) is not None]
        if len(chosen) > 1:
            raise ValueError(f"set only one of state.path, state.url and state.url_env, not {' and '.join(chosen)}")
        if self.path is not None and looks_like_url(self.path):
            raise ValueError("state.path is a file path; put a database URL in state.url (or state.url_env)")
        if self.url is not None:
            check_database_url(self.url)
        return self


def looks_like_url(text: str) -> bool:
    return "://" in text or text.lower().startswith(("postgres:", "postgresql:"))


def check_database_url(url: str, *, password_allowed: bool = False) -> None:
    """Accept a PostgreSQL URL (without a password, unless allowed); errors never show the URL."""
    parsed = urlsplit(url)
    if parsed.scheme not in ("postgresql", "postgres"):
        raise ValueError("the state URL must be a PostgreSQL URL: postgresql://user@host:5432/dbname")
    if not password_allowed and (parsed.password is not None or "password=" in parsed.query.lower()):
        raise ValueError(
            "state.url holds a password, and orchestrate.yaml is no place for one: remove it from the URL and "
            "put it in PGPASSWORD or ~/.pgpass, or put the whole URL in an environment variable named by "
            "state.url_env"
        )


class LocalClusterConfig(StrictModel):
    workers: Count = Field(default=2, ge=1, le=256)


class ExecutorConfig(StrictModel):
    """Where tries run: here (``type: local``, the default) or on a Dask cluster (``type: dask``).

    A Dask cluster is named by ``address`` (``tcp://scheduler:8786``), by ``address_env`` (an
    environment variable holding it), or started here as a ``LocalCluster`` of ``local.workers``
    worker processes. ``worker_resources`` maps a node's resource (``gpu``) to the Dask worker
    resource a try of it needs one unit of (``GPU``).
    """

    type: Literal["local", "dask"] = "local"
    address: str | None = None
    address_env: str | None = None
    local: LocalClusterConfig | None = None
    worker_resources: dict[str, str] = {}

    @model_validator(mode="after")
    def _one_cluster(self) -> ExecutorConfig:
        given = [key for key in ("address", "address_env", "local") if getattr(self, key) is not None]
        if self.type == "local" and (given or self.worker_resources):
            raise ValueError(f"executor.{(given or ['worker_resources'])[0]} needs executor.type: dask")
        if self.type == "dask" and len(given) != 1:
            raise ValueError(
                "executor.type dask needs exactly one of address (tcp://host:8786), address_env (an environment "
                "variable holding it) or local ({workers: 2}, a cluster started here)"
            )
        return self


class CoreConfig(StrictModel):
    concurrency: Count = Field(default=4, ge=1, le=1024)
    max_runs: Count | None = Field(default=None, ge=1, le=100_000)
    """Runs that may execute at once in this state store, however they start; the rest wait ``queued``."""
    defaults: Defaults = Defaults()
    state: StateConfig = StateConfig()
    executor: ExecutorConfig = ExecutorConfig()
    schedules: list[ScheduleConfig] = []
    """When the pipeline (or a selection of it) runs by itself; see "Scheduling" in the README."""


@dataclass(frozen=True)
class WorkspaceConfig:
    """A validated ``orchestrate.yaml``: the engine's part and each plugin's."""

    workspace: Workspace
    core: CoreConfig
    sections: Mapping[str, Any]
    """Validated plugin sections, by top-level key; absent keys are absent."""
    broken_schedules: Mapping[str, str] = field(default_factory=dict)
    """Entries of ``schedules:`` that are invalid on their own (a bad cron, time zone or
    parameter name), by schedule name (``schedules.<index>`` when it has none), with the error:
    left out of :attr:`CoreConfig.schedules` so that the other schedules keep firing."""

    def state_location(self) -> StateLocation:
        """Where the store is: the SQLite file, or the PostgreSQL URL (read from ``url_env`` now)."""
        state = self.core.state
        if state.url is not None:
            return StateLocation(url=state.url, outage_wait=state.outage_wait)
        if state.url_env is not None:
            url = os.environ.get(state.url_env)
            if not url:
                raise ConfigError(
                    f"{self.workspace.config_path}: key 'state.url_env' names the environment variable "
                    f"{state.url_env}, which is not set here; set it to postgresql://user:password@host:5432/db"
                )
            try:
                check_database_url(url, password_allowed=True)
            except ValueError as exc:
                raise ConfigError(f"environment variable {state.url_env}: {exc}") from None
            return StateLocation(url=url, outage_wait=state.outage_wait)
        return StateLocation(path=self.workspace.root / (state.path or DEFAULT_STATE_PATH))

    def check_state_path(self) -> None:
        """Refuse a ``state.path`` that cannot be a SQLite file: a folder, a device such as /dev/null,
        or a path under a file. A path that does not exist yet is fine (the store creates it)."""
        path = self.state_location().path
        if path is None:
            return  # PostgreSQL
        where = f"{self.workspace.config_path}: key 'state.path'"
        try:
            self._check_state_file(path, where)
        except OSError as exc:
            raise ConfigError(f"{where}: {path} cannot be used: {exc.strerror or exc}") from exc

    @staticmethod
    def _check_state_file(path: Path, where: str) -> None:
        resolved = path.resolve()
        for folder in KERNEL_FOLDERS:
            if resolved == folder or folder in resolved.parents:
                raise ConfigError(
                    f"{where}: {path} is under {folder}, the kernel's own file system, where no database can be "
                    f"kept; give the path of a file in the project, e.g. {DEFAULT_STATE_PATH}"
                )
        if path.is_dir():
            raise ConfigError(f"{where}: {path} is a folder; give the path of a file, e.g. .orchestrate/state.db")
        if path.exists() and not path.is_file():
            raise ConfigError(
                f"{where}: {path} is not a regular file (a device or a pipe); give the path of a file, "
                "e.g. .orchestrate/state.db"
            )
        for parent in path.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise ConfigError(f"{where}: {parent} is a file, so {path} cannot be created below it")
                break


def state_dir(state: StateConfig) -> str:
    """The folder of run logs and output notebooks, relative to the project."""
    if state.dir is not None:
        return state.dir
    if state.url is None and state.url_env is None:
        return str(Path(state.path or DEFAULT_STATE_PATH).parent)
    return str(Path(DEFAULT_STATE_PATH).parent)


def find_config(project: Path | None) -> Path:
    """The ``orchestrate.yaml`` in ``project`` (default: the current directory)."""
    folder = (project or Path.cwd()).resolve()
    if folder.is_file():
        return folder
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(
            f"no {CONFIG_FILE} in {folder}; run `orchestrate init` there, "
            "or pass --project pointing at the folder that has one"
        )
    return path


def load_config(path: Path, plugins: Mapping[str, Plugin]) -> WorkspaceConfig:
    """Read and validate ``path``; ``plugins`` maps config keys to plugins."""
    raw = _read_yaml(path)
    core_keys = set(CoreConfig.model_fields)
    allowed = sorted(core_keys | set(plugins))
    for key in raw:
        if key not in allowed:
            hint = did_you_mean(str(key), allowed) or f"; allowed keys: {', '.join(allowed)}"
            raise ConfigError(f"{path}: unknown key '{key}'{hint}")
    core_raw = {key: value for key, value in raw.items() if key in core_keys}
    entries = core_raw.pop("schedules", None)
    core = _validate(CoreConfig, core_raw, path, prefix="")
    schedules, broken_schedules = _schedules(entries, path)
    core = core.model_copy(update={"schedules": schedules})
    sections = {
        key: _validate(plugin.config_model, raw[key] if raw[key] is not None else {}, path, prefix=key)
        for key, plugin in plugins.items()
        if key in raw
    }
    root = path.parent
    workspace = Workspace(
        root=root,
        config_path=path,
        state_dir=root / state_dir(core.state),
        secret_env=secret_env_names(raw),
    )
    return WorkspaceConfig(workspace=workspace, core=core, sections=sections, broken_schedules=broken_schedules)


def _schedules(entries: Any, path: Path) -> tuple[list[ScheduleConfig], dict[str, str]]:
    """The valid entries of ``schedules:``, and each invalid one by name with its error (each on its own).

    Raises:
        ConfigError: ``schedules`` is not a list (the whole key is unreadable).
    """
    if entries is None:
        return [], {}
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: key 'schedules': must be a list of schedules (got {_short(entries)})")
    valid: list[ScheduleConfig] = []
    broken: dict[str, str] = {}
    for index, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, dict) else None
        label = name if isinstance(name, str) and name else f"schedules.{index}"
        try:
            schedule = _validate(ScheduleConfig, entry, path, prefix=f"schedules.{index}")
            problem = next(filter(None, map(parameter_name_problem, schedule.parameters)), None)
            if problem is not None:
                raise ConfigError(f"{path}: key 'schedules.{index}.parameters' (schedule '{schedule.name}'): {problem}")
        except ConfigError as exc:
            broken.setdefault(label, str(exc))
            continue
        valid.append(schedule)
    return valid, broken


def _read_yaml(path: Path) -> dict[str, Any]:
    data = load_yaml_file(path, CONFIG_LIMITS, unique_keys=True)
    if data is None:
        raise ConfigError(
            f"{path} is empty; run `orchestrate init` to write a first one, or add a `dbt:` "
            "and/or a `notebooks:` section"
        )
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the file must be a mapping of keys to values, not {type(data).__name__}")
    return data


def _validate(model: Any, value: Any, path: Path, prefix: str) -> Any:
    try:
        return TypeAdapter(model).validate_python(value)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(path), prefix)) from exc


def format_validation_error(exc: ValidationError, source: str, prefix: str = "") -> str:
    """One line per problem: ``source: key 'a.b': what is wrong (got X)``."""
    lines = []
    for error in exc.errors():
        parts = [prefix] if prefix else []
        parts += [str(part) for part in error["loc"]]
        key = ".".join(parts) or "(top level)"
        if error["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key '{key}'; remove it or check its spelling")
        else:
            got = error.get("input")
            shown = "" if isinstance(got, dict) else f" (got {_short(got)})"
            lines.append(f"{source}: key '{key}': {error['msg']}{shown}")
    return "\n".join(lines)


def _short(value: Any, limit: int = 120) -> str:
    """``repr(value)``, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
