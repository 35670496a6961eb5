-- Many bot processes on one catalogue (shards): a 'posting' record is held by one process under a lease that
-- it renews; each part of a post is its own row (its nonce, and its message id once sent), so recording a part
-- is one small write; and each firing of a scheduled job (the ingest cron) is claimed once by one process.
-- Never edit this file once released: add 0006_… instead.

-- The process holding a 'posting' record, and until when. A process that dies leaves a lease that expires;
-- another then claims the record and finishes the post. Records from before leases have none: claimable.
ALTER TABLE digest_posts ADD COLUMN owner TEXT;
ALTER TABLE digest_posts ADD COLUMN lease_until TEXT;       -- ISO-8601 UTC; NULL once the post is closed

-- One row per part of a post: written with its nonce when the post is claimed, given its message id when sent.
CREATE TABLE digest_post_parts (
    channel_id  INTEGER NOT NULL,
    local_date  TEXT    NOT NULL,
    part        INTEGER NOT NULL CHECK (part >= 1),
    nonce       TEXT,                                   -- the part's deterministic message nonce
    message_id  INTEGER,                                -- NULL until the part is known to be in the channel
    sent_at     TEXT,                                   -- ISO-8601 UTC, when it was recorded
    PRIMARY KEY (channel_id, local_date, part),
    FOREIGN KEY (channel_id, local_date) REFERENCES digest_posts (channel_id, local_date) ON DELETE CASCADE
) WITHOUT ROWID;
INSERT INTO digest_post_parts (channel_id, local_date, part, message_id)
    SELECT p.channel_id, p.local_date, CAST(j.key AS INTEGER), j.value
    FROM digest_posts p, json_each(p.message_ids) j;
ALTER TABLE digest_posts DROP COLUMN message_ids;

-- One row per claimed run of a scheduled job: the first process to insert (job, slot_time) runs it. Rows older
-- than a week are deleted by the claims themselves.
CREATE TABLE job_slots (
    job         TEXT NOT NULL,
    slot_time   TEXT NOT NULL,                          -- ISO-8601 UTC, whole seconds
    owner       TEXT NOT NULL,
    claimed_at  TEXT NOT NULL,
    PRIMARY KEY (job, slot_time)
) WITHOUT ROWID;
