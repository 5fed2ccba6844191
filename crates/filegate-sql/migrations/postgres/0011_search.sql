-- Search on PostgreSQL: the index lives in the metadata database, so any number of gateways
-- share it with no other server to run (`SearchIndex` in src/postgres/search/).
--
-- A document is what core's `SearchDocument` holds of a file. Its words are core's
-- (`domain::search::words`: runs of letters and digits, lowercased), split in Rust and
-- stored as a `tsvector` built there: PostgreSQL's parser splits otherwise (`ward-a.csv` is
-- one token to it). No stemming and no stop words, as the `simple` configuration would do.
-- Weights: the name A, folders and metadata values B, the external id, bucket and content
-- types C. Texts are kept apart in positions, so a phrase never spans two of them.
--
-- Typo tolerance needs the words a query word may be a typo of: `search_terms` holds every
-- word of a tenant's documents with the number of documents that have it, and a trigram
-- index finds the ones close to a query word (Rust then keeps those within its edit budget).
-- Suggestions complete from the same table: a tenant's names, folders and metadata values,
-- whole and word by word, with the number of documents that have each (and per owner, for a
-- caller who sees only its own files).
--
-- The counts are kept by the transaction that writes the documents (it reads what it
-- replaces, under an advisory lock that writers of the same document share); a count that
-- reaches 0 is deleted.
--
-- pg_trgm is a trusted extension: a database owner may create it without being superuser.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE search_documents (
    tenant         TEXT COLLATE "C" NOT NULL,
    file_id        TEXT COLLATE "C" NOT NULL,
    bucket         TEXT COLLATE "C" NOT NULL,
    path           TEXT COLLATE "C" NOT NULL,
    name           TEXT COLLATE "C" NOT NULL,
    folders        TEXT[]           NOT NULL,
    declared_type  TEXT COLLATE "C" NOT NULL,
    sniffed_type   TEXT COLLATE "C",
    -- What the content_type facet counts: the sniffed type when known, else the declared.
    content_type   TEXT COLLATE "C" GENERATED ALWAYS AS (COALESCE(sniffed_type, declared_type)) STORED,
    metadata       JSONB            NOT NULL,  -- object of strings
    external_id    TEXT COLLATE "C",
    owner          TEXT COLLATE "C" NOT NULL,
    status         TEXT             NOT NULL,
    size           BIGINT           NOT NULL,
    created_at     BIGINT           NOT NULL,  -- microseconds since the epoch, as in `files`
    updated_at     BIGINT           NOT NULL,
    image_width    BIGINT,
    image_height   BIGINT,
    words          TSVECTOR         NOT NULL,
    PRIMARY KEY (tenant, file_id)
);

-- SearchDocument::completions() of each document: what it adds to the suggestion counts,
-- read back when it is replaced or removed. Apart, because only writes read it: every
-- search reads the rows of search_documents it matches, and these would widen them by a
-- third.
CREATE TABLE search_document_completions (
    tenant       TEXT COLLATE "C" NOT NULL,
    file_id      TEXT COLLATE "C" NOT NULL,
    completions  TEXT[]           NOT NULL,
    PRIMARY KEY (tenant, file_id)
);

CREATE INDEX search_documents_words ON search_documents USING gin (words);
-- metadata.KEY=VALUE filters: containment (`@>`).
CREATE INDEX search_documents_metadata ON search_documents USING gin (metadata jsonb_path_ops);
CREATE INDEX search_documents_external_id ON search_documents (tenant, external_id)
    WHERE external_id IS NOT NULL;
-- Searches without words (filters only, newest first) and prefix filters.
CREATE INDEX search_documents_created ON search_documents (tenant, created_at);
CREATE INDEX search_documents_path ON search_documents (tenant, bucket, path);
-- A caller who sees only its own files.
CREATE INDEX search_documents_owner ON search_documents (tenant, owner, created_at);

-- The counts typo tolerance and suggestions read, one row per (tenant, kind, owner, text):
--   'w': a word of the tenant's documents (owner ''), for the words a query word may be a
--        typo of;
--   'c': a completion of the tenant's documents (SearchDocument::completions(): names,
--        folders and metadata values, whole and word by word; owner '');
--   'o': a completion of the documents of `owner`, for a caller who sees only its own files.
-- `files` is how many documents have it. One table, so that a write updates every count it
-- changes in one statement, locking rows in one order (no deadlock between writers).
CREATE TABLE search_terms (
    tenant  TEXT COLLATE "C" NOT NULL,
    kind    TEXT COLLATE "C" NOT NULL CHECK (kind IN ('w', 'c', 'o')),
    owner   TEXT COLLATE "C" NOT NULL,
    text    TEXT COLLATE "C" NOT NULL,
    files   BIGINT           NOT NULL,
    PRIMARY KEY (tenant, kind, owner, text)
);

-- The words close to a query word: `query <% text` (word similarity, so that a prefix being
-- typed also finds the longer words it may begin, typos included).
CREATE INDEX search_terms_trigrams ON search_terms USING gin (text gin_trgm_ops) WHERE kind = 'w';

-- A prefix that begins many completions: walk those of its first character, most files
-- first, until enough begin with the whole prefix (a prefix that begins few is read as a
-- range of the primary key instead).
CREATE INDEX search_terms_popular ON search_terms (tenant, kind, owner, left(text, 1), files DESC, text)
    WHERE kind IN ('c', 'o');
