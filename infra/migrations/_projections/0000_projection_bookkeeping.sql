-- Projection bookkeeping, created in every service database before its own migrations.
-- Last applied version per stream: a redelivered or replayed event is a no-op.
CREATE TABLE projection_stream_versions (
    projection TEXT NOT NULL,
    stream_id UUID NOT NULL,
    stream_version INTEGER NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (projection, stream_id)
);

-- Consumer progress per topic partition: next offset and the log position it reflects.
CREATE TABLE projection_offsets (
    projection TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset BIGINT NOT NULL,
    last_position BIGINT NOT NULL,
    last_event_at TIMESTAMP WITH TIME ZONE,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    PRIMARY KEY (projection, topic, partition)
);

-- Events a projection could not apply. While a stream has an unresolved dead letter, its
-- later events are parked here too, so per-stream order is kept.
CREATE TABLE projection_dead_letters (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    projection TEXT NOT NULL,
    -- NULL when the record could not even be decoded into an event.
    stream_id UUID,
    stream_version INTEGER,
    position BIGINT,
    event_id UUID,
    event_type TEXT,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    "offset" BIGINT NOT NULL,
    headers JSONB NOT NULL,
    value BYTEA NOT NULL,
    error TEXT NOT NULL,
    parked_behind BIGINT REFERENCES projection_dead_letters(id),
    resolved_at TIMESTAMP WITH TIME ZONE,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    UNIQUE (projection, event_id),
    UNIQUE (projection, topic, partition, "offset")
);
CREATE INDEX idx_dead_letters_open ON projection_dead_letters (projection, stream_id) WHERE resolved_at IS NULL;
