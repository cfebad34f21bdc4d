import Foundation
import GRDB

/// The schema, as append-only named migrations. Never edit a shipped migration; add one.
enum Migrations {
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()

        migrator.registerMigration("v1-spine") { db in
            // Times are integer milliseconds since 1970 (UTC): compact, exact, and ordered.
            try db.execute(
                sql: """
                    CREATE TABLE event (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        source TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        key TEXT UNIQUE,
                        payload TEXT NOT NULL,
                        occurredAt INTEGER NOT NULL,
                        receivedAt INTEGER NOT NULL,
                        provenance TEXT NOT NULL
                    );

                    CREATE TABLE run (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        title TEXT NOT NULL,
                        origin TEXT NOT NULL,
                        key TEXT UNIQUE,
                        state TEXT NOT NULL,
                        createdAt INTEGER NOT NULL,
                        updatedAt INTEGER NOT NULL
                    );
                    CREATE INDEX run_state ON run(state);

                    CREATE TABLE step (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        runId INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                        position INTEGER NOT NULL,
                        effect TEXT NOT NULL,
                        arguments TEXT NOT NULL,
                        idempotencyKey TEXT NOT NULL UNIQUE,
                        idempotent INTEGER NOT NULL,
                        state TEXT NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        result TEXT,
                        error TEXT,
                        updatedAt INTEGER NOT NULL,
                        UNIQUE (runId, position)
                    );
                    CREATE INDEX step_state ON step(state);

                    -- Written before an effect starts, in the transaction that marks the step running.
                    CREATE TABLE intent (
                        idempotencyKey TEXT NOT NULL,
                        attempt INTEGER NOT NULL,
                        stepId INTEGER NOT NULL REFERENCES step(id) ON DELETE CASCADE,
                        recordedAt INTEGER NOT NULL,
                        PRIMARY KEY (idempotencyKey, attempt)
                    ) WITHOUT ROWID;

                    -- Written after the effect returns, in the transaction that finishes the step.
                    CREATE TABLE result (
                        idempotencyKey TEXT NOT NULL,
                        attempt INTEGER NOT NULL,
                        stepId INTEGER NOT NULL REFERENCES step(id) ON DELETE CASCADE,
                        succeeded INTEGER NOT NULL,
                        output TEXT,
                        error TEXT,
                        recordedAt INTEGER NOT NULL,
                        PRIMARY KEY (idempotencyKey, attempt)
                    ) WITHOUT ROWID;

                    CREATE TABLE schedule (
                        name TEXT PRIMARY KEY,
                        expression TEXT NOT NULL,
                        timeZone TEXT,
                        kind TEXT NOT NULL,
                        payload TEXT NOT NULL,
                        nextFireAt INTEGER,
                        lastFiredAt INTEGER,
                        createdAt INTEGER NOT NULL
                    ) WITHOUT ROWID;

                    -- What the file watcher has already reported, per watched tree.
                    CREATE TABLE fileIndex (
                        scope TEXT NOT NULL,
                        path TEXT NOT NULL,
                        size INTEGER NOT NULL,
                        modifiedNs INTEGER NOT NULL,
                        inode INTEGER NOT NULL,
                        PRIMARY KEY (scope, path)
                    ) WITHOUT ROWID;

                    CREATE TABLE daemonStart (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        pid INTEGER NOT NULL,
                        version TEXT NOT NULL,
                        startedAt INTEGER NOT NULL,
                        readyAt INTEGER,
                        stoppedAt INTEGER,
                        recovery TEXT NOT NULL DEFAULT '{}'
                    );
                    """)
        }
        migrator.registerMigration("v2-usage") { db in
            try db.execute(
                sql: """
                    -- One row per model call: what it cost, how fast it ran, whom it was for.
                    CREATE TABLE usage (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        at INTEGER NOT NULL,
                        provider TEXT NOT NULL,
                        model TEXT NOT NULL,
                        purpose TEXT NOT NULL,
                        runId INTEGER,
                        goalId TEXT,
                        promptTokens INTEGER NOT NULL,
                        completionTokens INTEGER NOT NULL,
                        cachedPromptTokens INTEGER NOT NULL,
                        prefillTokensPerSecond REAL,
                        decodeTokensPerSecond REAL,
                        latencyMs INTEGER NOT NULL,
                        costMicrodollars INTEGER NOT NULL,
                        succeeded INTEGER NOT NULL,
                        error TEXT
                    );
                    CREATE INDEX usage_at ON usage(at);
                    CREATE INDEX usage_run ON usage(runId) WHERE runId IS NOT NULL;
                    CREATE INDEX usage_goal ON usage(goalId) WHERE goalId IS NOT NULL;
                    """)
        }
        migrator.registerMigration("v3-memory") { db in
            try db.execute(
                sql: """
                    -- Episodic memory. `position` orders records within (source, sessionId).
                    CREATE TABLE memory_record (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        kind TEXT NOT NULL,
                        text TEXT NOT NULL,
                        source TEXT NOT NULL,
                        provenance TEXT NOT NULL,
                        occurredAt INTEGER NOT NULL,
                        recordedAt INTEGER NOT NULL,
                        sessionId TEXT,
                        position INTEGER,
                        runId INTEGER,
                        speaker TEXT,
                        importance REAL NOT NULL,
                        normalized TEXT NOT NULL
                    );
                    CREATE INDEX memory_record_session ON memory_record(source, sessionId, position);
                    CREATE INDEX memory_record_occurred ON memory_record(occurredAt);
                    CREATE INDEX memory_record_normalized ON memory_record(normalized);

                    -- Full text, rowid = memory_record.id: the record, and the record with ±2 neighbours.
                    CREATE VIRTUAL TABLE memory_fts USING fts5(text, context, tokenize = 'unicode61');

                    -- Sessions as whole documents, rowid = memory_session.id (the full-text table is dropped in v7).
                    CREATE TABLE memory_session (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        source TEXT NOT NULL,
                        sessionId TEXT NOT NULL,
                        UNIQUE (source, sessionId)
                    );
                    CREATE VIRTUAL TABLE memory_session_fts USING fts5(text, tokenize = 'unicode61');

                    -- Embeddings, little-endian float32. The in-memory index is rebuilt from here.
                    CREATE TABLE memory_vector (
                        recordId INTEGER NOT NULL REFERENCES memory_record(id) ON DELETE CASCADE,
                        field TEXT NOT NULL,
                        model TEXT NOT NULL,
                        vector BLOB NOT NULL,
                        PRIMARY KEY (recordId, field)
                    ) WITHOUT ROWID;

                    -- Bi-temporal facts: world validity (validFrom/validTo) and system time
                    -- (recordedAt/invalidatedAt). Contradiction invalidates; it never deletes.
                    CREATE TABLE fact (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        kind TEXT NOT NULL,
                        subject TEXT NOT NULL,
                        predicate TEXT NOT NULL,
                        object TEXT NOT NULL,
                        slot TEXT NOT NULL,
                        validFrom INTEGER,
                        validTo INTEGER,
                        recordedAt INTEGER NOT NULL,
                        invalidatedAt INTEGER,
                        invalidatedBy INTEGER,
                        sourceRecordId INTEGER,
                        provenance TEXT NOT NULL,
                        confidence REAL NOT NULL,
                        status TEXT NOT NULL
                    );
                    CREATE INDEX fact_slot ON fact(slot);
                    CREATE INDEX fact_source ON fact(sourceRecordId) WHERE sourceRecordId IS NOT NULL;

                    CREATE TABLE memory_cursor (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;

                    -- What consolidation and forgetting did, in full (never silent).
                    CREATE TABLE memory_report (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        kind TEXT NOT NULL,
                        at INTEGER NOT NULL,
                        detail TEXT NOT NULL
                    );
                    """)
        }

        migrator.registerMigration("v4-goals") { db in
            // A goal's run is a row of `run` (origin "goal", no steps), so 'hearth runs' lists it.
            try db.execute(
                sql: """
                    CREATE TABLE goal (
                        runId INTEGER PRIMARY KEY REFERENCES run(id) ON DELETE CASCADE,
                        text TEXT NOT NULL,
                        plan TEXT,
                        budget TEXT NOT NULL,
                        usage TEXT NOT NULL,
                        pauseReason TEXT,
                        report TEXT,
                        summary TEXT
                    );

                    CREATE TABLE plan_task (
                        runId INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                        taskId TEXT NOT NULL,
                        position INTEGER NOT NULL,
                        body TEXT NOT NULL,
                        state TEXT NOT NULL,
                        result TEXT,
                        error TEXT,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        updatedAt INTEGER NOT NULL,
                        PRIMARY KEY (runId, taskId)
                    ) WITHOUT ROWID;

                    -- Each tool call of a task: the intent before it runs, the outcome after.
                    CREATE TABLE task_action (
                        runId INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                        taskId TEXT NOT NULL,
                        position INTEGER NOT NULL,
                        tool TEXT NOT NULL,
                        arguments TEXT NOT NULL,
                        idempotencyKey TEXT NOT NULL UNIQUE,
                        state TEXT NOT NULL,
                        output TEXT,
                        error TEXT,
                        startedAt INTEGER NOT NULL,
                        finishedAt INTEGER,
                        PRIMARY KEY (runId, taskId, position)
                    );

                    CREATE TABLE trace (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        runId INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                        taskId TEXT,
                        kind TEXT NOT NULL,
                        name TEXT NOT NULL,
                        detail TEXT NOT NULL,
                        promptTokens INTEGER,
                        completionTokens INTEGER,
                        milliseconds INTEGER,
                        at INTEGER NOT NULL
                    );
                    CREATE INDEX trace_run ON trace(runId, id);
                    """)
        }
        migrator.registerMigration("v5-goal-workspace") { db in
            // The tree a goal works in (the demo uses a folder of the workspace); NULL: the configured workspace.
            try db.execute(sql: "ALTER TABLE goal ADD COLUMN workspace TEXT")
        }
        migrator.registerMigration("v6-approvals") { db in
            try db.execute(
                sql: """
                    CREATE TABLE approval (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        runId INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                        taskId TEXT NOT NULL,
                        position INTEGER NOT NULL,
                        tool TEXT NOT NULL,
                        risk TEXT NOT NULL,
                        arguments TEXT NOT NULL,
                        origins TEXT NOT NULL,
                        reason TEXT NOT NULL,
                        hash TEXT NOT NULL,
                        state TEXT NOT NULL,
                        createdAt INTEGER NOT NULL,
                        expiresAt INTEGER NOT NULL,
                        decidedAt INTEGER,
                        note TEXT,
                        UNIQUE (runId, taskId, position)
                    );
                    CREATE INDEX approval_state ON approval(state);
                    """)
        }
        migrator.registerMigration("v7-drop-session-fts") { db in
            // Session-level keyword search moved into the in-memory index (HearthMemory's
            // LexicalIndex), which derives it from the records; the whole-session text was never read again.
            try db.execute(sql: "DROP TABLE memory_session_fts")
        }
        migrator.registerMigration("v8-vector-work") { db in
            // The texts still to embed, kept as a list: finding them by probing every record for a
            // missing vector cost a pass over the whole table per batch (quadratic when filling a
            // large store, a full scan every 30 s in the daemon).
            try db.execute(
                sql: """
                    CREATE TABLE memory_vector_pending (
                        recordId INTEGER NOT NULL REFERENCES memory_record(id) ON DELETE CASCADE,
                        field TEXT NOT NULL,
                        PRIMARY KEY (recordId, field)
                    ) WITHOUT ROWID;
                    """)
            try MemorySQLStore.listMissingVectors(in: db)
        }
        migrator.registerMigration("v9-attention") { db in
            // One row per ingested journal event: the scorer's decision (reasons as JSON), the
            // memory record it became, and whether the user acknowledged it (the inbox).
            try db.execute(
                sql: """
                    CREATE TABLE attention_item (
                        eventId INTEGER PRIMARY KEY,
                        source TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        occurredAt INTEGER NOT NULL,
                        decidedAt INTEGER NOT NULL,
                        level TEXT NOT NULL,
                        decision TEXT NOT NULL,
                        links TEXT NOT NULL,
                        memoryRecordId INTEGER,
                        acknowledgedAt INTEGER
                    );
                    CREATE INDEX attention_item_decided ON attention_item (decidedAt);
                    CREATE INDEX attention_item_inbox ON attention_item (level, acknowledgedAt);
                    """)
        }
        migrator.registerMigration("v10-source-state") { db in
            // Where position-keeping sources got to: a repository's branch tips, a metric file's rows.
            try db.execute(sql: "CREATE TABLE source_state (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")
        }
        migrator.registerMigration("v11-routines") { db in
            try db.execute(
                sql: """
                    CREATE TABLE routine (name TEXT PRIMARY KEY, definition TEXT NOT NULL) WITHOUT ROWID;
                    CREATE TABLE routine_pending (
                        routine TEXT NOT NULL REFERENCES routine(name) ON DELETE CASCADE,
                        eventId INTEGER NOT NULL,
                        heldAt INTEGER NOT NULL,
                        PRIMARY KEY (routine, eventId)
                    ) WITHOUT ROWID;
                    CREATE TABLE routine_firing (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        routine TEXT NOT NULL,
                        runId INTEGER,
                        firedAt INTEGER NOT NULL,
                        events TEXT NOT NULL
                    );
                    CREATE INDEX routine_firing_by_routine ON routine_firing (routine, firedAt);
                    """)
        }
        migrator.registerMigration("v12-delivery") { db in
            // One row per interrupt and channel, written with the item: a delivery counts only once
            // the channel confirmed it, and failures wait for their next attempt here.
            try db.execute(
                sql: """
                    CREATE TABLE delivery (
                        eventId INTEGER NOT NULL,
                        channel TEXT NOT NULL,
                        state TEXT NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        lastError TEXT,
                        nextAttemptAt INTEGER NOT NULL,
                        deliveredAt INTEGER,
                        PRIMARY KEY (eventId, channel)
                    ) WITHOUT ROWID;
                    CREATE INDEX delivery_due ON delivery (state, nextAttemptAt);
                    """)
        }
        migrator.registerMigration("v13-chat") { db in
            // Chat sessions; their turns are memory records (source "chat", this session id).
            try db.execute(
                sql: """
                    CREATE TABLE chat_session (
                        id TEXT PRIMARY KEY,
                        title TEXT NOT NULL,
                        createdAt INTEGER NOT NULL,
                        updatedAt INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v14-chat-runs") { db in
            // Goals started from a conversation, and the last state the session was told of.
            try db.execute(
                sql: """
                    CREATE TABLE chat_run (
                        runId INTEGER PRIMARY KEY,
                        sessionId TEXT NOT NULL,
                        toldState TEXT
                    );
                    CREATE INDEX chat_run_session ON chat_run(sessionId);
                    """)
        }
        migrator.registerMigration("v15-fleet") { db in
            // Agent identities (keys by state) and the agents' signed messages with each verdict.
            try db.execute(
                sql: """
                    CREATE TABLE fleet_member (
                        name TEXT PRIMARY KEY,
                        role TEXT NOT NULL,
                        joinedAt INTEGER NOT NULL,
                        lastSeen INTEGER,
                        revokedAt INTEGER
                    ) WITHOUT ROWID;
                    CREATE TABLE fleet_key (
                        publicKey TEXT PRIMARY KEY,
                        agent TEXT NOT NULL REFERENCES fleet_member(name),
                        state TEXT NOT NULL,
                        retiresAt INTEGER,
                        addedAt INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX fleet_key_agent ON fleet_key(agent);
                    CREATE TABLE fleet_message (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        sender TEXT NOT NULL,
                        recipient TEXT NOT NULL,
                        nonce TEXT NOT NULL,
                        payload TEXT NOT NULL,
                        sentAt INTEGER NOT NULL,
                        checkedAt INTEGER,
                        accepted INTEGER,
                        reason TEXT
                    );
                    CREATE INDEX fleet_message_waiting ON fleet_message(recipient, checkedAt);
                    CREATE INDEX fleet_message_nonce ON fleet_message(nonce, accepted);
                    """)
        }
        migrator.registerMigration("v16-work") { db in
            // Work claimed under leases and fences (the same contract as a fleet's PostgreSQL).
            try db.execute(
                sql: """
                    CREATE TABLE work (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        kind TEXT NOT NULL,
                        key TEXT NOT NULL UNIQUE,
                        payload TEXT NOT NULL,
                        state TEXT NOT NULL DEFAULT 'pending',
                        holder TEXT,
                        fence INTEGER NOT NULL DEFAULT 0,
                        leaseUntil INTEGER,
                        result TEXT,
                        createdAt INTEGER NOT NULL,
                        doneAt INTEGER,
                        doneFence INTEGER
                    );
                    CREATE INDEX work_open ON work(kind, id) WHERE state <> 'done';
                    CREATE TABLE work_claim (
                        item INTEGER NOT NULL REFERENCES work(id),
                        fence INTEGER NOT NULL,
                        holder TEXT NOT NULL,
                        claimedAt INTEGER NOT NULL,
                        PRIMARY KEY (item, fence)
                    ) WITHOUT ROWID;
                    CREATE TABLE work_step (
                        item INTEGER NOT NULL REFERENCES work(id),
                        number INTEGER NOT NULL,
                        fence INTEGER NOT NULL,
                        holder TEXT NOT NULL,
                        result TEXT NOT NULL,
                        recordedAt INTEGER NOT NULL,
                        PRIMARY KEY (item, number)
                    ) WITHOUT ROWID;
                    CREATE TABLE cron_slot (
                        schedule TEXT NOT NULL,
                        slot INTEGER NOT NULL,
                        holder TEXT NOT NULL,
                        firedAt INTEGER NOT NULL,
                        result TEXT NOT NULL,
                        PRIMARY KEY (schedule, slot)
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v17-chat-summary") { db in
            // A session's model-written summary of its older turns (up to and including `through`).
            try db.execute(
                sql: """
                    CREATE TABLE chat_summary (
                        sessionId TEXT PRIMARY KEY,
                        text TEXT NOT NULL,
                        through INTEGER NOT NULL,
                        turns INTEGER NOT NULL,
                        writtenAt INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v18-vector-clock") { db in
            // Saves of vectors are numbered as they commit, so every process's in-memory index
            // follows the vectors others save (`seq` > the position it read).
            try db.execute(
                sql: """
                    ALTER TABLE memory_vector ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
                    CREATE INDEX memory_vector_seq ON memory_vector(seq);
                    CREATE TABLE memory_clock (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
                    INSERT INTO memory_clock (name, value) VALUES ('vector', 0);
                    """)
        }
        return migrator
    }()
}
