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
from collections.abc import Iterable

RESERVED_PARAMETERS = ("logical_date", "run_id")
"""Parameters orchestrate-ext gives every notebook of a run itself."""


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
