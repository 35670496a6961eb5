-- Nothing reads papers in date order through SQL any more: sorting by date ("newest") and the since:/until:
-- filters run in the keyword index (its `published` fast field), and the PostgreSQL backend never had this
-- index. Keeping it cost every paper write an index insert — ~6% of a snapshot import's time at 1M papers
-- (bench/README.md, issue 9).
-- Never edit this file once released: add 0009_… instead.
DROP INDEX IF EXISTS papers_published;
