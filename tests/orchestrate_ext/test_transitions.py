"""The transition table: every pair checked, and random event sequences driven through it (Hypothesis)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrate_ext.errors import IllegalTransition, OrchestrateError
from orchestrate_ext.model import AttemptStatus, NodeStatus, RunStatus
from orchestrate_ext.transitions import (
    ATTEMPT_MOVES,
    NODE_MOVES,
    RUN_MOVES,
    check_attempt,
    check_node,
    check_run,
    is_legal,
)


def test_every_status_has_a_row() -> None:
    assert set(RUN_MOVES) == set(RunStatus)
    assert set(NODE_MOVES) == set(NodeStatus)
    assert set(ATTEMPT_MOVES) == set(AttemptStatus)


@pytest.mark.parametrize(("old", "new"), list(itertools.product(RunStatus, RunStatus)))
def test_a_run_move_is_accepted_exactly_when_the_table_has_it(old: RunStatus, new: RunStatus) -> None:
    if old == new or new in RUN_MOVES[old]:
        assert check_run("r1", old, new) is new
    else:
        with pytest.raises(IllegalTransition) as caught:
            check_run("r1", old, new)
        assert f"run r1: cannot move from '{old}' to '{new}'" in str(caught.value)
        assert isinstance(caught.value, OrchestrateError)


def test_the_moves_a_user_sees() -> None:
    assert is_legal(RUN_MOVES, RunStatus.QUEUED, RunStatus.CANCELLED)  # cancelled while queued
    assert not is_legal(RUN_MOVES, RunStatus.QUEUED, RunStatus.SUCCESS)  # a run that never started did not succeed
    assert not is_legal(RUN_MOVES, RunStatus.SUCCESS, RunStatus.QUEUED)
    assert not is_legal(NODE_MOVES, NodeStatus.SUCCESS, NodeStatus.PENDING)  # a success stands
    assert not is_legal(NODE_MOVES, NodeStatus.PENDING, NodeStatus.SUCCESS)  # nothing succeeds without running
    assert not is_legal(ATTEMPT_MOVES, AttemptStatus.FAILED, AttemptStatus.SUCCESS)
    with pytest.raises(IllegalTransition, match="none: it is final"):
        check_attempt("r1/n#1", AttemptStatus.CRASHED, AttemptStatus.RUNNING)


NODE_EVENTS = {
    "queue": NodeStatus.QUEUED,
    "wait_for_resource": NodeStatus.WAITING,
    "start": NodeStatus.RUNNING,
    "succeed": NodeStatus.SUCCESS,
    "warn": NodeStatus.WARNED,
    "fail": NodeStatus.FAILED,
    "retry_later": NodeStatus.UP_FOR_RETRY,
    "reuse": NodeStatus.REUSED,
    "parent_failed": NodeStatus.UPSTREAM_FAILED,
    "cancel": NodeStatus.CANCELLED,
    "gone": NodeStatus.SKIPPED,
    "reset": NodeStatus.PENDING,
}


class NodeModel:
    """One node driven only through the table: a refused event leaves it as it was."""

    def __init__(self) -> None:
        self.status = NodeStatus.PENDING
        self.ran = False
        self.history = [self.status]

    def apply(self, event: str) -> bool:
        new = NODE_EVENTS[event]
        try:
            self.status = check_node("r1/n", self.status, new)
        except IllegalTransition:
            return False
        if new == NodeStatus.RUNNING:
            self.ran = True
        elif new in (NodeStatus.PENDING, NodeStatus.UP_FOR_RETRY):
            self.ran = False
        self.history.append(self.status)
        return True


@given(st.lists(st.sampled_from(sorted(NODE_EVENTS)), max_size=40))
def test_random_node_event_sequences_keep_the_invariants(events: list[str]) -> None:
    node = NodeModel()
    for event in events:
        before = node.status
        accepted = node.apply(event)
        assert accepted == is_legal(NODE_MOVES, before, NODE_EVENTS[event])
        if not accepted:
            assert node.status == before
        if node.status in (NodeStatus.SUCCESS, NodeStatus.WARNED):
            assert before in (NodeStatus.RUNNING, node.status)  # only a running try produces a result
    done = [status for status in node.history if status.is_done]
    if done:  # once a node succeeded, it stays as it is
        first = node.history.index(done[0])
        assert set(node.history[first:]) == {done[0]}


@given(st.lists(st.sampled_from(list(RunStatus)), max_size=30))
def test_random_run_sequences_never_finish_a_run_that_never_ran(targets: list[RunStatus]) -> None:
    status = RunStatus.QUEUED
    ran = False
    for target in targets:
        try:
            status = check_run("r1", status, target)
        except IllegalTransition:
            continue
        ran = ran or status == RunStatus.RUNNING
        if status in (RunStatus.SUCCESS, RunStatus.FAILED):
            assert ran
        assert status != RunStatus.QUEUED or not ran  # nothing goes back to the queue


@given(st.lists(st.sampled_from(list(AttemptStatus)), min_size=1, max_size=20))
def test_an_attempt_ends_once(targets: list[AttemptStatus]) -> None:
    status = AttemptStatus.RUNNING
    ends = 0
    for target in targets:
        try:
            new = check_attempt("r1/n#1", status, target)
        except IllegalTransition:
            assert status != AttemptStatus.RUNNING or target == AttemptStatus.RUNNING
            continue
        if new != status:
            ends += 1
        status = new
    assert ends <= 1
