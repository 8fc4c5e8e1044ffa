"""The pipeline graph in the sidebar: it stays drawn, stays readable, and explains itself.

Issue 13, items 3 and 6, and the graph's views: legend, search, upstream and
downstream highlight, tests collapsed into their model, freshness and overdue
markers, and each node's recent history.
"""

from __future__ import annotations

import pytest

from tests.jupyter_extension.lab_e2e.lab import Lab, open_panel

pytestmark = pytest.mark.slow

HIDDEN_NODES = """panel => [...panel.querySelectorAll('.react-flow__node')]
    .filter(node => getComputedStyle(node).visibility === 'hidden'
        || node.getBoundingClientRect().width === 0).length"""

SMALLEST_TEXT = """panel => {
    const viewport = panel.querySelector('.react-flow__viewport');
    const scale = new DOMMatrixReadOnly(getComputedStyle(viewport).transform).a;
    const names = [...panel.querySelectorAll('.jp-Orchestrate-graphNodeName')];
    return Math.min(...names.map(name => parseFloat(getComputedStyle(name).fontSize) * scale));
}"""

CUT_NAMES = """panel => [...panel.querySelectorAll('.jp-Orchestrate-graphNodeName')]
    .filter(name => name.scrollWidth > name.clientWidth + 1 || name.scrollHeight > name.clientHeight + 1)
    .map(name => name.textContent)"""


WATCH_HIDDEN = """() => {
    window.orchestrateHiddenNodes = 0;
    const check = element => {
        const node = element.classList && element.classList.contains('react-flow__node');
        if (node && element.style.visibility === 'hidden') {
            window.orchestrateHiddenNodes++;
        }
    };
    new MutationObserver(records => {
        for (const record of records) {
            check(record.target);
            record.addedNodes.forEach(added => {
                check(added);
                if (added.querySelectorAll) added.querySelectorAll('.react-flow__node').forEach(check);
            });
        }
    }).observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['style']});
}"""


def test_the_graph_is_drawn_after_every_tab_switch(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    """React Flow hides a node until it has measured it, and measures again whenever the node objects are
    new (every status poll); a measurement that never comes left the graph blank (nodes hidden, no
    edges). Nodes that carry their size are never hidden, not even for a frame."""
    from playwright.sync_api import expect

    page = new_page()
    panel = open_panel(page)
    expect(panel.locator(".react-flow__node").first).to_be_visible()
    page.evaluate(WATCH_HIDDEN)
    for _ in range(6):
        panel.get_by_role("tab", name="Runs").click()
        expect(panel.get_by_role("list", name="runs")).to_be_attached()
        panel.get_by_role("tab", name="Pipeline").click()
        expect(panel.locator(".react-flow__node").first).to_be_visible()
        panel.get_by_title("Reload the graph").click()
        page.wait_for_timeout(600)
        assert panel.evaluate(HIDDEN_NODES) == 0
        expect(panel.locator(".react-flow__edge").first).to_be_attached()
    assert page.evaluate("() => window.orchestrateHiddenNodes") == 0


def test_the_sidebar_graph_is_readable_at_its_default_width(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page = new_page()
    panel = open_panel(page)
    expect(panel.locator(".react-flow__node").first).to_be_visible()
    page.wait_for_timeout(500)
    assert panel.evaluate(SMALLEST_TEXT) >= 10.0
    panel.get_by_label("show tests").check()
    expect(panel.locator(".jp-Orchestrate-graphNode[data-node-id^='test.']").first).to_be_visible()
    page.wait_for_timeout(500)
    assert panel.evaluate(SMALLEST_TEXT) >= 10.0
    assert panel.evaluate(CUT_NAMES) == []
