"""What a human-readable command prints, built once and drawn for a terminal or for a pipe.

A view builds a :class:`Screen`: lines of styled text and tables. :func:`draw`
writes it to a rich console:

* on a terminal, tables get a header rule and colours, and fit the width of
  the window (long cells fold);
* anywhere else (a pipe, a file, CI) the same content comes out plain and
  stable: no colour, no borders, columns separated by two spaces and padded to
  the widest cell, never wrapped or cut to a width, no trailing spaces.

The plain form is the contract for people who pipe the output into ``grep``;
scripts should read ``--json``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table as RichTable
from rich.text import Text

Cell = Text | str


@dataclass(frozen=True)
class Column:
    header: str
    justify: str = "left"
    """``left`` or ``right``."""
    fold: bool = False
    """May wrap on a narrow terminal (long node ids, errors); other columns keep to one line."""


@dataclass(frozen=True)
class Table:
    columns: Sequence[Column]
    rows: Sequence[Sequence[Cell]]
    indent: int = 0


@dataclass(frozen=True)
class Line:
    text: Cell
    indent: int = 0


@dataclass
class Screen:
    """The blocks of one view, in order."""

    blocks: list[Line | Table] = field(default_factory=list)

    def line(self, *parts: Cell | tuple[str, str], indent: int = 0) -> None:
        """A line from parts: plain text, :class:`Text`, or ``(text, style)``."""
        text = Text()
        for part in parts:
            if isinstance(part, tuple):
                text.append(part[0], style=part[1])
            else:
                text.append(part)
        self.blocks.append(Line(text, indent))

    def blank(self) -> None:
        if self.blocks and not (isinstance(self.blocks[-1], Line) and not str(self.blocks[-1].text)):
            self.blocks.append(Line(""))

    def table(self, columns: Sequence[Column], rows: Iterable[Sequence[Cell]], *, indent: int = 0) -> None:
        self.blocks.append(Table(list(columns), [list(row) for row in rows], indent))

    def extend(self, other: Screen) -> None:
        self.blocks.extend(other.blocks)

    def redacted(self, redact: Callable[[str], str]) -> Screen:
        """The same screen with ``redact`` applied to every text (a changed text keeps its base style only)."""

        def cell(value: Cell) -> Cell:
            plain = _plain(value)
            clean = redact(plain)
            if clean == plain:
                return value
            return Text(clean, style=value.style) if isinstance(value, Text) else clean

        blocks: list[Line | Table] = [
            Line(cell(block.text), block.indent)
            if isinstance(block, Line)
            else Table(block.columns, [[cell(value) for value in row] for row in block.rows], block.indent)
            for block in self.blocks
        ]
        return Screen(blocks)


def styled(text: str, style: str = "") -> Text:
    return Text(text, style=style)


def _plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else cell


def plain_lines(screen: Screen) -> list[str]:
    """The screen as plain text lines (see the module docstring)."""
    lines: list[str] = []
    for block in screen.blocks:
        if isinstance(block, Line):
            for part in _plain(block.text).split("\n"):
                lines.append((" " * block.indent + part).rstrip() if part else "")
            continue
        cells = [[column.header for column in block.columns]] + [[_plain(cell) for cell in row] for row in block.rows]
        widths = [max(cell_len(row[index]) for row in cells) for index in range(len(block.columns))]
        for row in cells:
            parts = []
            for index, column in enumerate(block.columns):
                value = row[index].replace("\n", " ")
                pad = " " * (widths[index] - cell_len(value))
                parts.append(pad + value if column.justify == "right" else value + pad)
            lines.append((" " * block.indent + "  ".join(parts)).rstrip())
    return lines


def rich_renderable(screen: Screen) -> RenderableType:
    """The screen for a terminal: coloured, tables with a header rule."""
    parts: list[RenderableType] = []
    for block in screen.blocks:
        if isinstance(block, Line):
            text = block.text if isinstance(block.text, Text) else Text(block.text)
            parts.append(Padding(text, (0, 0, 0, block.indent), expand=False) if block.indent else text)
            continue
        table = RichTable(
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            padding=(0, 1, 0, 0),
            header_style="bold",
            expand=False,
        )
        for column in block.columns:
            table.add_column(
                column.header,
                justify="right" if column.justify == "right" else "left",
                no_wrap=not column.fold,
                overflow="fold" if column.fold else "ellipsis",
            )
        for row in block.rows:
            table.add_row(*row)
        parts.append(Padding(table, (0, 0, 0, block.indent), expand=False) if block.indent else table)
    return Group(*parts)


def draw(screen: Screen, console: Console) -> None:
    """Write ``screen`` to ``console``: rich on a terminal, plain lines elsewhere."""
    if console.is_terminal:
        console.print(rich_renderable(screen))
        return
    for line in plain_lines(screen):
        console.out(line, highlight=False)


def stdout_console() -> Console:
    """The console views are drawn on: standard output; a pipe gets plain text (never wrapped)."""
    return Console(soft_wrap=True, highlight=False)
