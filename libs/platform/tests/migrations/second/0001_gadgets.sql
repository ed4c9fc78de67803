-- The second migrator's table, built on the first's (so it must run after it).
CREATE TABLE gadgets (widget integer PRIMARY KEY REFERENCES widgets (id));
INSERT INTO gadgets (widget) VALUES (1);
