-- User read model: the design's users, watch_lists and user_scene_interactions tables, the
-- user_profiles and user_preferences tables the design names (columns from their intent), and
-- the scene index behind watch_lists.total_scenes_count.
-- Differences from the design, on purpose:
--  * users.email holds the address as the command side normalised it (trimmed, lower-cased),
--    so UNIQUE means unique regardless of case. No lower() CHECK: PostgreSQL's and Python's case
--    mappings differ on some non-ASCII letters, and the read model must accept every event.
--  * status, priority, watched_scenes_count and the booleans are NOT NULL: the projection always
--    writes them, and NULL would slip past the CHECKs.
--  * priority and the scene counts get the range CHECKs their comments describe (1-10, >= 0).
--  * users.version is projection bookkeeping: the user stream version the user's rows reflect.

CREATE TABLE users (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    email VARCHAR(255) UNIQUE NOT NULL,
    password_hash VARCHAR(255) NOT NULL,

    -- Profile
    display_name VARCHAR(100),
    avatar_url VARCHAR(500),

    -- Role
    role VARCHAR(50) NOT NULL DEFAULT 'viewer',
    is_verified BOOLEAN NOT NULL DEFAULT FALSE,

    -- Settings
    language VARCHAR(10) NOT NULL DEFAULT 'ja',
    timezone VARCHAR(50) NOT NULL DEFAULT 'Asia/Tokyo',

    -- System
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    last_login_at TIMESTAMP WITH TIME ZONE,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,

    version INTEGER NOT NULL DEFAULT 1,

    CONSTRAINT valid_role CHECK (role IN ('viewer', 'contributor', 'professional', 'admin')),
    CONSTRAINT valid_email CHECK (email LIKE '_%@_%')
);

CREATE INDEX idx_users_email ON users (email);
CREATE INDEX idx_users_role ON users (role);
CREATE INDEX idx_users_active ON users (is_active) WHERE is_active = TRUE;

-- One row per user, created with the user.
CREATE TABLE user_profiles (
    user_id UUID PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    bio TEXT,
    birth_year INTEGER,
    country VARCHAR(2),
    favourite_genre_ids UUID[] NOT NULL DEFAULT '{}',
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),

    CONSTRAINT valid_bio CHECK (char_length(bio) <= 2000),
    CONSTRAINT valid_birth_year CHECK (birth_year BETWEEN 1900 AND 2100),
    CONSTRAINT valid_country CHECK (country ~ '^[A-Z]{2}$')
);

CREATE INDEX idx_user_profiles_country ON user_profiles (country) WHERE country IS NOT NULL;
CREATE INDEX idx_user_profiles_genres ON user_profiles USING GIN (favourite_genre_ids);

-- One row per user, created with the user (language and timezone stay on users, as designed).
CREATE TABLE user_preferences (
    user_id UUID PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    preferred_languages TEXT[] NOT NULL DEFAULT '{}',
    show_spoilers BOOLEAN NOT NULL DEFAULT FALSE,
    preferred_level1_classes TEXT[] NOT NULL DEFAULT '{}',
    email_notifications BOOLEAN NOT NULL DEFAULT TRUE,
    push_notifications BOOLEAN NOT NULL DEFAULT FALSE,
    notify_watch_list_updates BOOLEAN NOT NULL DEFAULT TRUE,
    notify_review_replies BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),

    CONSTRAINT valid_level1_classes CHECK (
        preferred_level1_classes <@ ARRAY['A', 'R', 'C', 'S', 'D', 'L', 'O']::TEXT[]
    )
);

CREATE TABLE watch_lists (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    movie_id UUID NOT NULL, -- Movie service reference

    -- Status
    status VARCHAR(20) NOT NULL DEFAULT 'want_to_watch',
    priority INTEGER NOT NULL DEFAULT 5, -- 1 (high) - 10 (low)

    -- Progress
    watched_scenes_count INTEGER NOT NULL DEFAULT 0,
    total_scenes_count INTEGER, -- live scenes of the movie (from user_movie_scene_index)
    last_watched_scene_id UUID,

    -- Metadata
    notes TEXT,
    tags TEXT[],

    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),

    UNIQUE (user_id, movie_id),
    CONSTRAINT valid_status CHECK (status IN ('want_to_watch', 'watching', 'watched', 'dropped')),
    CONSTRAINT valid_priority CHECK (priority BETWEEN 1 AND 10),
    CONSTRAINT valid_watched_scenes_count CHECK (watched_scenes_count >= 0),
    CONSTRAINT valid_total_scenes_count CHECK (total_scenes_count >= 0)
);

CREATE INDEX idx_watch_lists_user ON watch_lists (user_id);
CREATE INDEX idx_watch_lists_status ON watch_lists (user_id, status);
CREATE INDEX idx_watch_lists_priority ON watch_lists (user_id, priority);
-- total_scenes_count is recomputed per movie when that movie's scenes change.
CREATE INDEX idx_watch_lists_movie ON watch_lists (movie_id);

CREATE TABLE user_scene_interactions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    scene_id UUID NOT NULL, -- Scene service reference

    interaction_type VARCHAR(50) NOT NULL, -- view, like, favorite, share, comment

    metadata JSONB DEFAULT '{}',

    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),

    UNIQUE (user_id, scene_id, interaction_type),
    CONSTRAINT valid_interaction CHECK (interaction_type IN ('view', 'like', 'favorite', 'share', 'comment'))
);

CREATE INDEX idx_user_interactions_user ON user_scene_interactions (user_id);
CREATE INDEX idx_user_interactions_scene ON user_scene_interactions (scene_id);
CREATE INDEX idx_user_interactions_type ON user_scene_interactions (interaction_type);

-- The live scenes of every movie, from scenes.events: what watch_lists.total_scenes_count is
-- recomputed from, whichever of a scene and a watch-list entry is projected first.
CREATE TABLE user_movie_scene_index (
    scene_id UUID PRIMARY KEY,
    movie_id UUID NOT NULL
);

CREATE INDEX idx_user_movie_scene_index_movie ON user_movie_scene_index (movie_id);
