-- Listing by price, cheapest or dearest first, ties by name then id (keyset pagination). One
-- index per direction: the tie-breakers run ascending in both.
CREATE INDEX product_listing_price_ascending ON product (price_minor, lower(name), id);
CREATE INDEX product_listing_price_descending ON product (price_minor DESC, lower(name), id);
