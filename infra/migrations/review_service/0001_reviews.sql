-- Review read model: the design's reviews table, and review_likes, ratings and recommendations
-- (named in the design's overview, designed here from intent).
-- user_id, movie_id and scene_id refer to other services: no foreign keys across databases;
-- the command side checks they exist when a row is introduced.

-- The design's reviews table, its constraints and indexes. likes_count, helpful_count and
-- report_count are recomputed from review_likes by the projection (never incremented blindly).
CREATE TABLE reviews (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL,
    movie_id UUID,
    scene_id UUID,

    title VARCHAR(255),
    content TEXT NOT NULL,
    rating INTEGER NOT NULL,

    review_type VARCHAR(20) DEFAULT 'general',

    is_public BOOLEAN DEFAULT TRUE,
    is_spoiler BOOLEAN DEFAULT FALSE,

    likes_count INTEGER DEFAULT 0,
    helpful_count INTEGER DEFAULT 0,
    report_count INTEGER DEFAULT 0,

    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),

    -- Bookkeeping of the projection: the stream version this row reflects.
    version INTEGER NOT NULL DEFAULT 1,

    CONSTRAINT review_target CHECK ((movie_id IS NOT NULL) OR (scene_id IS NOT NULL)),
    CONSTRAINT valid_rating CHECK (rating BETWEEN 1 AND 5),
    CONSTRAINT valid_review_type CHECK (review_type IN ('general', 'professional', 'analysis'))
);

CREATE INDEX idx_reviews_user ON reviews (user_id);
CREATE INDEX idx_reviews_movie ON reviews (movie_id) WHERE movie_id IS NOT NULL;
CREATE INDEX idx_reviews_scene ON reviews (scene_id) WHERE scene_id IS NOT NULL;
CREATE INDEX idx_reviews_rating ON reviews (rating DESC);
CREATE INDEX idx_reviews_public ON reviews (is_public, created_at DESC) WHERE is_public = TRUE;

-- One row per (review, reacting user, kind): 'like', 'helpful' (found it useful) or 'report'
-- (flagged for moderation). The source of the reviews' three counters. The command side also
-- refuses reactions to one's own review and to a private review (rules across tables, not
-- expressible as a CHECK here). Reactions go with their review.
CREATE TABLE review_likes (
    review_id UUID NOT NULL REFERENCES reviews(id) ON DELETE CASCADE,
    user_id UUID NOT NULL,
    kind VARCHAR(20) NOT NULL DEFAULT 'like',
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),

    PRIMARY KEY (review_id, user_id, kind),
    CONSTRAINT valid_reaction_kind CHECK (kind IN ('like', 'helpful', 'report'))
);

CREATE INDEX idx_review_likes_user ON review_likes (user_id);

-- A user's star rating (1-5) of exactly one movie or one scene, without a written review;
-- at most one per user and target (the command side claims "user|target" in the event store).
CREATE TABLE ratings (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL,
    movie_id UUID,
    scene_id UUID,
    rating INTEGER NOT NULL,

    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    version INTEGER NOT NULL DEFAULT 1,

    CONSTRAINT rating_target CHECK (num_nonnulls(movie_id, scene_id) = 1),
    CONSTRAINT valid_rating CHECK (rating BETWEEN 1 AND 5)
);

CREATE UNIQUE INDEX uq_ratings_user_movie ON ratings (user_id, movie_id) WHERE movie_id IS NOT NULL;
CREATE UNIQUE INDEX uq_ratings_user_scene ON ratings (user_id, scene_id) WHERE scene_id IS NOT NULL;
CREATE INDEX idx_ratings_movie ON ratings (movie_id) WHERE movie_id IS NOT NULL;
CREATE INDEX idx_ratings_scene ON ratings (scene_id) WHERE scene_id IS NOT NULL;

-- A user (recommender_id) recommends a movie and/or a scene of it, with a reason and a score
-- (1-5, how strongly), either to one other user (recipient_id) or to everyone (recipient_id
-- NULL). Only the recipient of a directed recommendation may dismiss it (dismissed_at set; the
-- row stays so it is not offered again); the recommender may withdraw it (row deleted). One
-- per recommender, audience and target: a dismissed recommendation cannot be re-sent.
CREATE TABLE recommendations (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    recommender_id UUID NOT NULL,
    recipient_id UUID,
    movie_id UUID,
    scene_id UUID,
    reason TEXT NOT NULL,
    score INTEGER NOT NULL,
    dismissed_at TIMESTAMP WITH TIME ZONE,

    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    version INTEGER NOT NULL DEFAULT 1,

    CONSTRAINT recommendation_target CHECK ((movie_id IS NOT NULL) OR (scene_id IS NOT NULL)),
    CONSTRAINT valid_score CHECK (score BETWEEN 1 AND 5),
    CONSTRAINT valid_reason CHECK (char_length(reason) BETWEEN 1 AND 1000),
    CONSTRAINT not_to_self CHECK (recipient_id IS NULL OR recipient_id <> recommender_id),
    CONSTRAINT only_directed_dismissed CHECK (dismissed_at IS NULL OR recipient_id IS NOT NULL),
    CONSTRAINT uq_recommendation UNIQUE NULLS NOT DISTINCT (recommender_id, recipient_id, movie_id, scene_id)
);

CREATE INDEX idx_recommendations_recipient ON recommendations (recipient_id, created_at DESC)
WHERE recipient_id IS NOT NULL AND dismissed_at IS NULL;
CREATE INDEX idx_recommendations_public ON recommendations (created_at DESC) WHERE recipient_id IS NULL;
CREATE INDEX idx_recommendations_movie ON recommendations (movie_id) WHERE movie_id IS NOT NULL;
