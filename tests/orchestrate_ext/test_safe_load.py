"""The safe loader: size, alias expansion, depth, integer and UTF-8 limits, each a message naming the input.

The command-line side (exit 2, no traceback) is in ``tests/test_cli_hostile_input.py``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from orchestrate_ext.errors import BadInput, ConfigError, InputError, ManifestError
from orchestrate_ext.safe_load import (
    CONFIG_LIMITS,
    MANIFEST_LIMITS,
    REQUEST_LIMITS,
    Limits,
    check_structure,
    load_json,
    load_json_file,
    load_yaml,
    load_yaml_file,
)
from tests.test_cli_hostile_input import alias_bomb

# -- YAML


def test_an_alias_bomb_is_refused_in_linear_time() -> None:
    bomb = "notebooks: {include: ['nb/*.ipynb']}\n" + alias_bomb()
    assert len(bomb) < 700
    started = time.perf_counter()
    with pytest.raises(InputError, match=r"orchestrate\.yaml: at line \d+, the document grows past 100,000 values"):
        load_yaml(bomb, "orchestrate.yaml")
    assert time.perf_counter() - started < 5  # refused on the event stream, not after expanding


def test_anchors_and_merge_keys_within_the_limit_still_work() -> None:
    text = "base: &base {retries: 1, timeout: 5m}\nnode: {<<: *base, retries: 2}\nboth: [*base, *base]\n"
    assert load_yaml(text, "x.yaml") == {
        "base": {"retries": 1, "timeout": "5m"},
        "node": {"retries": 2, "timeout": "5m"},
        "both": [{"retries": 1, "timeout": "5m"}] * 2,
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 20_000 + "]" * 20_000, "not valid YAML|nested deeper"),
        ("".join("  " * depth + "a:\n" for depth in range(200)), r"at line 65, nested deeper than 64 levels"),
        ("a: " + "9" * 1000, r"a number has 1000 characters, more than the 32 accepted"),
        ("a: 0x" + "f" * 40, r"a number has 42 characters"),
        ("a: !!int '" + "1" * 100 + "'", r"a number has 100 characters"),
        ("a: !!python/object/apply:os.system [echo]", r"not valid YAML at line 1"),
        ("a: *nowhere", r"found undefined alias"),
        ("a: [1, 2", r"not valid YAML"),
    ],
)
def test_hostile_yaml_is_a_message_naming_the_file(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        load_yaml(text, "/p/orchestrate.yaml")
    assert str(caught.value).startswith("/p/orchestrate.yaml")


def test_long_strings_and_hashes_are_not_numbers() -> None:
    text = "sha: 0123456789abcdef0123456789abcdef01234567\nquoted: '" + "9" * 100 + "'\n"
    assert load_yaml(text, "x.yaml")["quoted"] == "9" * 100


def test_size_and_encoding_are_checked_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "9" * 5_000_000)
    with pytest.raises(InputError, match=rf"{big}: larger than 1 MiB"):
        load_yaml_file(big)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("owner: J\xfcrgen\n".encode("latin-1"))
    with pytest.raises(InputError, match=rf"{latin}: not UTF-8 text \(byte 0xfc at offset 8\); save it as UTF-8"):
        load_yaml_file(latin)
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert load_yaml_file(bom) == {"a": 1}
    with pytest.raises(InputError, match=r"cannot read .*missing\.yaml"):
        load_yaml_file(tmp_path / "missing.yaml")


def test_errors_are_bad_input_and_config_errors() -> None:
    assert issubclass(InputError, ConfigError) and issubclass(InputError, BadInput)
    with pytest.raises(ManifestError):
        load_yaml("a: [", "manifest", error=ManifestError)


# -- JSON


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, r"nested too deeply to read"),
        ('{"a": ' * 40 + "1" + "}" * 40, r"nested deeper than 32 levels"),
        ('{"retries": -' + "1" * 32 + "0}", r"an integer has 33 digits, more than the 32 accepted"),
        ('{"retries": ' + "1" * 5000 + "}", r"an integer has 5000 digits, more than the 32 accepted"),
        ("[NaN]", r"NaN is not plain JSON"),
        ("[Infinity]", r"Infinity is not plain JSON"),
        ('{"a": 1', r"not valid JSON"),
        (b'{"a": "\xff"}', r"not UTF-8 text \(byte 0xff at offset 7\)"),
        ("[" + "0," * 30_000 + "0]", r"holds more than 20,000 values"),
    ],
)
def test_hostile_json_request_bodies(text: str | bytes, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        load_json(text, "the request body", REQUEST_LIMITS, constants=False)
    assert str(caught.value).startswith("the request body:")


def test_json_within_limits_and_files(tmp_path: Path) -> None:
    assert load_json('{"a": [1, 2.5, "x", null, true]}', "body") == {"a": [1, 2.5, "x", None, True]}
    assert load_json('{"a": ' + "9" * 32 + "}", "body") == {"a": int("9" * 32)}
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"nodes": {f"model.p.m{i}": {"depth": [[[[i]]]]} for i in range(1000)}}))
    assert len(load_json_file(manifest, MANIFEST_LIMITS, ManifestError)["nodes"]) == 1000
    manifest.write_text("[" * 5000 + "]" * 5000)
    with pytest.raises(ManifestError, match=rf"{manifest}: nested too deeply"):
        load_json_file(manifest, MANIFEST_LIMITS, ManifestError)
    tiny = Limits(max_bytes=10)
    with pytest.raises(InputError, match=r"larger than 10 bytes"):
        load_json_file(manifest, tiny)


def test_check_structure_walks_loaded_values_without_recursion() -> None:
    deep: list[object] = []
    current = deep
    for _ in range(50_000):
        inner: list[object] = []
        current.append(inner)
        current = inner
    with pytest.raises(InputError, match=r"meta: nested deeper than 64 levels"):
        check_structure(deep, "meta", CONFIG_LIMITS)
    with pytest.raises(InputError, match=r"more than 32 digits"):
        check_structure({"a": [10**40]}, "meta", CONFIG_LIMITS)
    check_structure({"a": [True, 1.5e300, 10**31]}, "meta", CONFIG_LIMITS)
