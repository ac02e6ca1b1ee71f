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
