"""The core's tables: the ``runs``, ``schedules`` and ``resources`` components and their migrations.

Each step migrates a component from version N to N+1 on both backends (see
:mod:`orchestrate_ext.store.sql` for the macros). Never edit a shipped step:
add one. Steps 1 and 2 of ``runs`` and step 1 of ``schedules`` shipped for
SQLite before PostgreSQL existed; their SQLite expansion is exactly what
shipped.
"""

from __future__ import annotations

from orchestrate_ext.store.sql import POSTGRESQL, SQLITE, Component

RUNS = Component(
    "runs",
    (
        """
        CREATE TABLE runs (
            run_id       TEXT PRIMARY KEY,
            status       TEXT NOT NULL,
            created_at   {time} NOT NULL,
            started_at   {time},
            finished_at  {time},
            logical_date {time} NOT NULL,
            trigger      TEXT NOT NULL,
            selection    TEXT,
            schedule     TEXT
        );
        CREATE INDEX runs_by_creation ON runs (created_at);
        CREATE TABLE run_nodes (
            run_id      TEXT NOT NULL REFERENCES runs (run_id),
            node_id     TEXT NOT NULL,
            kind        TEXT NOT NULL,
            status      TEXT NOT NULL,
            started_at  {time},
            finished_at {time},
            error       TEXT,
            PRIMARY KEY (run_id, node_id)
        );
        CREATE TABLE attempts (
            run_id      TEXT NOT NULL REFERENCES runs (run_id),
            node_id     TEXT NOT NULL,
            try_number  INTEGER NOT NULL,
            status      TEXT NOT NULL,
            started_at  {time} NOT NULL,
            finished_at {time},
            error       TEXT,
            log_path    TEXT,
            output_path TEXT,
            PRIMARY KEY (run_id, node_id, try_number)
        )
        """,
        # 2: who executes a run (orchestrate_ext.execution.claims): the owning process, a fencing
        # epoch bumped by every claim, its heartbeat, a cancel request from another process; the try a
        # node state belongs to; where each attempt ran.
        """
        ALTER TABLE runs ADD COLUMN owner TEXT;
        ALTER TABLE runs ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE runs ADD COLUMN heartbeat_at {time};
        ALTER TABLE runs ADD COLUMN cancel_requested_at {time};
        ALTER TABLE run_nodes ADD COLUMN try_number INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE attempts ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE attempts ADD COLUMN host TEXT;
        ALTER TABLE attempts ADD COLUMN pid INTEGER;
        CREATE INDEX runs_by_status ON runs (status);
        CREATE INDEX runs_by_schedule ON runs (schedule, logical_date);
        CREATE INDEX attempts_running ON attempts (run_id) WHERE status = 'running';
        CREATE INDEX run_nodes_by_node ON run_nodes (node_id, status)
        """,
        # 3: a run's parameters and its resumptions (the first start is kept); the order of a run's nodes
        # (SQLite's rowid gave it before) and what a waiting node waits for; the worker a try ran on; the
        # newest state and success of every node, kept current by every state write (the history views
        # read it in one query).
        (
            """
        ALTER TABLE runs ADD COLUMN parameters TEXT;
        ALTER TABLE runs ADD COLUMN resumed_at {time};
        ALTER TABLE runs ADD COLUMN resumptions INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE run_nodes ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE run_nodes ADD COLUMN waiting_for TEXT;
        ALTER TABLE attempts ADD COLUMN worker TEXT;
        CREATE INDEX runs_by_status_and_creation ON runs (status, created_at);
        CREATE INDEX runs_by_schedule_and_creation ON runs (schedule, created_at);
        CREATE TABLE node_latest (
            node_id             TEXT PRIMARY KEY,
            run_id              TEXT NOT NULL,
            run_created_at      {time} NOT NULL,
            status              TEXT NOT NULL,
            finished_at         {time},
            error               TEXT,
            last_success_run_id TEXT,
            last_success_at     {time}
        )
        """,
            {SQLITE: "UPDATE run_nodes SET position = rowid", POSTGRESQL: ""},
            """
        INSERT INTO node_latest (node_id, run_id, run_created_at, status, finished_at, error)
        SELECT node_id, run_id, created_at, status, finished_at, error FROM (
            SELECT n.node_id, n.run_id, r.created_at, n.status, n.finished_at, n.error,
                   ROW_NUMBER() OVER (PARTITION BY n.node_id ORDER BY r.created_at DESC, r.run_id DESC) AS newest
            FROM run_nodes n JOIN runs r ON r.run_id = n.run_id
        ) ranked WHERE newest = 1;
        UPDATE node_latest SET last_success_at = (
            SELECT MAX(n.finished_at) FROM run_nodes n
            WHERE n.node_id = node_latest.node_id AND n.status IN ('success', 'warned', 'reused')
        );
        UPDATE node_latest SET last_success_run_id = (
            SELECT MIN(n.run_id) FROM run_nodes n
            WHERE n.node_id = node_latest.node_id AND n.status IN ('success', 'warned', 'reused')
            AND n.finished_at = node_latest.last_success_at
        )
        """,
        ),
        # 4: state-aware runs (orchestrate_ext.execution.reuse): whether a run runs only what changed; each
        # node state's fingerprint, the result it stands for and why it ran or was reused; and, per node,
        # the newest success's fingerprint and result, when that result was produced (a reuse does not
        # produce one) and the newest failure (a failed node is never reused).
        """
        ALTER TABLE runs ADD COLUMN only_changed INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE run_nodes ADD COLUMN fingerprint TEXT;
        ALTER TABLE run_nodes ADD COLUMN result TEXT;
        ALTER TABLE run_nodes ADD COLUMN reason TEXT;
        ALTER TABLE node_latest ADD COLUMN last_success_fingerprint TEXT;
        ALTER TABLE node_latest ADD COLUMN last_success_result TEXT;
        ALTER TABLE node_latest ADD COLUMN last_produced_at {time};
        ALTER TABLE node_latest ADD COLUMN last_failure_at {time}
        """,
        # 5: the nodes a run's selection chose but left out (broken, or waiting for a broken node), as a JSON
        # object of node id -> reason (orchestrate_ext.partial_graph); NULL for runs made before.
        "ALTER TABLE runs ADD COLUMN left_out TEXT",
        # 6: the run queue (orchestrate_ext.store.queue_sql): a queued run's priority and the schedule whose
        # max_active_runs it counts against; runs made before are priority 0 and count by their schedule.
        """
        ALTER TABLE runs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE runs ADD COLUMN limit_key TEXT;
        ALTER TABLE runs ADD COLUMN max_active INTEGER
        """,
    ),
    tables=("runs", "run_nodes", "attempts", "node_latest"),
)

SCHEDULES = Component(
    "schedules",
    (
        """
        CREATE TABLE schedule_state (
            name         TEXT PRIMARY KEY,
            fingerprint  TEXT NOT NULL,
            next_fire_at {time},
            paused       INTEGER NOT NULL DEFAULT 0,
            cursor       {time},
            updated_at   {time} NOT NULL
        );
        CREATE INDEX schedule_state_due ON schedule_state (next_fire_at)
            WHERE paused = 0 AND next_fire_at IS NOT NULL;
        CREATE TABLE ticks (
            tick_id      {serial},
            schedule     TEXT NOT NULL,
            scheduled_at {time} NOT NULL,
            trigger      TEXT NOT NULL,
            key          TEXT NOT NULL,
            status       TEXT NOT NULL,
            reason       TEXT,
            run_id       TEXT,
            duplicate_of TEXT,
            parameters   TEXT,
            created_at   {time} NOT NULL,
            updated_at   {time} NOT NULL,
            UNIQUE (schedule, key)
        );
        CREATE UNIQUE INDEX ticks_one_per_run ON ticks (run_id) WHERE run_id IS NOT NULL;
        CREATE INDEX ticks_pending ON ticks (scheduled_at, tick_id) WHERE status = 'pending';
        CREATE INDEX ticks_by_schedule ON ticks (schedule, tick_id);
        CREATE TABLE scheduler_lease (
            name        TEXT PRIMARY KEY,
            holder      TEXT NOT NULL,
            epoch       INTEGER NOT NULL,
            acquired_at {time} NOT NULL,
            renewed_at  {time} NOT NULL,
            expires_at  {time} NOT NULL
        );
        CREATE TABLE file_state (
            schedule TEXT NOT NULL,
            path     TEXT NOT NULL,
            mtime_ns {bigint} NOT NULL,
            size     {bigint} NOT NULL,
            PRIMARY KEY (schedule, path)
        )
        """,
    ),
    tables=("schedule_state", "ticks", "scheduler_lease", "file_state"),
)

RESOURCES = Component(
    "resources",
    (
        # Exclusive resources held across runs and processes (orchestrate_ext.execution.resources): one row
        # per held resource, and the requests waiting for one, served oldest first.
        """
        CREATE TABLE resource_holds (
            resource    TEXT PRIMARY KEY,
            run_id      TEXT NOT NULL,
            node_id     TEXT NOT NULL,
            owner       TEXT,
            epoch       INTEGER NOT NULL,
            acquired_at {time} NOT NULL
        );
        CREATE INDEX resource_holds_by_run ON resource_holds (run_id);
        CREATE TABLE resource_waits (
            run_id    TEXT NOT NULL,
            node_id   TEXT NOT NULL,
            resources TEXT NOT NULL,
            since     {time} NOT NULL,
            PRIMARY KEY (run_id, node_id)
        )
        """,
    ),
    tables=("resource_holds", "resource_waits"),
)

CORE_COMPONENTS = (RUNS, SCHEDULES, RESOURCES)
