"""A view drawn for a pipe (plain, aligned, stable) and for a terminal (colour, rules)."""

from __future__ import annotations

import io

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from orchestrate_ext.cli.schedule_views import TICK_MARKS
from orchestrate_ext.cli.screen import Column, Screen, draw, plain_lines
from orchestrate_ext.marks import NODE_MARKS, RUN_MARKS, STALE_MARK


def sample() -> Screen:
    screen = Screen()
    screen.line(("run ", "bold"), "r1  ", Text("✗ failed", style="red"))
    screen.blank()
    screen.blank()
    screen.table(
        [Column("NODE"), Column("TOOK", justify="right"), Column("NOTE", fold=True)],
        [["model.shop.fct_orders", "1 m 12 s", Text("✗ boom", style="red")], ["a", "0.4 s", ""]],
        indent=2,
    )
    screen.line("error line one\nerror line two", indent=4)
    return screen


def test_plain_output_is_aligned_without_colour_or_trailing_spaces() -> None:
    assert plain_lines(sample()) == [
        "run r1  ✗ failed",
        "",
        "  NODE                       TOOK  NOTE",
        "  model.shop.fct_orders  1 m 12 s  ✗ boom",
        "  a                         0.4 s",
        "    error line one",
        "    error line two",
    ]


def test_a_pipe_gets_the_plain_lines_and_a_terminal_gets_colour() -> None:
    piped = io.StringIO()
    draw(sample(), Console(file=piped, width=30))
    assert piped.getvalue().splitlines() == plain_lines(sample()), "never wrapped to the console's width"
    terminal = io.StringIO()
    draw(sample(), Console(file=terminal, width=100, force_terminal=True, color_system="standard"))
    assert "\x1b[31m" in terminal.getvalue() and "─" in terminal.getvalue()


def test_every_mark_is_one_cell_wide_so_plain_columns_align_for_any_tool() -> None:
    marks = [mark for mark, _ in [*NODE_MARKS.values(), *RUN_MARKS.values(), *TICK_MARKS.values(), STALE_MARK]]
    assert [mark for mark in marks if cell_len(mark) != 1 or len(mark) != 1] == []
