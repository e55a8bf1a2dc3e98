-- One cart model (issue 21): a guest's cart is a cart of the cart service, kept here
-- under an id the browser holds in a signed cookie, instead of in the cookie itself.
--
-- Expand only: new tables. The previous release keeps its cookie carts and never reads
-- these.

-- +goose Up
CREATE TABLE guest_carts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Last use: a cart untouched for 7 days is expired (never read, deleted in batches
    -- when new carts are created).
    touched_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX guest_carts_touched_idx ON guest_carts (touched_at);

-- The same rules as cart_items: the quantity cap is the service's (cart.MaxQuantity).
CREATE TABLE guest_cart_items (
    cart_id    bigint NOT NULL REFERENCES guest_carts (id) ON DELETE CASCADE,
    product_id bigint NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    quantity   integer NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    added_at   timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cart_id, product_id)
);
CREATE INDEX guest_cart_items_product_idx ON guest_cart_items (product_id);

-- +goose Down
DROP TABLE guest_cart_items;
DROP TABLE guest_carts;
