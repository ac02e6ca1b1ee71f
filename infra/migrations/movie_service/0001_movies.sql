-- Movie read model: the design's movies, genres (seeded) and movie_genres, plus production_info
-- and the index tables the denormalised statistics are computed from.
-- Differences from the design, on purpose:
--  * movies.is_public (used by the design's security policies) and version (projection bookkeeping).
--  * language, total_scenes_count and ratings_count are NOT NULL: the events never carry a null.
--  * genres are seeded with fixed ids, uuid5(NAMESPACE_URL, 'sceneledger:genre:' || name_en), so
--    commands validate genre ids without a database (commands/movie.py: GENRES).
--  * movie_genres has at most one primary genre per movie (unique index) and at least one when
--    the movie has genres (statement triggers).
--  * production_info is not specified by the design beyond its name; one row per movie.

CREATE TABLE movies (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    title VARCHAR(500) NOT NULL,
    original_title VARCHAR(500), -- 原題
    release_year INTEGER,
    release_date DATE,

    duration_minutes INTEGER,
    country VARCHAR(100),
    language VARCHAR(10) NOT NULL DEFAULT 'ja',

    director VARCHAR(255),
    screenplay VARCHAR(255),
    producer VARCHAR(255),

    budget_jpy BIGINT, -- 予算（円）
    box_office_jpy BIGINT, -- 興行収入（円）
    distributor VARCHAR(255), -- 配給会社

    is_public BOOLEAN NOT NULL DEFAULT TRUE,

    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),

    -- Denormalised statistics, recomputed from movie_scene_index and movie_review_ratings.
    total_scenes_count INTEGER NOT NULL DEFAULT 0,
    avg_rating DECIMAL(3,2), -- 平均評価
    ratings_count INTEGER NOT NULL DEFAULT 0,

    -- Bookkeeping of the projection: the stream version this row reflects.
    version INTEGER NOT NULL DEFAULT 1,

    CONSTRAINT valid_title CHECK (title <> ''),
    CONSTRAINT valid_release_year CHECK (release_year BETWEEN 1870 AND 2200),
    CONSTRAINT release_date_in_release_year CHECK (
        release_date IS NULL OR release_year IS NULL OR EXTRACT(YEAR FROM release_date) = release_year
    ),
    CONSTRAINT valid_duration CHECK (duration_minutes BETWEEN 1 AND 1440),
    CONSTRAINT valid_budget CHECK (budget_jpy >= 0),
    CONSTRAINT valid_box_office CHECK (box_office_jpy >= 0),
    CONSTRAINT valid_scenes_count CHECK (total_scenes_count >= 0),
    CONSTRAINT valid_ratings CHECK (
        ratings_count >= 0
        AND (avg_rating IS NULL) = (ratings_count = 0)
        AND (avg_rating IS NULL OR avg_rating BETWEEN 1 AND 5)
    )
);

CREATE INDEX idx_movies_title ON movies (title);
CREATE INDEX idx_movies_release_year ON movies (release_year);
CREATE INDEX idx_movies_director ON movies (director);
CREATE INDEX idx_movies_rating ON movies (avg_rating DESC);

CREATE TABLE genres (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name VARCHAR(100) NOT NULL UNIQUE,
    name_en VARCHAR(100) UNIQUE, -- 英語名
    description TEXT,
    color_code VARCHAR(7), -- UI表示用カラーコード

    CONSTRAINT valid_color_code CHECK (color_code ~ '^#[0-9a-fA-F]{6}$')
);

INSERT INTO genres (id, name, name_en, color_code) VALUES
('ff3c6f9c-2ea2-5534-a76f-adbdb6507252', 'アクション', 'Action', '#ef4444'),
('3e78d81b-b4a4-5d30-861e-b97b2d356f44', '恋愛', 'Romance', '#f97316'),
('cebda8cd-8071-539e-aca8-2d50d468365f', 'コメディ', 'Comedy', '#eab308'),
('2f95acd5-133a-5134-8d33-12f577d229fc', 'ドラマ', 'Drama', '#3b82f6'),
('b92e4231-599f-53a2-9550-6f3cbec30c42', 'ホラー', 'Horror', '#7c2d12'),
('8c0323fb-1b7c-54a6-b737-b0106b99f0a2', 'サスペンス', 'Suspense', '#8b5cf6'),
('3ed1d0fd-8bf7-5a9a-b301-a5c37b26961b', 'SF', 'Science Fiction', '#06b6d4'),
('3ae2ba53-bfb2-5cab-929d-35026fcf7e07', 'ファンタジー', 'Fantasy', '#10b981');

CREATE TABLE movie_genres (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    movie_id UUID NOT NULL REFERENCES movies(id) ON DELETE CASCADE,
    genre_id UUID NOT NULL REFERENCES genres(id) ON DELETE CASCADE,
    is_primary BOOLEAN NOT NULL DEFAULT FALSE, -- メインジャンルフラグ

    UNIQUE(movie_id, genre_id)
);

CREATE INDEX idx_movie_genres_movie ON movie_genres (movie_id);
CREATE INDEX idx_movie_genres_genre ON movie_genres (genre_id);
CREATE INDEX idx_movie_genres_primary ON movie_genres (is_primary) WHERE is_primary = TRUE;
CREATE UNIQUE INDEX uq_movie_genres_one_primary ON movie_genres (movie_id) WHERE is_primary;

-- A movie with genres has a primary one. Checked after each statement (not deferred to commit)
-- so that a violation fails the projection's apply, where it is dead-lettered, not the commit.
CREATE FUNCTION check_movie_primary_genre() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
    offending UUID;
BEGIN
    SELECT c.movie_id INTO offending
    FROM (SELECT DISTINCT movie_id FROM changed_rows) AS c
    WHERE EXISTS (SELECT 1 FROM movie_genres g WHERE g.movie_id = c.movie_id)
      AND NOT EXISTS (SELECT 1 FROM movie_genres g WHERE g.movie_id = c.movie_id AND g.is_primary)
    LIMIT 1;
    IF offending IS NOT NULL THEN
        RAISE EXCEPTION 'movie % has genres but no primary genre', offending
            USING ERRCODE = 'check_violation', CONSTRAINT = 'movie_genres_one_primary';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tr_movie_genres_primary_insert AFTER INSERT ON movie_genres
REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION check_movie_primary_genre();
CREATE TRIGGER tr_movie_genres_primary_update_old AFTER UPDATE ON movie_genres
REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION check_movie_primary_genre();
CREATE TRIGGER tr_movie_genres_primary_update_new AFTER UPDATE ON movie_genres
REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION check_movie_primary_genre();
CREATE TRIGGER tr_movie_genres_primary_delete AFTER DELETE ON movie_genres
REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION check_movie_primary_genre();

-- How a movie was made: one row per movie, replaced whole by each MovieProductionInfoRecorded.
CREATE TABLE production_info (
    movie_id UUID PRIMARY KEY REFERENCES movies(id) ON DELETE CASCADE,
    production_companies TEXT[] NOT NULL DEFAULT '{}', -- 制作会社
    studio VARCHAR(255), -- 撮影スタジオ
    filming_locations TEXT[] NOT NULL DEFAULT '{}', -- ロケ地
    filming_start_date DATE,
    filming_end_date DATE,
    film_format VARCHAR(50), -- 35mm, 70mm, digital, IMAX, ...
    aspect_ratio VARCHAR(10), -- 2.39:1, 16:9, ...
    original_language VARCHAR(10),
    notes TEXT,

    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),

    CONSTRAINT valid_filming_period CHECK (filming_start_date <= filming_end_date),
    CONSTRAINT valid_aspect_ratio CHECK (aspect_ratio ~ '^[0-9]{1,2}(\.[0-9]{1,2})?:[0-9]{1,2}$'),
    CONSTRAINT valid_production_companies CHECK (
        cardinality(production_companies) <= 50
        AND array_position(production_companies, NULL) IS NULL
        AND NOT ('' = ANY (production_companies))
    ),
    CONSTRAINT valid_filming_locations CHECK (
        cardinality(filming_locations) <= 50
        AND array_position(filming_locations, NULL) IS NULL
        AND NOT ('' = ANY (filming_locations))
    ),
    CONSTRAINT valid_notes CHECK (char_length(notes) <= 10000)
);

CREATE INDEX idx_production_info_companies ON production_info USING GIN (production_companies);

-- What the statistics are computed from: facts of other services, kept whatever the arrival
-- order (a scene or review may be projected before its movie). No foreign key to movies, on
-- purpose: the movie row may not exist yet, or may have been removed while its scenes live on.
CREATE TABLE movie_scene_index (
    scene_id UUID PRIMARY KEY,
    movie_id UUID NOT NULL
);
CREATE INDEX idx_movie_scene_index_movie ON movie_scene_index (movie_id);

-- Ratings of live reviews of a movie itself (reviews of one of its scenes are not here).
CREATE TABLE movie_review_ratings (
    review_id UUID PRIMARY KEY,
    movie_id UUID NOT NULL,
    rating SMALLINT NOT NULL,

    CONSTRAINT valid_rating CHECK (rating BETWEEN 1 AND 5)
);
CREATE INDEX idx_movie_review_ratings_movie ON movie_review_ratings (movie_id);
