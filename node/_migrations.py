"""Numbered schema migrations, applied in order, each in its own transaction.

``PRAGMA user_version`` records the last one applied. A migration, once
released, is never edited: changes are new migrations appended here.
"""

from __future__ import annotations

from typing import Final

from doorwatch.node._network_store import NETWORK_MIGRATION
from doorwatch.node._received_store import RECEIVED_MIGRATION
from doorwatch.node._reports import REPORT_MIGRATION

# (number, what it does, SQL). Numbers start at 1 and have no gaps.
MIGRATIONS: Final[tuple[tuple[int, str, str], ...]] = (
    (
        1,
        "node metadata, staff users and the append-only audit log",
        """
        CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) STRICT;

        CREATE TABLE users (
            id            INTEGER PRIMARY KEY,
            username      TEXT NOT NULL UNIQUE,
            role          TEXT NOT NULL CHECK (role IN
                              ('door_staff', 'supervisor', 'administrator', 'super_administrator')),
            password_hash TEXT NOT NULL,
            disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
            failed_logins INTEGER NOT NULL DEFAULT 0,
            locked_until  INTEGER NOT NULL DEFAULT 0,
            created_at    INTEGER NOT NULL
        ) STRICT;

        -- Who did what, when, to which alert or with which peer. Never names,
        -- dates of birth or photos: those stay in the encrypted alert rows.
        CREATE TABLE audit_log (
            id       INTEGER PRIMARY KEY AUTOINCREMENT,
            at       INTEGER NOT NULL,
            actor    TEXT NOT NULL,
            action   TEXT NOT NULL,
            alert_id TEXT,
            peer_id  TEXT,
            detail   TEXT NOT NULL DEFAULT '{}'
        ) STRICT;
        CREATE INDEX audit_log_at ON audit_log (at);
        CREATE INDEX audit_log_alert ON audit_log (alert_id) WHERE alert_id IS NOT NULL;
        CREATE INDEX audit_log_actor ON audit_log (actor, at);

        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        """,
    ),
    (
        2,
        "originated alerts, annotations, reviews, local bans and the visit log",
        """
        -- An alert this venue created. The subject's identity, photo and the
        -- details (reason, notes) are encrypted under the node's storage key
        -- (context: the alert id) and set to NULL when purged; the other
        -- columns hold nothing personal and stay for the tombstone.
        CREATE TABLE alerts (
            id            TEXT PRIMARY KEY,
            version       INTEGER NOT NULL,
            status        TEXT NOT NULL CHECK (status IN
                              ('active', 'suspended', 'withdrawn', 'expired')),
            category      TEXT NOT NULL,
            harm          REAL NOT NULL,
            created_at    INTEGER NOT NULL,
            updated_at    INTEGER NOT NULL,
            expires_at    INTEGER NOT NULL,
            review_due    INTEGER,
            reminded_at   INTEGER,
            groups        TEXT NOT NULL DEFAULT '[]',
            created_by    TEXT NOT NULL,
            segments      TEXT NOT NULL,
            segment_bits  REAL NOT NULL,
            anonymity_set REAL NOT NULL,
            identity      BLOB,
            photo         BLOB,
            details       BLOB,
            purged_at     INTEGER
        ) STRICT;
        CREATE INDEX alerts_status ON alerts (status, expires_at);

        -- origin 'local': written here; 'recipient': received from the venue
        -- (peer) that wrote it (agreement 6.7.2). The text is encrypted.
        CREATE TABLE alert_annotations (
            id       INTEGER PRIMARY KEY,
            alert_id TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
            at       INTEGER NOT NULL,
            origin   TEXT NOT NULL CHECK (origin IN ('local', 'recipient')),
            venue    TEXT NOT NULL,
            peer_id  TEXT,
            author   TEXT NOT NULL,
            text     BLOB
        ) STRICT;
        CREATE INDEX alert_annotations_alert ON alert_annotations (alert_id);

        CREATE TABLE alert_reviews (
            id       INTEGER PRIMARY KEY,
            alert_id TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
            at       INTEGER NOT NULL,
            reviewer TEXT NOT NULL,
            note     BLOB
        ) STRICT;
        CREATE INDEX alert_reviews_alert ON alert_reviews (alert_id);

        -- This venue's own bans: identity and reason encrypted.
        CREATE TABLE bans (
            id         TEXT PRIMARY KEY,
            created_at INTEGER NOT NULL,
            created_by TEXT NOT NULL,
            expires_at INTEGER NOT NULL,
            identity   BLOB NOT NULL,
            reason     BLOB NOT NULL
        ) STRICT;
        CREATE INDEX bans_expires ON bans (expires_at);

        -- One row per scan; the identity (without the photo) is encrypted.
        CREATE TABLE visits (
            scan_id    TEXT PRIMARY KEY,
            at         INTEGER NOT NULL,
            staff      TEXT NOT NULL,
            verdict    TEXT NOT NULL,
            reasons    TEXT NOT NULL,
            identity   BLOB NOT NULL,
            admitted   INTEGER CHECK (admitted IN (0, 1)),
            decided_by TEXT,
            decided_at INTEGER,
            note       BLOB
        ) STRICT;
        CREATE INDEX visits_at ON visits (at);
        """,
    ),
    (
        3,
        "networks: certificates, revocation lists, group keys, invites, peer addresses",
        NETWORK_MIGRATION,
    ),
    (
        4,
        "replicated alert envelopes, replica clocks, and the salt of originated alert ids",
        RECEIVED_MIGRATION,
    ),
    (
        5,
        "the audit log refuses deletes too; login names that were no user's are redacted",
        """
        -- Failed logins used to record the name typed, which may be a password
        -- typed in the wrong field. Redact every failed login's actor that is
        -- neither a staff user nor the local administrator, once, with the
        -- update trigger lifted for this transaction only.
        DROP TRIGGER audit_log_no_update;
        UPDATE audit_log SET actor = '(unknown user)'
        WHERE action = 'login.failed'
          AND actor <> 'local-admin'
          AND actor NOT IN (SELECT username FROM users);
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

        -- Append-only at the database level: no entry is ever deleted. The audit
        -- log holds no subject's personal data (user names, alert and peer ids),
        -- so it has no retention purge; the triggers need no exception.
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        """,
    ),
    (
        6,
        "the disclosure ladder's rate-limit counters, so that a restart resets none",
        """
        -- One row per counted identity check, photo, details or "not the same
        -- person" answer: the counter's key (rule, peer id, alert id: nothing
        -- personal), when, and until when it counts. Purged once expired.
        CREATE TABLE disclosure_hits (
            key        TEXT NOT NULL,
            at         INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX disclosure_hits_expiry ON disclosure_hits (expires_at);
        """,
    ),
    (
        7,
        "Pubwatch banning notices: the signed messages held, and this venue's own cases",
        """
        -- Every accepted nomination, vote, appeal and outcome, as its signed frame
        -- (the book is rebuilt from them at start-up). Cases and grounds travel
        -- sealed to the committee; a vote names a pseudonym, never a venue.
        CREATE TABLE notice_messages (
            digest      BLOB PRIMARY KEY,
            network_id  TEXT NOT NULL,
            notice_id   BLOB NOT NULL,
            kind        TEXT NOT NULL,
            frame       BLOB NOT NULL,
            received_at INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX notice_messages_notice ON notice_messages (network_id, notice_id);

        -- This venue's own nominations: the case and any appeal's grounds, sealed
        -- under the storage key, for its letters.
        CREATE TABLE notice_cases (
            notice_id   BLOB PRIMARY KEY,
            network_id  TEXT NOT NULL,
            alert_id    TEXT NOT NULL,
            sealed_case BLOB NOT NULL,
            created_by  TEXT NOT NULL,
            created_at  INTEGER NOT NULL,
            sealed_appeal BLOB
        ) STRICT;
        """,
    ),
    (
        8,
        "aggregate counts shared by the venues for the Pubwatch meeting's network report",
        REPORT_MIGRATION,
    ),
)

LATEST: Final[int] = MIGRATIONS[-1][0]
