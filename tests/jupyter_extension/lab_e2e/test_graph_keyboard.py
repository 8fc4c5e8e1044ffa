"""Issue 21: the graph by keyboard. One tab stop for all the nodes (roving tabindex), none on edges; the
arrow keys move between nodes; Enter or Space opens the node's card. axe stays at 0 serious/critical."""

from __future__ import annotations

import pytest

from tests.jupyter_extension.lab_e2e.lab import THEMES, Lab, axe_violations, open_panel, set_theme

pytestmark = pytest.mark.slow

GRAPH = "#orchestrate-panel .jp-Orchestrate-graph"


def focused_node(page) -> str | None:  # type: ignore[no-untyped-def]
    return page.evaluate("() => document.activeElement && document.activeElement.getAttribute('data-node-id')")


def test_nodes_are_one_tab_stop_arrows_move_and_enter_opens_the_card(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page = new_page()
    panel = open_panel(page)
    nodes = page.locator(f"{GRAPH} .jp-Orchestrate-graphNode")
    expect(nodes.first).to_be_visible(timeout=90_000)
    assert nodes.count() > 3
    # One tab stop for every node; no edge (and no React Flow node wrapper) is a tab stop.
    expect(page.locator(f"{GRAPH} .jp-Orchestrate-graphNode[tabindex='0']")).to_have_count(1)
    expect(page.locator(f"{GRAPH} .react-flow__edge[tabindex='0']")).to_have_count(0)
    expect(page.locator(f"{GRAPH} .react-flow__node[tabindex='0']")).to_have_count(0)

    # Tab from just before the graph lands on a node, not on an edge.
    page.locator(f"{GRAPH} .jp-Orchestrate-graphNode[tabindex='0']").focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    first = focused_node(page)
    assert first is not None

    # The arrow keys move between nodes (and the tab stop follows).
    visited = {first}
    for key in ("ArrowDown", "ArrowRight", "ArrowDown", "ArrowLeft", "ArrowUp"):
        page.keyboard.press(key)
        current = focused_node(page)
        assert current is not None, key
        visited.add(current)
    assert len(visited) >= 3, visited
    current = focused_node(page)
    expect(page.locator(f"{GRAPH} .jp-Orchestrate-graphNode[tabindex='0']")).to_have_attribute("data-node-id", current)

    # Enter opens the focused node's card; Space on another node opens its card.
    page.keyboard.press("Enter")
    expect(panel.locator(f".jp-Orchestrate-nodeCard[data-node-id='{current}']")).to_be_visible()
    page.locator(f"{GRAPH} .jp-Orchestrate-graphNode[data-node-id='{current}']").focus()
    page.keyboard.press("ArrowUp" if current != first else "ArrowDown")
    other = focused_node(page)
    assert other is not None and other != current
    page.keyboard.press(" ")
    expect(panel.locator(f".jp-Orchestrate-nodeCard[data-node-id='{other}']")).to_be_visible()

    for theme in THEMES:
        set_theme(page, theme)
        assert axe_violations(page, "#orchestrate-panel") == [], theme
