-- What a search reads of a product, in a narrow table of its own (issue 21): the
-- full-text matches of a term are found by this table's index and read from its heap,
-- and a row here is about half a products row (no description, attributes, stock,
-- currency, slug): at 20,000 products a term of 1,300 matches reads 541 pages here
-- against 810 of products, 7% off the search statement (docs/benchmarks.md). Stock
-- moves with every order and never touches this table, so its pages stay free of the
-- dead versions that orders leave in products.
--
-- products.search_vector stays the source (products_search_vector() computes it, with
-- the category's name); products_sync_search() copies each product's searched columns
-- here after every insert and every update of them, and the foreign key deletes the row
-- with its product.
--
-- Expand only: products.search_vector and products_search_idx stay, since the previous
-- release searches them while a rollout runs; a later release drops the index.

-- +goose Up
CREATE TABLE product_search (
    product_id    bigint PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
    category_id   bigint NOT NULL,
    price_minor   bigint NOT NULL,
    created_at    timestamptz NOT NULL,
    name          text NOT NULL,
    search_vector tsvector NOT NULL
);

-- +goose StatementBegin
CREATE FUNCTION products_sync_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO product_search (product_id, category_id, price_minor, created_at, name, search_vector)
    VALUES (NEW.id, NEW.category_id, NEW.price_minor, NEW.created_at, NEW.name, NEW.search_vector)
    ON CONFLICT (product_id) DO UPDATE SET
        category_id = EXCLUDED.category_id, price_minor = EXCLUDED.price_minor,
        created_at = EXCLUDED.created_at, name = EXCLUDED.name, search_vector = EXCLUDED.search_vector;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- The columns an UPDATE names, not those a BEFORE trigger changes: description and
-- category_id change search_vector through products_search_vector().
CREATE TRIGGER products_sync_search_trg
    AFTER INSERT OR UPDATE OF category_id, price_minor, created_at, name, description, search_vector ON products
    FOR EACH ROW EXECUTE FUNCTION products_sync_search();

INSERT INTO product_search (product_id, category_id, price_minor, created_at, name, search_vector)
SELECT id, category_id, price_minor, created_at, name, search_vector FROM products;

-- fastupdate off: a GIN index otherwise queues new entries in a pending list that every
-- search scans in full until a vacuum merges it (1,509 entries after the seed's COPY, a
-- quarter of the search's time in PostgreSQL). PostgreSQL 15 docs, "GIN Fast Update
-- Technique": "If consistent response time is more important than update speed, use of
-- pending entries can be disabled by turning off the fastupdate storage parameter."
-- Catalog edits are rare; searches are not.
CREATE INDEX product_search_vector_idx ON product_search USING gin (search_vector) WITH (fastupdate = off);

-- +goose Down
DROP TRIGGER products_sync_search_trg ON products;
DROP FUNCTION products_sync_search();
DROP TABLE product_search;
