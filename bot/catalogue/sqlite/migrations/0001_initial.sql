-- The paper catalogue, the Daily Papers lists and their full-text indexes.
-- Never edit this file once released: add 0002_… instead.

CREATE TABLE papers (
    pk            INTEGER PRIMARY KEY,          -- stable rowid for the external-content FTS tables
    id            TEXT    NOT NULL UNIQUE,      -- unversioned arXiv id
    title         TEXT    NOT NULL,
    title_key     TEXT    NOT NULL,             -- casefolded, whitespace-collapsed title for exact lookups
    abstract      TEXT,
    authors       TEXT,                         -- JSON array, in paper order
    published     TEXT,                         -- arXiv v1 date, YYYY-MM-DD
    upvotes       INTEGER,
    num_comments  INTEGER,
    github_repo   TEXT,
    github_stars  INTEGER,
    project_page  TEXT,
    organization  TEXT,
    thumbnail     TEXT,
    ai_summary    TEXT,
    ai_keywords   TEXT,                         -- JSON array
    withdrawn     INTEGER,
    categories    TEXT,                         -- JSON array (arXiv only)
    first_seen    TEXT    NOT NULL,             -- ISO-8601 UTC
    last_seen     TEXT    NOT NULL              -- last time a source brought a change
);
CREATE INDEX papers_title_key ON papers (title_key);
CREATE INDEX papers_upvotes ON papers (upvotes DESC, id);
CREATE INDEX papers_published ON papers (published DESC, id);

-- One row per (list day, paper): "what trended on day D" is a query.
CREATE TABLE daily (
    day         TEXT    NOT NULL,               -- the UTC date asked for (?date=D)
    paper_id    TEXT    NOT NULL REFERENCES papers (id),
    rank        INTEGER NOT NULL,
    upvotes     INTEGER NOT NULL,               -- upvotes at the latest fetch of that day
    fetched_at  TEXT    NOT NULL,
    PRIMARY KEY (day, paper_id)
) WITHOUT ROWID;
CREATE INDEX daily_paper ON daily (paper_id);

-- Ranked search over title, abstract, authors and AI keywords. External content: the text lives once, in papers.
CREATE VIRTUAL TABLE papers_fts USING fts5 (
    title, abstract, authors, ai_keywords,
    content = 'papers', content_rowid = 'pk',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

-- Title-only index with prefix tables, for autocomplete as the user types.
CREATE VIRTUAL TABLE titles_fts USING fts5 (
    title,
    content = 'papers', content_rowid = 'pk',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '1 2 3'
);

CREATE TRIGGER papers_fts_insert AFTER INSERT ON papers BEGIN
    INSERT INTO papers_fts (rowid, title, abstract, authors, ai_keywords)
        VALUES (new.pk, new.title, new.abstract, new.authors, new.ai_keywords);
    INSERT INTO titles_fts (rowid, title) VALUES (new.pk, new.title);
END;

CREATE TRIGGER papers_fts_delete AFTER DELETE ON papers BEGIN
    INSERT INTO papers_fts (papers_fts, rowid, title, abstract, authors, ai_keywords)
        VALUES ('delete', old.pk, old.title, old.abstract, old.authors, old.ai_keywords);
    INSERT INTO titles_fts (titles_fts, rowid, title) VALUES ('delete', old.pk, old.title);
END;

CREATE TRIGGER papers_fts_update AFTER UPDATE OF title, abstract, authors, ai_keywords ON papers BEGIN
    INSERT INTO papers_fts (papers_fts, rowid, title, abstract, authors, ai_keywords)
        VALUES ('delete', old.pk, old.title, old.abstract, old.authors, old.ai_keywords);
    INSERT INTO papers_fts (rowid, title, abstract, authors, ai_keywords)
        VALUES (new.pk, new.title, new.abstract, new.authors, new.ai_keywords);
END;

CREATE TRIGGER titles_fts_update AFTER UPDATE OF title ON papers BEGIN
    INSERT INTO titles_fts (titles_fts, rowid, title) VALUES ('delete', old.pk, old.title);
    INSERT INTO titles_fts (rowid, title) VALUES (new.pk, new.title);
END;
