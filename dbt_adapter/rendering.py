"""Jinja in ``dbt_project.yml`` and ``profiles.yml``, rendered as dbt renders it.

dbt renders these files with its own renderers (``dbt/config/renderer.py``:
``DbtProjectYamlRenderer``, ``ProfileRenderer``) over the context of
``dbt/context/base.py`` (``BaseContext``: ``env_var``, ``var``, ``modules``,
``fromjson`` ...) and, for the project once the profile is known,
``dbt/context/target.py`` (``target``). Importing those modules costs seconds
(they pull in dbt's whole config and adapter machinery), too much for every
``orchestrate graph``, so this module re-implements the part of that context
the two files use, with the same semantics and error texts:

- ``env_var(name, default=None)``: the variable, else the default, else the
  error ``Env var required but not provided: 'NAME'``. Names starting with
  ``DBT_ENV_SECRET_`` are refused in ``dbt_project.yml`` (dbt's
  ``SecretEnvVarLocationError``) and allowed in ``profiles.yml``.
- ``var(name, default=None)``: the ``--vars`` value, else the default, else
  ``Required var 'NAME' not found in config``.
- ``target``: the selected output of the profile, in ``dbt_project.yml`` only.

Rendering is native as in dbt (``get_rendered(..., native=True)``, whose
``quoted_native_concat`` in ``dbt_common/clients/jinja.py`` is re-implemented
here): a template that yields one value returns it as it is (``env_var`` gives
a string), several pieces are joined into a string, and the filters
``as_number``, ``as_bool``, ``as_native`` and ``as_text`` convert (or keep) a
value. Only strings holding ``{{``, ``{%`` or ``{#`` are rendered; everything
else is returned as it is. Rendered values stay in
memory: they may hold secrets and are never logged.
"""

from __future__ import annotations

import ast
import datetime
import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from itertools import chain, islice
from typing import Any

import yaml

SECRET_ENV_PREFIX = "DBT_ENV_SECRET_"
"""dbt_common.constants.SECRET_ENV_PREFIX."""

_HAS_JINJA = re.compile(r"{[{%#]")
"""dbt/clients/jinja.py ``_HAS_RENDER_CHARS_PAT``."""


class RenderError(Exception):
    """A value could not be rendered; ``missing_env`` names the variable when that is why."""

    def __init__(self, message: str, missing_env: str | None = None) -> None:
        super().__init__(message)
        self.missing_env = missing_env


class _Return(Exception):
    """dbt's ``return()``: unwinds the template with a value."""

    def __init__(self, value: Any) -> None:
        self.value = value


def has_jinja(value: object) -> bool:
    return isinstance(value, str) and _HAS_JINJA.search(value) is not None


class Renderer:
    """Renders one file's values.

    Args:
        environ: the environment ``env_var`` reads.
        cli_vars: the ``--vars`` mapping ``var`` reads.
        secrets_allowed: True for profiles.yml, where ``DBT_ENV_SECRET_*`` may be read.
        target: the ``target`` context (the selected profile output), if known.
    """

    def __init__(
        self,
        environ: Mapping[str, str],
        cli_vars: Mapping[str, Any] | None = None,
        *,
        secrets_allowed: bool = False,
        target: Mapping[str, Any] | None = None,
    ) -> None:
        self.environ = environ
        self.cli_vars = dict(cli_vars or {})
        self.secrets_allowed = secrets_allowed
        self.target = dict(target) if target is not None else None
        self._environment: Any = None

    def render(self, value: Any) -> Any:
        """``value`` rendered if it is a string with Jinja in it; other values unchanged."""
        if not has_jinja(value):
            return value
        environment = self._jinja()
        try:
            return environment.from_string(value).render(self._context())
        except _Return as returned:
            return returned.value
        except RenderError:
            raise
        except Exception as exc:  # any Jinja error (syntax, undefined name) is a rendering failure
            raise RenderError(f"{type(exc).__name__}: {exc}") from exc

    def render_tree(self, data: Any, skip: Callable[[tuple[str | int, ...]], bool] | None = None) -> Any:
        """Every string of a nested structure rendered (dbt_common.utils.deep_map_render), but ``skip``ped keys."""

        def walk(value: Any, path: tuple[str | int, ...]) -> Any:
            if skip is not None and path and skip(path):
                return value
            if isinstance(value, dict):
                return {key: walk(item, (*path, key)) for key, item in value.items()}
            if isinstance(value, list):
                return [walk(item, (*path, index)) for index, item in enumerate(value)]
            return self.render(value)

        return walk(data, ())

    # -- the context

    def _jinja(self) -> Any:
        if self._environment is None:
            from jinja2.nativetypes import NativeEnvironment, NativeTemplate
            from jinja2.sandbox import SandboxedEnvironment

            class _Native(SandboxedEnvironment, NativeEnvironment):
                """dbt renders config with a sandboxed native environment (dbt_common/clients/jinja.py)."""

                concat = staticmethod(quoted_native_concat)  # type: ignore[assignment]

            class _Template(NativeTemplate):
                environment_class = _Native

            _Native.template_class = _Template
            environment = _Native(extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"])
            environment.filters.update(NATIVE_FILTERS)
            self._environment = environment
        return self._environment

    def _context(self) -> dict[str, Any]:
        context: dict[str, Any] = {
            "env_var": self._env_var,
            "var": self._var,
            "return": _return,
            "fromjson": _fromjson,
            "tojson": _tojson,
            "fromyaml": _fromyaml,
            "toyaml": _toyaml,
            "local_md5": lambda value: hashlib.md5(value.encode("utf-8")).hexdigest(),
            "set": lambda value, default=None: _or_default(lambda: set(value), default),
            "zip": lambda *args, default=None: _or_default(lambda: zip(*args, strict=False), default),
            "modules": {"datetime": datetime, "re": re, "itertools": itertools},
            "log": lambda msg, info=False: "",
            "print": lambda msg: "",
        }
        if self.target is not None:
            context["target"] = self.target
        return context

    def _env_var(self, name: str, default: str | None = None) -> str:
        """dbt/context/base.py ``BaseContext.env_var`` (``SecretContext.env_var`` for profiles)."""
        if name.startswith(SECRET_ENV_PREFIX) and not self.secrets_allowed:
            raise RenderError(
                f"Secret env vars are allowed only in profiles.yml or packages.yml. "
                f"Found '{name}' referenced elsewhere."
            )
        if name in self.environ:
            return self.environ[name]
        if default is not None:
            return default
        raise RenderError(f"Env var required but not provided: '{name}'", missing_env=name)

    def _var(self, name: str, default: Any = None) -> Any:
        """dbt/context/base.py ``Var``: the ``--vars`` value, else the default (project rendering)."""
        if name in self.cli_vars:
            return self.cli_vars[name]
        if default is not None:
            return default
        raise RenderError(f"Required var '{name}' not found in config")


class TextMarker(str):
    """``as_text``: keep the value a string (dbt_common/clients/jinja.py)."""


class NativeMarker(str):
    """``as_native``: evaluate the value as a Python literal."""


class BoolMarker(NativeMarker):
    """``as_bool``."""


class NumberMarker(NativeMarker):
    """``as_number``."""


NATIVE_FILTERS: dict[str, Callable[[Any], Any]] = {
    "as_text": TextMarker,
    "as_bool": BoolMarker,
    "as_native": NativeMarker,
    "as_number": NumberMarker,
    "is_list": lambda value: isinstance(value, list),
}


def quoted_native_concat(nodes: Iterable[Any]) -> Any:
    """dbt_common/clients/jinja.py ``quoted_native_concat``: one value as it is, several joined, markers converted."""
    iterator = iter(nodes)
    head = list(islice(iterator, 2))
    if not head:
        return ""
    if len(head) > 1:
        return "".join(str(value) for value in chain(head, iterator))
    raw = head[0]
    if isinstance(raw, TextMarker):
        return str(raw)
    if not isinstance(raw, NativeMarker):
        return raw
    try:
        result = ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError):
        result = raw
    if isinstance(raw, BoolMarker) and not isinstance(result, bool):
        raise RenderError(f"Could not convert value '{raw!s}' into type 'bool'")
    if isinstance(raw, NumberMarker) and not (isinstance(result, int | float) and not isinstance(result, bool)):
        raise RenderError(f"Could not convert value '{raw!s}' into type 'number'")
    return result


def _return(value: Any) -> Any:
    raise _Return(value)


def _or_default(build: Callable[[], Any], default: Any) -> Any:
    try:
        return build()
    except TypeError:
        return default


def _fromjson(text: str, default: Any = None) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return default


def _tojson(value: Any, default: Any = None, sort_keys: bool = False) -> Any:
    try:
        return json.dumps(value, sort_keys=sort_keys)
    except ValueError:
        return default


def _fromyaml(text: str, default: Any = None) -> Any:
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, TypeError):
        return default


def _toyaml(value: Any, default: Any = None, sort_keys: bool = False) -> Any:
    try:
        return yaml.safe_dump(value, sort_keys=sort_keys)
    except yaml.YAMLError:
        return default
