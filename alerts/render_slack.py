"""Alerts as Slack Block Kit blocks with a plain-text fallback.

Slack's limits are respected: a header of at most 150 characters, section
texts of at most 3,000, at most 50 blocks; user text is escaped for mrkdwn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alerts.content import KIND_DIGEST, AlertContent, NodeItem

Redact = Callable[[str | None], str]
Mention = Callable[[str], str]

MAX_ITEMS = 10
_SECTION = 2900


def escape(text: str) -> str:
    """mrkdwn control characters (``&``, ``<``, ``>``) as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str, limit: int) -> str:
    text = text.strip("\n")
    if len(text) > limit:
        text = "…" + text[-limit:]
    return "```" + escape(text).replace("```", "ʼʼʼ") + "```"


def _section(text: str) -> dict[str, Any]:
    if len(text) > _SECTION:
        text = text[: _SECTION - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(lines: list[str]) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": line[:_SECTION]} for line in lines[:10]]}


def fallback_text(content: AlertContent, redact: Redact) -> str:
    """The notification text (shown where blocks are not)."""
    text = content.title
    if content.run:
        text += f" — {content.run.scope}, run {content.run.run_id}"
    if len(content.items) == 1 and content.items[0].error:
        lines = [line.strip() for line in content.items[0].error.splitlines() if line.strip()]
        text += ": " + " ".join(lines[:2])[:300]
    return redact(text)


def blocks(content: AlertContent, redact: Redact, mention: Mention) -> list[dict[str, Any]]:
    """The Block Kit blocks of one alert; ``mention`` turns an owner into ``<@U…>`` where it can."""

    def esc(text: str | None) -> str:
        return escape(redact(text or ""))

    result: list[dict[str, Any]] = []
    if content.note:
        result.append(_context([f"_{esc(content.note)}_"]))
    result.append(
        {"type": "header", "text": {"type": "plain_text", "text": redact(content.title)[:150], "emoji": True}}
    )
    if content.run:
        fields = [
            f"*Pipeline*\n{esc(content.run.scope)}",
            f"*Run*\n`{esc(content.run.run_id)}`",
            f"*Logical date*\n{esc(content.run.logical_date)}",
        ]
        if content.run.status:
            fields.append(f"*Run status*\n{esc(content.run.status)}")
        if content.counts:
            fields.append("*Nodes*\n" + esc(", ".join(f"{n} {s}" for s, n in sorted(content.counts.items()))))
        if content.owners:
            fields.append("*Owner*\n" + ", ".join(mention(owner) for owner in content.owners))
        result.append({"type": "section", "fields": [{"type": "mrkdwn", "text": f[:1900]} for f in fields[:10]]})
    elif content.owners:  # about no run (a node left out): still tell its owner
        result.append(_context(["*Owner* " + ", ".join(mention(owner) for owner in content.owners)]))
    detailed = len(content.items) == 1 and content.kind != KIND_DIGEST
    for item in content.items[:MAX_ITEMS]:
        result += _item_blocks(item, detailed, redact)
    if len(content.items) > MAX_ITEMS:
        rest = ", ".join(f"`{esc(item.name)}`" for item in content.items[MAX_ITEMS:])
        result.append(_section(f"… and {len(content.items) - MAX_ITEMS} more: {rest}"))
    if content.updates:
        result.append(_context([esc(update) for update in content.updates]))
    if content.commands:
        result.append(_context(["Where to look: " + " · ".join(f"`{esc(c)}`" for c in content.commands)]))
    return result[:50]


def _item_blocks(item: NodeItem, detailed: bool, redact: Redact) -> list[dict[str, Any]]:
    def esc(text: str | None) -> str:
        return escape(redact(text or ""))

    kind = item.kind if item.kind == item.resource_type else f"{item.kind} {item.resource_type}"
    head = f"*{esc(item.name)}*  `{esc(item.node_id)}`\n{esc(kind)}"
    if item.status:
        head += f" · {esc(item.status)}" + (f" (try {item.try_number})" if item.try_number else "")
    if not detailed and item.error:
        head += "\n" + _code(redact(item.error.strip().splitlines()[0]), 300)
    out = [_section(head)]
    if item.sla:
        text = f"*SLA* {esc(item.sla)} · deadline {esc(item.deadline)} · *{esc(item.sla_state)}*"
        if item.blockers:
            text += "\n*Held back by*\n" + "\n".join(
                f"• `{esc(b.name)}` {esc(b.state)}" + (f" ({esc(b.detail)})" if b.detail else "") for b in item.blockers
            )
        out.append(_section(text))
    if detailed and item.error:
        out.append(_section("*Error*\n" + _code(redact(item.error), 2600)))
    if detailed and item.log_tail:
        out.append(_section("*Last log lines*\n" + _code(redact(item.log_tail), 2600)))
    if item.skipped:
        names = ", ".join(f"`{esc(name)}`" for name in item.skipped[:25])
        more = f" and {len(item.skipped) - 25} more" if len(item.skipped) > 25 else ""
        out.append(_section(f"*Skipped downstream ({len(item.skipped)})*: {names}{more}"))
    if item.exposures:
        names = ", ".join(f"`{esc(name)}`" for name in item.exposures[:25])
        out.append(_section(f"*Exposures hit ({len(item.exposures)})*: {names}"))
    if item.output_path:
        link = f" · <{item.output_link}|open in JupyterLab>" if item.output_link else ""
        out.append(_context([f"Output notebook: `{esc(item.output_path)}`{link}"]))
    return out
