-- Scene read model: the design's scenes table, its constraints and indexes.
-- Differences from the design, on purpose:
--  * parent_scene_id is ON DELETE SET NULL: a projection must never fail on an order of
--    deletions the command side allowed.
--  * the design's to_tsvector('japanese', ...) index is left out: stock PostgreSQL has no
--    'japanese' text search configuration (Japanese search is a bigram index, see the read API).
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE scenes (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    movie_id UUID NOT NULL,
    scene_number INTEGER,

    start_time_seconds INTEGER NOT NULL,
    end_time_seconds INTEGER NOT NULL,
    duration_seconds INTEGER GENERATED ALWAYS AS (end_time_seconds - start_time_seconds) STORED,

    input_format JSONB DEFAULT '{}',

    level1_classification VARCHAR(10) NOT NULL,
    level2_classification VARCHAR(20) NOT NULL,
    level3_classification VARCHAR(50),

    scene_type VARCHAR(20) DEFAULT 'primary',
    parent_scene_id UUID REFERENCES scenes(id) ON DELETE SET NULL,

    tags TEXT[],
    description TEXT,
    emotional_tags TEXT[],

    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by UUID,

    -- Bookkeeping of the projection: the stream version this row reflects.
    version INTEGER NOT NULL DEFAULT 1,

    CONSTRAINT valid_time_range CHECK (start_time_seconds < end_time_seconds),
    CONSTRAINT valid_level1 CHECK (level1_classification IN ('A', 'R', 'C', 'S', 'D', 'L', 'O')),
    CONSTRAINT valid_time_bounds CHECK (start_time_seconds >= 0 AND end_time_seconds <= 86400),
    CONSTRAINT valid_level2 CHECK (level2_classification ~ ('^' || level1_classification || '[0-9]$')),
    CONSTRAINT valid_level3 CHECK (
        level3_classification IS NULL
        OR level3_classification ~ ('^' || level2_classification || '-[0-9]$')
    ),
    CONSTRAINT valid_scene_type CHECK (scene_type IN ('primary', 'nested', 'parallel'))
);

CREATE INDEX idx_scenes_time_overlap ON scenes
USING GIST (movie_id, int4range(start_time_seconds, end_time_seconds));
CREATE INDEX idx_scenes_classification ON scenes (level1_classification, level2_classification, level3_classification);
CREATE INDEX idx_scenes_movie_time ON scenes (movie_id, start_time_seconds, end_time_seconds);
CREATE INDEX idx_scenes_tags ON scenes USING GIN (tags);
CREATE INDEX idx_scenes_emotional_tags ON scenes USING GIN (emotional_tags);
CREATE INDEX idx_scenes_parent ON scenes (parent_scene_id) WHERE parent_scene_id IS NOT NULL;

-- Projection bookkeeping, written in the same transaction as the read-model change.
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
