-- Notes: written by customers, and one by every confirmed order.
CREATE TABLE note (
    id         uuid PRIMARY KEY,
    author_id  uuid        NOT NULL,
    text       text        NOT NULL CHECK (length(text) BETWEEN 1 AND 2000),
    created_at timestamptz NOT NULL
);

CREATE INDEX note_author ON note (author_id, created_at);
