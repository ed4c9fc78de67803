-- A table of the first migrator.
CREATE TABLE widgets (id integer PRIMARY KEY);
