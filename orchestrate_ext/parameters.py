"""The one rule for run parameter names, wherever they are written.

A parameter reaches a notebook as an assignment papermill injects (``name = value``),
so its name must be a Python identifier that is not a keyword (``class = 1`` is a
``SyntaxError`` at run time). ``logical_date`` and ``run_id`` are set by
orchestrate-ext on every run (:data:`RESERVED_PARAMETERS`); a parameter of that name
would be overwritten, so it is refused instead of silently ignored.

Used by notebook metadata (``orchestrate.parameters``), node and orchestrate.yaml
schedules, ``orchestrate run --param`` and the REST API, so every entry point refuses
the same names with the same words.
"""

from __future__ import annotations

import keyword
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from orchestrate_ext.errors import BadInput

if TYPE_CHECKING:
    from orchestrate_ext.model import Node

RESERVED_PARAMETERS = ("logical_date", "run_id")
"""Parameters orchestrate-ext gives every notebook of a run itself."""

PARAMETER_NAMES = "parameter_names"
"""``Node.settings`` key: the names a node takes as parameters (a notebook's parameters cell), when it can tell."""


def parameter_name_problem(name: object) -> str | None:
    """What is wrong with ``name`` as a parameter name (a sentence naming it and the fix), or None."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        shown = repr(name) if len(repr(name)) <= 40 else repr(name)[:37] + "..."
        why = "a Python keyword" if isinstance(name, str) and keyword.iskeyword(name) else "not a Python identifier"
        return f"parameter name {shown} is {why}; use letters, digits and '_' (not starting with a digit), e.g. top_n"
    if name in RESERVED_PARAMETERS:
        return f"parameter '{name}' is set by orchestrate-ext on every run; choose another name"
    return None


def check_parameter_names(names: Iterable[object]) -> None:
    """Refuse the first bad name in ``names``.

    Raises:
        ValueError: the :func:`parameter_name_problem` of the first bad name (a pydantic
            validator turns it into a message naming the key).
    """
    for name in names:
        problem = parameter_name_problem(name)
        if problem is not None:
            raise ValueError(problem)


def check_run_parameters(nodes: Iterable[Node], parameters: Mapping[str, Any]) -> None:
    """Refuse a run parameter that no node of the run takes, before the run starts.

    A run's parameters go to every notebook of the run. One that no notebook declares would only
    reach papermill's "Passed unknown parameter" warning; it is a typo or a parameter of another
    notebook. Nothing is refused when a node of the run cannot tell what it takes (a notebook
    without a parameters cell) or when the run has no such node.

    Raises:
        BadInput: naming the parameter, the notebook(s) and the names they take, and the fix.
    """
    takers = [node for node in nodes if node.kind == "notebook"]
    declared: dict[str, list[str]] = {}
    for node in takers:
        names = node.settings.get(PARAMETER_NAMES)
        if names is None:
            return
        declared[node.path or node.id] = [str(name) for name in names]
    if not declared:
        return
    accepted = {name for names in declared.values() for name in names} | set(RESERVED_PARAMETERS)
    unknown = sorted(set(parameters) - accepted)
    if not unknown:
        return
    name = unknown[0]
    if len(declared) == 1:
        label, names = next(iter(declared.items()))
        has = ", ".join(names) if names else "none"
        raise BadInput(
            f"notebook '{label}' has no parameter '{name}' in its parameters cell (it has: {has}); "
            f"add `{name} = ...` to its cell tagged 'parameters', or leave the parameter out"
        )
    shown = "; ".join(f"'{label}' has {', '.join(names) or 'none'}" for label, names in sorted(declared.items())[:4])
    raise BadInput(
        f"parameter '{name}' is in no parameters cell of the run's notebooks ({shown}); "
        f"add `{name} = ...` to the cell tagged 'parameters' of the notebook that needs it, or leave the parameter out"
    )
