"""The one way orchestrate-ext reads YAML and JSON that a user (or a client) wrote.

Every input that comes from outside — ``orchestrate.yaml``, a notebook and its
metadata, dbt's ``manifest.json`` (and the ``meta`` in it), a REST request body —
is read through this module, under :class:`Limits`:

* **size**: the input is refused before it is parsed when it has more bytes than
  ``max_bytes`` (a file's size is checked before it is read);
* **UTF-8**: the bytes must be UTF-8 (a leading byte-order mark is allowed);
* **depth**: collections nested deeper than ``max_depth``. YAML is checked on the
  parser's event stream *before* any node is composed (PyYAML's composer is
  recursive); JSON's own parser stops at Python's recursion limit, and the loaded
  value is then walked (without recursion) when ``max_depth`` is set;
* **expansion**: the number of values the document stands for once every YAML
  alias (``*name``) is expanded, counted on the event stream with each anchor's
  size remembered, so a few hundred bytes of nested anchors (a "billion laughs")
  are refused in linear time instead of expanding to gigabytes later;
* **integers** with more than ``max_int_digits`` digits;
* **duplicate keys** (``unique_keys=True``, for orchestrate.yaml): a YAML mapping that names a
  key twice is refused with the key and its line (PyYAML alone keeps the last value silently).
  dbt's own files are read as dbt reads them (the last value wins), so they keep dbt's outcome.

Every problem is an :class:`~orchestrate_ext.errors.InputError` (a ``BadInput``:
exit code 2 on the command line, HTTP 400 from the REST API) whose message
starts with the file (or ``the request body``) and says what to do; callers may
ask for another ``BadInput`` class (e.g. ``ManifestError``). Nothing here
writes anywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orchestrate_ext.errors import BadInput, InputError

_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """How much of a kind of input is accepted.

    Attributes:
        max_bytes: the largest input, in bytes.
        max_depth: the deepest nesting of mappings and lists; None leaves JSON's depth to
            Python's recursion limit and skips the walk of the loaded value (large files).
        max_nodes: the most values (scalars and collections, aliases expanded) a document may hold.
        max_int_digits: the longest integer, in digits.
    """

    max_bytes: int
    max_depth: int | None = 64
    max_nodes: int = 100_000
    max_int_digits: int = 32


CONFIG_LIMITS = Limits(max_bytes=1 * _MIB, max_depth=64, max_nodes=100_000)
"""``orchestrate.yaml``."""
SETTINGS_LIMITS = Limits(max_bytes=1 * _MIB, max_depth=32, max_nodes=20_000)
"""A node's ``orchestrate`` settings (notebook metadata, dbt ``meta``), checked once loaded."""
REQUEST_LIMITS = Limits(max_bytes=1 * _MIB, max_depth=32, max_nodes=20_000)
"""A REST request body."""
NOTEBOOK_LIMITS = Limits(max_bytes=512 * _MIB, max_depth=None, max_nodes=0, max_int_digits=4300)
"""A notebook file (outputs may be large); its ``orchestrate`` metadata is checked with ``SETTINGS_LIMITS``."""
MANIFEST_LIMITS = Limits(max_bytes=2048 * _MIB, max_depth=None, max_nodes=0, max_int_digits=4300)
"""dbt's ``manifest.json``: 139 MB at 5,000 models, so a generous size and no walk of the whole value."""

_BOM = "\ufeff"
_INT_TAG = "tag:yaml.org,2002:int"
_COLLECTION_STARTS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_COLLECTION_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = yaml.resolver.Resolver()
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _UniqueKeyLoader(_SafeLoader):
    """The safe loader, refusing a mapping that names a key twice (PyYAML keeps the last silently).

    Keys brought in by a merge (``<<: *defaults``) may be overridden: only the keys written in
    the mapping itself are compared.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:  # an unhashable key is the constructor's error
                continue
            if first is not key_node:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"the key '{key}' appears twice in one mapping (first at line {first.start_mark.line + 1}); "
                    "keep one of them",
                    key_node.start_mark,
                )
        return dict(super().construct_mapping(node, deep=deep))


def load_yaml(
    data: bytes | str,
    source: str,
    limits: Limits = CONFIG_LIMITS,
    error: type[BadInput] = InputError,
    *,
    unique_keys: bool = False,
) -> Any:
    """The value of one YAML document (None when it is empty), read under ``limits``.

    Args:
        source: names the input in messages, e.g. the file's path.
        error: the ``BadInput`` class raised.
        unique_keys: refuse a mapping that names a key twice (else the last value wins, as in PyYAML).
    """
    text = _text(data, source, limits, error)
    loader = _UniqueKeyLoader if unique_keys else _SafeLoader
    try:
        _check_events(text, source, limits, error)
        return yaml.load(text, Loader=loader)  # a safe loader (no Python tags), after the checks above
    except yaml.YAMLError as exc:
        raise error(f"{source}: not valid YAML{_where(exc)}: {getattr(exc, 'problem', None) or exc}") from None
    except (ValueError, RecursionError, MemoryError) as exc:  # a constructor's int()/float() or a deep structure
        if isinstance(exc, BadInput):
            raise
        raise error(f"{source}: cannot be read as YAML: {type(exc).__name__}: {str(exc)[:200]}") from None


def load_yaml_file(
    path: Path, limits: Limits = CONFIG_LIMITS, error: type[BadInput] = InputError, *, unique_keys: bool = False
) -> Any:
    """:func:`load_yaml` of a file; its size is checked before it is read."""
    return load_yaml(_read(path, limits, error), str(path), limits, error, unique_keys=unique_keys)


def load_json(
    data: bytes | str,
    source: str,
    limits: Limits = REQUEST_LIMITS,
    error: type[BadInput] = InputError,
    *,
    constants: bool = True,
) -> Any:
    """The value of a JSON text, read under ``limits``.

    Args:
        constants: accept ``NaN``, ``Infinity`` and ``-Infinity`` (Python writes them; they are not JSON).
    """
    text = _text(data, source, limits, error)

    def parse_int(digits: str) -> int:
        if len(digits.lstrip("-")) > limits.max_int_digits:
            raise error(
                f"{source}: an integer has {len(digits.lstrip('-'))} digits, more than the "
                f"{limits.max_int_digits} accepted; write a smaller number"
            )
        return int(digits)

    def reject_constant(name: str) -> None:
        raise error(f"{source}: not valid JSON: {name} is not plain JSON; write a number or null")

    try:
        value = json.loads(text, parse_int=parse_int, parse_constant=None if constants else reject_constant)
    except BadInput:
        raise
    except RecursionError:
        raise error(f"{source}: nested too deeply to read; flatten it") from None
    except ValueError as exc:
        raise error(f"{source}: not valid JSON: {str(exc)[:200]}") from None
    if limits.max_depth is not None:
        check_structure(value, source, limits, error)
    return value


def load_json_file(
    path: Path, limits: Limits = NOTEBOOK_LIMITS, error: type[BadInput] = InputError, *, constants: bool = True
) -> Any:
    """:func:`load_json` of a file; its size is checked before it is read."""
    return load_json(_read(path, limits, error), str(path), limits, error, constants=constants)


class ShapeMismatch(InputError):
    """The JSON is valid but does not have the shape :func:`load_json_file_typed` was asked for.

    Attributes:
        value: the document as :func:`load_json` reads it, for a caller that names the offending part.
    """

    def __init__(self, message: str, value: Any) -> None:
        super().__init__(message)
        self.value = value


def load_json_file_typed(path: Path, shape: Any, limits: Limits, error: type[BadInput] = InputError) -> Any:
    """:func:`load_json_file` into ``shape``, a msgspec type (a ``msgspec.Struct`` naming only the fields wanted).

    For large documents of which a few fields are read (dbt's manifest): msgspec skips every field
    ``shape`` does not name without building it, so this takes a fraction of the time and memory of
    ``json.loads``. What msgspec refuses but Python's ``json`` reads (``NaN``, numbers beyond a float)
    is read by :func:`load_json` and converted; text that is no JSON gets :func:`load_json`'s message.

    Raises:
        error: the file is too large, no UTF-8 or no JSON.
        ShapeMismatch: the JSON does not fit ``shape`` (its ``value`` is the document, read by ``json``).
    """
    import msgspec

    data = _read(path, limits, error)
    if len(data) > limits.max_bytes:
        _text(data, str(path), limits, error)  # raises, with the size in the message
    try:
        return msgspec.json.decode(data.removeprefix(_BOM.encode()), type=shape)
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass  # the slow path below reads what can be read, and words the refusal
    value = load_json(data, str(path), limits, error)
    try:
        return msgspec.convert(value, shape)
    except msgspec.ValidationError as exc:
        raise ShapeMismatch(f"{path}: {exc}", value) from None


def check_structure(value: Any, source: str, limits: Limits, error: type[BadInput] = InputError) -> None:
    """Refuse an already loaded value nested deeper than ``limits.max_depth``, with more than
    ``limits.max_nodes`` values, or with an integer longer than ``limits.max_int_digits``.

    Walks without recursion, and stops at the first problem.
    """
    max_depth = limits.max_depth if limits.max_depth is not None else 10_000
    max_int = 10**limits.max_int_digits
    stack: list[tuple[Any, int]] = [(value, 1)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        seen += 1
        if limits.max_nodes and seen > limits.max_nodes:
            raise error(f"{source}: holds more than {limits.max_nodes:,} values; make it smaller")
        if isinstance(item, dict | list | tuple):
            if depth > max_depth:
                raise error(f"{source}: nested deeper than {max_depth} levels; flatten it")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) >= max_int:
            raise error(f"{source}: an integer has more than {limits.max_int_digits} digits; write a smaller number")


def _read(path: Path, limits: Limits, error: type[BadInput]) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(limits.max_bytes + 1)
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from exc
    return data


def _text(data: bytes | str, source: str, limits: Limits, error: type[BadInput]) -> str:
    if len(data) > limits.max_bytes:
        raise error(
            f"{source}: larger than {_size(limits.max_bytes)}, the most orchestrate-ext reads from such a file; "
            "is it the right file?"
        )
    if isinstance(data, str):
        text = data
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(
                f"{source}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); save it as UTF-8"
            ) from None
    return text.removeprefix(_BOM)


def _size(count: int) -> str:
    return f"{count // _MIB} MiB" if count >= _MIB else f"{count:,} bytes"


def _where(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""


def _check_events(text: str, source: str, limits: Limits, error: type[BadInput]) -> None:
    """Depth, expanded size and integer length of a YAML text, from its events (no node is built)."""
    max_depth = limits.max_depth if limits.max_depth is not None else 10_000
    anchors: dict[str, int] = {}
    frames: list[list[Any]] = []  # [anchor, values so far] of each open collection
    total = 0

    def add(count: int, line: int) -> None:
        nonlocal total
        total += count
        if frames:
            frames[-1][1] += count
        if limits.max_nodes and total > limits.max_nodes:
            raise error(
                f"{source}: at line {line}, the document grows past {limits.max_nodes:,} values once its "
                "aliases (*name) are expanded; write the values out or use fewer nested anchors"
            )

    def event_check(event: Any) -> None:
        line = event.start_mark.line + 1 if event.start_mark else 0
        if isinstance(event, yaml.AliasEvent):
            add(anchors.get(event.anchor or "", 1), line)  # an undefined alias is the composer's error
        elif isinstance(event, yaml.ScalarEvent):
            _check_scalar(event, source, limits, error, line)
            add(1, line)
            if event.anchor:
                anchors[event.anchor] = 1
        elif isinstance(event, _COLLECTION_STARTS):
            if len(frames) >= max_depth:
                raise error(f"{source}: at line {line}, nested deeper than {max_depth} levels; flatten it")
            add(1, line)
            frames.append([event.anchor, 1])
        elif isinstance(event, _COLLECTION_ENDS):
            anchor, size = frames.pop()
            if anchor:
                anchors[anchor] = size
            if frames:
                frames[-1][1] += size - 1  # the collection itself was counted when it started

    for event in yaml.parse(text, Loader=_SafeLoader):
        event_check(event)


def _check_scalar(event: Any, source: str, limits: Limits, error: type[BadInput], line: int) -> None:
    if len(event.value) <= limits.max_int_digits:
        return
    plain = not event.style and event.implicit[0]  # the C parser says '' for plain, the Python one None
    tag = _RESOLVER.resolve(yaml.ScalarNode, event.value, (True, False)) if plain else event.tag
    if tag == _INT_TAG:
        raise error(
            f"{source}: at line {line}, a number has {len(event.value)} characters, more than the "
            f"{limits.max_int_digits} accepted; write a smaller number (or quote it if it is text)"
        )
