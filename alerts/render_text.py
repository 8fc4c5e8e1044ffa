"""Alerts as plain text and as an HTML e-mail."""

from __future__ import annotations

import html
from collections.abc import Callable

from alerts.content import AlertContent, NodeItem

MAX_ITEMS = 20
Redact = Callable[[str | None], str]


def subject(content: AlertContent) -> str:
    """``[orchestrate] Failed: stg_orders — pipeline, logical date 2024-01-31``."""
    where = f" — {content.run.scope}, logical date {content.run.logical_date[:10]}" if content.run else ""
    return f"[orchestrate] {content.title}{where}"


def _kind_line(item: NodeItem) -> str:
    kind = item.kind if item.kind == item.resource_type else f"{item.kind} {item.resource_type}"
    owner = f", owner {item.owner}" if item.owner else ""
    return f"{item.name} ({item.node_id}) — {kind}{owner}"


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def plain_text(content: AlertContent, redact: Redact) -> str:
    """The whole alert as text: the e-mail's plain part and the webhook's fallback."""
    lines: list[str] = []
    if content.note:
        lines += [content.note, ""]
    lines.append(content.title)
    if content.run:
        lines += [
            "",
            f"Pipeline: {content.run.scope}",
            f"Run: {content.run.run_id} (logical date {content.run.logical_date})",
        ]
        if content.run.status:
            lines.append(f"Run status: {content.run.status}")
    if content.counts:
        lines.append("Nodes: " + ", ".join(f"{count} {status}" for status, count in sorted(content.counts.items())))
    detailed = len(content.items) == 1
    for item in content.items[:MAX_ITEMS]:
        lines += ["", "Node: " + _kind_line(item)]
        if item.status:
            lines.append(f"Status: {item.status}" + (f" (try {item.try_number})" if item.try_number else ""))
        if item.sla:
            lines.append(f"SLA: {item.sla}; deadline {item.deadline} — {item.sla_state}")
        if item.blockers:
            lines.append("Held back by:")
            lines += [f"  - {blocker.name}: {blocker.state}{_detail(blocker.detail)}" for blocker in item.blockers]
        if item.error:
            error = item.error if detailed else item.error.strip().splitlines()[0]
            lines += ["Error:", _indent(redact(error))]
        if item.log_tail and detailed:
            lines += ["Last log lines:", _indent(redact(item.log_tail))]
        if item.skipped:
            lines.append(f"Skipped downstream ({len(item.skipped)}): " + ", ".join(item.skipped[:MAX_ITEMS]))
        if item.exposures:
            lines.append(f"Exposures hit ({len(item.exposures)}): " + ", ".join(item.exposures[:MAX_ITEMS]))
        if item.output_path:
            lines.append(f"Output notebook: {item.output_path}")
        if item.output_link:
            lines.append(f"Open in JupyterLab: {item.output_link}")
    if len(content.items) > MAX_ITEMS:
        rest = ", ".join(item.name for item in content.items[MAX_ITEMS:])
        lines.append(f"\n… and {len(content.items) - MAX_ITEMS} more: {rest}")
    if content.updates:
        lines += ["", "Updates:"] + [f"  - {update}" for update in content.updates]
    if content.commands:
        lines += ["", "Where to look:"] + [f"  {command}" for command in content.commands]
    return redact("\n".join(lines)) + "\n"


def _detail(detail: str) -> str:
    return f" ({detail})" if detail else ""


_STYLE_PRE = (
    "background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:8px;"
    "font-family:Menlo,Consolas,monospace;font-size:12px;white-space:pre-wrap"
)
_COLOURS = {"failure": "#d1242f", "digest": "#d1242f", "reminder": "#d1242f", "repeat": "#d1242f"}
_COLOURS |= {"recovery": "#1a7f37", "sla_miss": "#bf8700", "retry": "#bf8700", "test": "#0969da"}
_COLOURS |= {"test_warning": "#bf8700", "config_error": "#d1242f", "config_fixed": "#1a7f37"}


def html_body(content: AlertContent, redact: Redact) -> str:
    """The HTML part of the e-mail; every value is escaped."""

    def esc(text: str | None) -> str:
        return html.escape(redact(text or ""))

    colour = _COLOURS.get(content.kind, "#57606a")
    parts = ['<div style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#1f2328">']
    if content.note:
        parts.append(f'<p style="color:#57606a"><em>{esc(content.note)}</em></p>')
    parts.append(f'<h2 style="color:{colour};margin:0 0 8px">{esc(content.title)}</h2>')
    rows: list[tuple[str, str]] = []
    if content.run:
        rows += [("Pipeline", esc(content.run.scope)), ("Run", f"<code>{esc(content.run.run_id)}</code>")]
        rows.append(("Logical date", esc(content.run.logical_date)))
        if content.run.status:
            rows.append(("Run status", esc(content.run.status)))
    if content.counts:
        rows.append(("Nodes", esc(", ".join(f"{n} {status}" for status, n in sorted(content.counts.items())))))
    if rows:
        parts.append('<table style="border-collapse:collapse">')
        parts += [f'<tr><td style="padding:2px 12px 2px 0;color:#57606a">{k}</td><td>{v}</td></tr>' for k, v in rows]
        parts.append("</table>")
    detailed = len(content.items) == 1
    for item in content.items[:MAX_ITEMS]:
        parts.append(f'<h3 style="margin:16px 0 4px">{esc(item.name)} <small style="color:#57606a">')
        parts.append(f"<code>{esc(item.node_id)}</code></small></h3>")
        kind = item.kind if item.kind == item.resource_type else f"{item.kind} {item.resource_type}"
        meta = [esc(kind)] + ([f"owner {esc(item.owner)}"] if item.owner else [])
        if item.status:
            meta.append(esc(item.status) + (f" (try {item.try_number})" if item.try_number else ""))
        parts.append(f'<p style="margin:0;color:#57606a">{" · ".join(meta)}</p>')
        if item.sla:
            parts.append(
                f"<p><b>SLA</b> {esc(item.sla)}; deadline {esc(item.deadline)} — <b>{esc(item.sla_state)}</b></p>"
            )
        if item.blockers:
            parts.append("<p><b>Held back by</b></p><ul>")
            parts += [
                f"<li><code>{esc(b.name)}</code>: {esc(b.state)}{esc(_detail(b.detail))}</li>" for b in item.blockers
            ]
            parts.append("</ul>")
        if item.error:
            error = item.error if detailed else item.error.strip().splitlines()[0]
            parts.append(f'<p><b>Error</b></p><pre style="{_STYLE_PRE}">{esc(error)}</pre>')
        if item.log_tail and detailed:
            parts.append(f'<p><b>Last log lines</b></p><pre style="{_STYLE_PRE}">{esc(item.log_tail)}</pre>')
        if item.skipped:
            names = ", ".join(f"<code>{esc(name)}</code>" for name in item.skipped[:MAX_ITEMS])
            parts.append(f"<p><b>Skipped downstream ({len(item.skipped)})</b>: {names}</p>")
        if item.exposures:
            names = ", ".join(f"<code>{esc(name)}</code>" for name in item.exposures[:MAX_ITEMS])
            parts.append(f"<p><b>Exposures hit ({len(item.exposures)})</b>: {names}</p>")
        if item.output_path:
            link = f' — <a href="{esc(item.output_link)}">open in JupyterLab</a>' if item.output_link else ""
            parts.append(f"<p><b>Output notebook</b> <code>{esc(item.output_path)}</code>{link}</p>")
    if len(content.items) > MAX_ITEMS:
        rest = ", ".join(f"<code>{esc(item.name)}</code>" for item in content.items[MAX_ITEMS:])
        parts.append(f"<p>… and {len(content.items) - MAX_ITEMS} more: {rest}</p>")
    if content.updates:
        parts.append("<p><b>Updates</b></p><ul>" + "".join(f"<li>{esc(u)}</li>" for u in content.updates) + "</ul>")
    if content.commands:
        commands = "".join(f"<li><code>{esc(command)}</code></li>" for command in content.commands)
        parts.append(f'<p style="color:#57606a">Where to look:</p><ul>{commands}</ul>')
    parts.append("</div>")
    return "\n".join(parts)
