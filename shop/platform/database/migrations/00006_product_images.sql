-- Product images (issue 26): each product holds an ordered list of uploaded pictures,
-- each with its required alt text and the variants (sizes) stored in the image store
-- under content-addressed keys (docs/architecture.md#product-images). products.image_url
-- stays: the catalog's SVGs are the fallback of a product without uploads.
--
-- Expand only: a new table. The previous release never reads it.

-- +goose Up
CREATE TABLE product_images (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id bigint NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    -- The order on the product page; the first is the product's picture in listings.
    position   integer NOT NULL CHECK (position >= 0),
    -- Required: the pages stay WCAG AA (1.1.1 non-text content). Bounds as images.MaxAltLength.
    alt        text NOT NULL CHECK (length(btrim(alt)) BETWEEN 1 AND 250),
    -- The uploaded picture's size (its aspect ratio sizes the <img> before it loads).
    width      integer NOT NULL CHECK (width > 0),
    height     integer NOT NULL CHECK (height > 0),
    -- [{"width": 320, "height": 240, "key": "<sha256>.jpg"}, ...] by increasing width.
    variants   jsonb NOT NULL CHECK (jsonb_typeof(variants) = 'array' AND jsonb_array_length(variants) > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (product_id, position) DEFERRABLE INITIALLY IMMEDIATE
);

-- +goose Down
DROP TABLE product_images;
