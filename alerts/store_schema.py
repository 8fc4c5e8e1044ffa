"""The alerts' tables in the engine's state store, migrated as the ``alerts`` component.

The first step shipped for SQLite before PostgreSQL existed; its SQLite
expansion (see :mod:`orchestrate_ext.store.sql` for the macros) is exactly what
shipped. Never edit a shipped step; add one.
"""

from __future__ import annotations

from orchestrate_ext.store.sql import Component

MIGRATIONS = (
    """
    CREATE TABLE alert_events (
        id          {serial},
        key         TEXT NOT NULL UNIQUE,
        kind        TEXT NOT NULL,
        run_id      TEXT NOT NULL,
        scope       TEXT NOT NULL,
        node_id     TEXT,
        created_at  {time} NOT NULL,
        payload     TEXT NOT NULL,
        composed_at {time}
    );
    CREATE INDEX alert_events_buffered ON alert_events (composed_at, id);
    CREATE TABLE alert_incidents (
        id               {serial},
        scope            TEXT NOT NULL,
        node_id          TEXT NOT NULL,
        status           TEXT NOT NULL,
        opened_at        {time} NOT NULL,
        last_failure_at  {time} NOT NULL,
        last_notified_at {time} NOT NULL,
        failures         INTEGER NOT NULL,
        first_run_id     TEXT NOT NULL,
        last_run_id      TEXT NOT NULL,
        resolved_at      {time}
    );
    CREATE UNIQUE INDEX alert_incidents_open ON alert_incidents (scope, node_id) WHERE status = 'open';
    CREATE TABLE alert_incident_threads (
        incident_id {bigint} NOT NULL REFERENCES alert_incidents (id),
        target      TEXT NOT NULL,
        message_id  {bigint} NOT NULL,
        PRIMARY KEY (incident_id, target)
    );
    CREATE TABLE alert_outbox (
        id              {serial},
        key             TEXT NOT NULL UNIQUE,
        created_at      {time} NOT NULL,
        channel         TEXT NOT NULL,
        target          TEXT NOT NULL,
        action          TEXT NOT NULL,
        parent_id       {bigint} REFERENCES alert_outbox (id),
        broadcast       INTEGER NOT NULL DEFAULT 0,
        route           TEXT NOT NULL DEFAULT '',
        content         TEXT NOT NULL,
        status          TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at {time} NOT NULL,
        lease_until     {time},
        last_error      TEXT,
        sent_at         {time},
        result          TEXT,
        fallback_of     {bigint},
        fallbacks       TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX alert_outbox_due ON alert_outbox (status, next_attempt_at);
    CREATE TABLE alert_slas (
        run_id   TEXT NOT NULL,
        node_id  TEXT NOT NULL,
        sla      TEXT NOT NULL,
        deadline {time} NOT NULL,
        scope    TEXT NOT NULL,
        detail   TEXT NOT NULL,
        status   TEXT NOT NULL,
        PRIMARY KEY (run_id, node_id, sla)
    );
    CREATE INDEX alert_slas_armed ON alert_slas (status, deadline);
    CREATE TABLE alert_freshness (
        subject         TEXT PRIMARY KEY,
        max_age         {float} NOT NULL,
        watched_since   {time} NOT NULL,
        last_success_at {time},
        alerted_for     {time}
    );
    """,
)

ALERTS = Component(
    "alerts",
    MIGRATIONS,
    tables=(
        "alert_events",
        "alert_incidents",
        "alert_incident_threads",
        "alert_outbox",
        "alert_slas",
        "alert_freshness",
    ),
)
