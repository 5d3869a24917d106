"""The control plane's state: one SQLite file in WAL mode, every write a transaction.

Resources (groups, models, endpoint configs, endpoints, scalable targets, policies) are JSON
bodies keyed by (kind, name). Model packages have their own table so that a version number is
allocated inside the same write transaction that inserts it: two registrations that race, from
threads or processes, get distinct consecutive versions.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    kind TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL,
    created REAL NOT NULL, modified REAL NOT NULL, PRIMARY KEY (kind, name));
CREATE TABLE IF NOT EXISTS model_packages (
    group_name TEXT NOT NULL, version INTEGER NOT NULL, client_token TEXT,
    body TEXT NOT NULL, created REAL NOT NULL, modified REAL NOT NULL,
    PRIMARY KEY (group_name, version));
CREATE UNIQUE INDEX IF NOT EXISTS package_token ON model_packages (group_name, client_token);
CREATE TABLE IF NOT EXISTS hosts (
    endpoint TEXT NOT NULL, ref TEXT NOT NULL, kind TEXT NOT NULL, tree TEXT NOT NULL,
    PRIMARY KEY (endpoint, ref));
"""


class Store:
    """Thread-safe: each thread gets its own connection to the same file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connection().executescript(SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA busy_timeout=30000")
            connection.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, never corrupt
            connection.row_factory = sqlite3.Row
            self._local.connection = connection
        return connection

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE takes the write lock up front, so read-then-insert cannot interleave."""
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # generic resources ------------------------------------------------------------------------
    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        row = self._connection().execute(
            "SELECT body FROM resources WHERE kind = ? AND name = ?", (kind, name)).fetchone()
        return json.loads(row["body"]) if row else None

    def insert(self, kind: str, name: str, body: dict[str, Any]) -> bool:
        """False when (kind, name) exists already."""
        now = time.time()
        with self.write() as db:
            try:
                db.execute("INSERT INTO resources VALUES (?, ?, ?, ?, ?)", (kind, name, json.dumps(body), now, now))
            except sqlite3.IntegrityError:
                return False
        return True

    def put(self, kind: str, name: str, body: dict[str, Any]) -> None:
        now = time.time()
        with self.write() as db:
            db.execute(
                "INSERT INTO resources VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, name) "
                "DO UPDATE SET body = excluded.body, modified = excluded.modified",
                (kind, name, json.dumps(body), now, now))

    def update(self, kind: str, name: str, change) -> dict[str, Any] | None:
        """Apply change(body) -> body in one transaction; None when absent."""
        with self.write() as db:
            row = db.execute("SELECT body FROM resources WHERE kind = ? AND name = ?", (kind, name)).fetchone()
            if row is None:
                return None
            body = change(json.loads(row["body"]))
            db.execute("UPDATE resources SET body = ?, modified = ? WHERE kind = ? AND name = ?",
                       (json.dumps(body), time.time(), kind, name))
        return body

    def delete(self, kind: str, name: str) -> bool:
        with self.write() as db:
            return db.execute("DELETE FROM resources WHERE kind = ? AND name = ?", (kind, name)).rowcount > 0

    def all(self, kind: str) -> list[dict[str, Any]]:
        rows = self._connection().execute(
            "SELECT body FROM resources WHERE kind = ? ORDER BY created, name", (kind,)).fetchall()
        return [json.loads(row["body"]) for row in rows]

    # model packages ---------------------------------------------------------------------------
    def add_package(self, group: str, build, client_token: str | None = None) -> dict[str, Any]:
        """Allocate the group's next version and insert build(version, now) in one transaction.

        A repeated ClientToken returns the package it created before instead of a new version.
        """
        with self.write() as db:
            if client_token:
                row = db.execute("SELECT body FROM model_packages WHERE group_name = ? AND client_token = ?",
                                 (group, client_token)).fetchone()
                if row:
                    return json.loads(row["body"])
            version = db.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM model_packages WHERE group_name = ?",
                                 (group,)).fetchone()[0]
            now = time.time()
            body = build(version, now)
            db.execute("INSERT INTO model_packages VALUES (?, ?, ?, ?, ?, ?)",
                       (group, version, client_token, json.dumps(body), now, now))
        return body

    def package(self, group: str, version: int) -> dict[str, Any] | None:
        row = self._connection().execute(
            "SELECT body FROM model_packages WHERE group_name = ? AND version = ?", (group, version)).fetchone()
        return json.loads(row["body"]) if row else None

    def update_package(self, group: str, version: int, change) -> dict[str, Any] | None:
        with self.write() as db:
            row = db.execute("SELECT body FROM model_packages WHERE group_name = ? AND version = ?",
                             (group, version)).fetchone()
            if row is None:
                return None
            body = change(json.loads(row["body"]))
            db.execute("UPDATE model_packages SET body = ?, modified = ? WHERE group_name = ? AND version = ?",
                       (json.dumps(body), time.time(), group, version))
        return body

    def packages(self, group: str | None = None) -> list[dict[str, Any]]:
        if group is None:
            rows = self._connection().execute("SELECT body FROM model_packages ORDER BY created, version")
        else:
            rows = self._connection().execute(
                "SELECT body FROM model_packages WHERE group_name = ? ORDER BY version", (group,))
        return [json.loads(row["body"]) for row in rows.fetchall()]

    # hosts that may outlive a crashed daemon --------------------------------------------------
    def record_host(self, endpoint: str, ref: str, kind: str, tree: str) -> None:
        with self.write() as db:
            db.execute("INSERT OR REPLACE INTO hosts VALUES (?, ?, ?, ?)", (endpoint, ref, kind, tree))

    def forget_host(self, endpoint: str, ref: str) -> None:
        with self.write() as db:
            db.execute("DELETE FROM hosts WHERE endpoint = ? AND ref = ?", (endpoint, ref))

    def recorded_hosts(self) -> list[sqlite3.Row]:
        return self._connection().execute("SELECT * FROM hosts").fetchall()
