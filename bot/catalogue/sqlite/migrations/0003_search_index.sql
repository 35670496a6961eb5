-- Search moves from FTS5 to the tantivy
-- index in bot/catalogue/_tantivy_index.py. SQLite stays the source of truth; `search_outbox` records, in the
-- same transaction as the change, every paper the index has not yet caught up with, so a crash between a
-- SQLite commit and an index commit is repaired on the next open (drain the outbox).
-- Rows are written by the catalogue's write methods, not by triggers: a trigger costs ~12 µs per row on the
-- snapshot import (+70% of its SQLite time), and the import has its own crash rule (index marked incomplete
-- until the import finished, so a crash mid-import rebuilds the index from SQLite on the next open).

DROP TRIGGER IF EXISTS papers_fts_insert;
DROP TRIGGER IF EXISTS papers_fts_delete;
DROP TRIGGER IF EXISTS papers_fts_update;
DROP TRIGGER IF EXISTS titles_fts_update;
DROP TABLE IF EXISTS papers_fts;
DROP TABLE IF EXISTS titles_fts;

CREATE TABLE search_outbox (
    id TEXT PRIMARY KEY                           -- a paper id whose indexed fields changed (or that was deleted)
) WITHOUT ROWID;
