-- Denormalised statistics and the local caches of other services' data (Scene service).
-- Differences from the design, on purpose:
--  * movie_scene_stats is written by the scenes projection, never by a trigger: after each
--    event it recomputes the touched movie's row from scenes, scene_actors and scene_dialogues
--    (order-independent, so redelivery and replays give the same figures). Hence no
--    update_movie_stats() / tr_scenes_stats_update. Counters are NOT NULL and non-negative.
--  * the caches are fed by events (movies.events, actors.events) through the scene_caches
--    projection: a registration inserts version 1, each revision bumps version and sets
--    cached_at to the event's time and expires_at to one hour later, a removal deletes the row.
--    The design's update_cache_timestamp() trigger is replaced by that projection logic (a
--    trigger would stamp the replay time instead of the event time). expires_at is kept for
--    readers that want a freshness bound; nothing refetches, the next event refreshes the row.
--  * external_movies_cache has is_public (the design's RLS policies on scenes read it).

CREATE TABLE movie_scene_stats (
    movie_id UUID PRIMARY KEY,
    total_scenes INTEGER NOT NULL DEFAULT 0,
    total_duration_seconds INTEGER NOT NULL DEFAULT 0,

    action_scenes_count INTEGER NOT NULL DEFAULT 0,
    romance_scenes_count INTEGER NOT NULL DEFAULT 0,
    dialogue_scenes_count INTEGER NOT NULL DEFAULT 0,
    comedy_scenes_count INTEGER NOT NULL DEFAULT 0,
    drama_scenes_count INTEGER NOT NULL DEFAULT 0,
    suspense_scenes_count INTEGER NOT NULL DEFAULT 0,
    other_scenes_count INTEGER NOT NULL DEFAULT 0,

    memorable_quotes_count INTEGER NOT NULL DEFAULT 0,
    total_dialogues_count INTEGER NOT NULL DEFAULT 0,

    unique_actors_count INTEGER NOT NULL DEFAULT 0,

    last_updated TIMESTAMP WITH TIME ZONE DEFAULT NOW(),

    CONSTRAINT valid_stats_counts CHECK (
        total_scenes >= 0 AND total_duration_seconds >= 0
        AND action_scenes_count >= 0 AND romance_scenes_count >= 0 AND dialogue_scenes_count >= 0
        AND comedy_scenes_count >= 0 AND drama_scenes_count >= 0 AND suspense_scenes_count >= 0
        AND other_scenes_count >= 0 AND memorable_quotes_count >= 0 AND total_dialogues_count >= 0
        AND unique_actors_count >= 0
    )
);

CREATE TABLE external_movies_cache (
    id UUID PRIMARY KEY,
    title VARCHAR(500) NOT NULL,
    release_year INTEGER,
    duration_minutes INTEGER,
    director VARCHAR(255),
    is_public BOOLEAN NOT NULL DEFAULT TRUE,

    cached_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    expires_at TIMESTAMP WITH TIME ZONE DEFAULT NOW() + INTERVAL '1 hour',
    version INTEGER DEFAULT 1
);

CREATE TABLE external_actors_cache (
    id UUID PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    name_kana VARCHAR(255),

    cached_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    expires_at TIMESTAMP WITH TIME ZONE DEFAULT NOW() + INTERVAL '1 hour',
    version INTEGER DEFAULT 1
);
