"""The alerts' tables in the engine's SQLite database, migrated as the ``alerts`` component."""

from __future__ import annotations

COMPONENT = "alerts"

# Each entry migrates the alerts tables from version N to N+1; never edit a shipped one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE alert_events (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        key         TEXT NOT NULL UNIQUE,
        kind        TEXT NOT NULL,
        run_id      TEXT NOT NULL,
        scope       TEXT NOT NULL,
        node_id     TEXT,
        created_at  TEXT NOT NULL,
        payload     TEXT NOT NULL,
        composed_at TEXT
    );
    CREATE INDEX alert_events_buffered ON alert_events (composed_at, id);
    CREATE TABLE alert_incidents (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        scope            TEXT NOT NULL,
        node_id          TEXT NOT NULL,
        status           TEXT NOT NULL,
        opened_at        TEXT NOT NULL,
        last_failure_at  TEXT NOT NULL,
        last_notified_at TEXT NOT NULL,
        failures         INTEGER NOT NULL,
        first_run_id     TEXT NOT NULL,
        last_run_id      TEXT NOT NULL,
        resolved_at      TEXT
    );
    CREATE UNIQUE INDEX alert_incidents_open ON alert_incidents (scope, node_id) WHERE status = 'open';
    CREATE TABLE alert_incident_threads (
        incident_id INTEGER NOT NULL REFERENCES alert_incidents (id),
        target      TEXT NOT NULL,
        message_id  INTEGER NOT NULL,
        PRIMARY KEY (incident_id, target)
    );
    CREATE TABLE alert_outbox (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        key             TEXT NOT NULL UNIQUE,
        created_at      TEXT NOT NULL,
        channel         TEXT NOT NULL,
        target          TEXT NOT NULL,
        action          TEXT NOT NULL,
        parent_id       INTEGER REFERENCES alert_outbox (id),
        broadcast       INTEGER NOT NULL DEFAULT 0,
        route           TEXT NOT NULL DEFAULT '',
        content         TEXT NOT NULL,
        status          TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        lease_until     TEXT,
        last_error      TEXT,
        sent_at         TEXT,
        result          TEXT,
        fallback_of     INTEGER,
        fallbacks       TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX alert_outbox_due ON alert_outbox (status, next_attempt_at);
    CREATE TABLE alert_slas (
        run_id   TEXT NOT NULL,
        node_id  TEXT NOT NULL,
        sla      TEXT NOT NULL,
        deadline TEXT NOT NULL,
        scope    TEXT NOT NULL,
        detail   TEXT NOT NULL,
        status   TEXT NOT NULL,
        PRIMARY KEY (run_id, node_id, sla)
    );
    CREATE INDEX alert_slas_armed ON alert_slas (status, deadline);
    CREATE TABLE alert_freshness (
        subject         TEXT PRIMARY KEY,
        max_age         REAL NOT NULL,
        watched_since   TEXT NOT NULL,
        last_success_at TEXT,
        alerted_for     TEXT
    );
    """,
)
