-- Actor read model: the design's actors and filmography tables, the actor_relationships and
-- character_roles tables the design names without columns, and the index tables the
-- denormalised figures are recomputed from.
-- Differences from the design, on purpose:
--  * actors.version and filmography.updated_at are projection bookkeeping.
--  * the figures (total_movies_count, total_scenes_count, avg_rating, filmography.total_scenes)
--    are written by the projection from actor_scene_index and actor_movie_ratings, never by
--    triggers: scene and review events arrive from other topics in any order relative to the
--    actor's own events.
--  * extra CHECKs mirror the command side's rules (kana-only furigana, http(s) website,
--    no debut before birth, years and minutes in range).

CREATE TABLE actors (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name VARCHAR(255) NOT NULL,
    name_en VARCHAR(255),
    name_kana VARCHAR(255),

    birth_date DATE,
    birth_place VARCHAR(255),
    gender VARCHAR(20),
    height_cm INTEGER,

    debut_year INTEGER,
    agency VARCHAR(255),

    biography TEXT,
    official_website VARCHAR(500),

    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),

    total_movies_count INTEGER DEFAULT 0,
    total_scenes_count INTEGER DEFAULT 0,
    avg_rating DECIMAL(3,2),

    -- Bookkeeping of the projection: the stream version this row reflects.
    version INTEGER NOT NULL DEFAULT 1,

    CONSTRAINT valid_name CHECK (name <> ''),
    CONSTRAINT valid_name_kana CHECK (name_kana ~ '^[ぁ-ゟ゠-ヿㇰ-ㇿｦ-ﾟ 　]+$'),
    CONSTRAINT valid_height CHECK (height_cm BETWEEN 30 AND 300),
    CONSTRAINT valid_debut_year CHECK (debut_year BETWEEN 1870 AND 2200),
    CONSTRAINT debut_after_birth CHECK (debut_year >= EXTRACT(YEAR FROM birth_date)),
    CONSTRAINT valid_website CHECK (official_website ~* '^https?://'),
    CONSTRAINT valid_totals CHECK (total_movies_count >= 0 AND total_scenes_count >= 0),
    CONSTRAINT valid_avg_rating CHECK (avg_rating BETWEEN 1 AND 5)
);

CREATE INDEX idx_actors_name ON actors (name);
CREATE INDEX idx_actors_name_kana ON actors (name_kana);
CREATE INDEX idx_actors_debut_year ON actors (debut_year);
-- NULL birth dates are distinct here, so the command side claims name + birth date only
-- when the birth date is set.
CREATE UNIQUE INDEX idx_actors_name_birth ON actors (name, birth_date);
-- Furigana prefix search (LIKE 'x%') under any collation.
CREATE INDEX idx_actors_name_kana_prefix ON actors (name_kana text_pattern_ops);

CREATE TABLE filmography (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    actor_id UUID NOT NULL REFERENCES actors(id) ON DELETE CASCADE,
    movie_id UUID NOT NULL,

    character_name VARCHAR(255),
    role_type VARCHAR(50) DEFAULT 'supporting',
    billing_order INTEGER,

    screen_time_minutes INTEGER,
    total_scenes INTEGER DEFAULT 0,

    notes TEXT,
    award_nominations TEXT[],

    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),

    UNIQUE(actor_id, movie_id),
    CONSTRAINT valid_role_type CHECK (role_type IN ('lead', 'supporting', 'cameo', 'voice')),
    CONSTRAINT valid_billing_order CHECK (billing_order >= 1),
    CONSTRAINT valid_screen_time CHECK (screen_time_minutes BETWEEN 0 AND 1440),
    CONSTRAINT valid_total_scenes CHECK (total_scenes >= 0)
);

CREATE INDEX idx_filmography_actor ON filmography (actor_id);
CREATE INDEX idx_filmography_movie ON filmography (movie_id);
CREATE INDEX idx_filmography_role_type ON filmography (role_type);
CREATE INDEX idx_filmography_billing ON filmography (billing_order);

-- Relationships between two actors, recorded on the stream of one of them (actor_id).
-- parent_child and mentor read actor_id -> related_actor_id ("parent of", "mentor of"); the
-- other types are symmetric. related_actor_id has no foreign key: the other actor's events
-- come from another stream and may be applied later.
CREATE TABLE actor_relationships (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    actor_id UUID NOT NULL REFERENCES actors(id) ON DELETE CASCADE,
    related_actor_id UUID NOT NULL,
    relation_type VARCHAR(30) NOT NULL,
    since_year INTEGER,
    until_year INTEGER,
    notes TEXT,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),

    CONSTRAINT no_self_relationship CHECK (actor_id <> related_actor_id),
    CONSTRAINT valid_relation_type CHECK (
        relation_type IN ('spouse', 'sibling', 'parent_child', 'mentor', 'frequent_collaborator', 'rival')
    ),
    CONSTRAINT valid_relation_years CHECK (
        since_year BETWEEN 1800 AND 2200 AND until_year BETWEEN 1800 AND 2200 AND until_year >= since_year
    )
);

-- One relationship of a type per unordered pair of actors, whichever of the two recorded it.
CREATE UNIQUE INDEX idx_actor_relationships_pair ON actor_relationships (
    LEAST(actor_id, related_actor_id), GREATEST(actor_id, related_actor_id), relation_type
);
CREATE INDEX idx_actor_relationships_actor ON actor_relationships (actor_id);
CREATE INDEX idx_actor_relationships_related ON actor_relationships (related_actor_id);
CREATE INDEX idx_actor_relationships_type ON actor_relationships (relation_type);

-- Characters an actor plays in a movie of their filmography (several per movie allowed: dual
-- roles); the same character name across movies and actors tracks a franchise role.
CREATE TABLE character_roles (
    id UUID PRIMARY KEY,
    actor_id UUID NOT NULL,
    movie_id UUID NOT NULL,
    character_name VARCHAR(255) NOT NULL,
    description TEXT,
    is_main BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),

    UNIQUE (actor_id, movie_id, character_name),
    FOREIGN KEY (actor_id, movie_id) REFERENCES filmography (actor_id, movie_id) ON DELETE CASCADE,
    CONSTRAINT valid_character_name CHECK (character_name <> '')
);

CREATE INDEX idx_character_roles_actor ON character_roles (actor_id);
CREATE INDEX idx_character_roles_movie ON character_roles (movie_id);
CREATE INDEX idx_character_roles_name ON character_roles (character_name);

-- Removed actors, so a relationship event applied after the other actor's removal is dropped.
CREATE TABLE removed_actors (
    actor_id UUID PRIMARY KEY,
    removed_at TIMESTAMP WITH TIME ZONE NOT NULL
);

-- Index tables of other services' facts, kept whatever the order of arrival.
-- The scenes each actor appears in (from SceneActorAdded / SceneActorRemoved / SceneDeleted).
CREATE TABLE actor_scene_index (
    scene_id UUID NOT NULL,
    actor_id UUID NOT NULL,
    movie_id UUID NOT NULL,
    PRIMARY KEY (scene_id, actor_id)
);
CREATE INDEX idx_actor_scene_index_actor_movie ON actor_scene_index (actor_id, movie_id);

-- Live movie reviews' ratings (from ReviewPosted / ReviewRevised / ReviewDeleted, scene_id null).
CREATE TABLE actor_movie_ratings (
    review_id UUID PRIMARY KEY,
    movie_id UUID NOT NULL,
    rating INTEGER NOT NULL,
    CONSTRAINT valid_rating CHECK (rating BETWEEN 1 AND 5)
);
CREATE INDEX idx_actor_movie_ratings_movie ON actor_movie_ratings (movie_id);
