-- Fails if applied twice: the key is taken.
INSERT INTO widgets (id) VALUES (1);
