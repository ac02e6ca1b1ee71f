"""The design's own SQL against our read models: what runs unchanged, and every difference, with its reason.

The design is ``shared/seeds/000_f5cf44adcbb8e168.txt`` (データベース設計案). Its CREATE TABLE column
lists, constraints, indexes and queries are copied below from its text (comment-only lines dropped,
everything else verbatim) and run against the databases our migrations build. Where ours differs on
purpose, the difference is data here, with its reason, and ``docs/design-differences.md`` lists it;
the tests check that each documented difference is still real, so the document stays true.

Every test runs in a transaction that is rolled back (or, for the one statement that cannot run in a
transaction, on session-local objects): the shared session namespace is left as it was found.
"""

# ruff: noqa: E501  the design's SQL is copied verbatim, long lines included

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NamedTuple
from uuid import UUID, uuid4

import asyncpg
import pytest

from infra.settings import SERVICE_DATABASES, Settings

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[2] / "infra" / "migrations"

ALL_DATABASES = tuple(SERVICE_DATABASES)
"""Every database (the event store and each service's): each has the design's schema_migrations."""

SCRATCH = "design_ref"
"""Schema, created inside a test's transaction, where the design's own DDL is run for comparison."""


class DesignTable(NamedTuple):
    """A CREATE TABLE of the design: where it lives here, its column lines and its table constraints."""

    databases: tuple[str, ...]
    columns: tuple[str, ...]
    constraints: tuple[str, ...] = ()


class KnownFailure(NamedTuple):
    """A design statement that cannot run here as written: the exact error, and why."""

    sqlstate: str
    message: str
    reason: str


# --- The design's CREATE TABLE statements (スキーマ設計詳細 and later sections) -------------------------

DESIGN_TABLES: dict[str, DesignTable] = {
    "scenes": DesignTable(
        ("scene",),
        (
            "id UUID PRIMARY KEY DEFAULT gen_random_uuid()",
            "movie_id UUID NOT NULL",
            "scene_number INTEGER",
            "start_time_seconds INTEGER NOT NULL",
            "end_time_seconds INTEGER NOT NULL",
            "duration_seconds INTEGER GENERATED ALWAYS AS (end_time_seconds - start_time_seconds) STORED",
            "input_format JSONB DEFAULT '{}'",
            "level1_classification VARCHAR(10) NOT NULL",
            "level2_classification VARCHAR(20) NOT NULL",
            "level3_classification VARCHAR(50)",
            "scene_type VARCHAR(20) DEFAULT 'primary'",
            "parent_scene_id UUID REFERENCES scenes(id)",
            "tags TEXT[]",
            "description TEXT",
            "emotional_tags TEXT[]",
            "created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
            "updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
            "created_by UUID",
        ),
        (
            "CONSTRAINT valid_time_range CHECK (start_time_seconds < end_time_seconds)",
            "CONSTRAINT valid_level1 CHECK (level1_classification IN ('A', 'R', 'C', 'S', 'D', 'L', 'O'))",
        ),
    ),
    "scene_actors": DesignTable(
        ("scene",),
        (
            "id UUID PRIMARY KEY DEFAULT gen_random_uuid()",
            "scene_id UUID NOT NULL REFERENCES scenes(id) ON DELETE CASCADE",
            "actor_id UUID NOT NULL",
            "character_name VARCHAR(255)",
            "role_type VARCHAR(50) DEFAULT 'supporting'",
            "screen_time_seconds INTEGER",
            "created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
        ),
        ("UNIQUE(scene_id, actor_id)",),
    ),
    "scene_dialogues": DesignTable(
        ("scene",),
        (
            "id UUID PRIMARY KEY DEFAULT gen_random_uuid()",
            "scene_id UUID NOT NULL REFERENCES scenes(id) ON DELETE CASCADE",
            "actor_id UUID NOT NULL",
            "character_name VARCHAR(255)",
            "dialogue_text TEXT NOT NULL",
            "start_time_offset INTEGER",
            "duration_seconds INTEGER",
            "is_memorable_quote BOOLEAN DEFAULT FALSE",
            "dialogue_type VARCHAR(50)",
            "emotional_tone VARCHAR(50)",
            "language VARCHAR(10) DEFAULT 'ja'",
            "subtitle_text TEXT",
            "created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
            "updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
        ),
    ),
    "parallel_scene_groups": DesignTable(
        ("scene",),
        (
            "id UUID PRIMARY KEY DEFAULT gen_random_uuid()",
            "movie_id UUID NOT NULL",
            "group_name VARCHAR(255)",
            "start_time_seconds INTEGER NOT NULL",
            "end_time_seconds INTEGER NOT NULL",
            "relation_type VARCHAR(50) NOT NULL",
            "description TEXT",
            "narrative_purpose TEXT",
            "created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
        ),
        (
            "CONSTRAINT valid_relation_type CHECK (relation_type IN ('split_screen', 'parallel_narrative', 'overlapping_events'))",
        ),
    ),
    "parallel_scene_members": DesignTable(
        ("scene",),
        (
            "id UUID PRIMARY KEY DEFAULT gen_random_uuid()",
            "group_id UUID NOT NULL REFERENCES parallel_scene_groups(id) ON DELETE CASCADE",
            "scene_id UUID NOT NULL REFERENCES scenes(id) ON DELETE CASCADE",
            "display_position VARCHAR(50)",
            "narrative_role VARCHAR(50)",
            "created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
        ),
        ("UNIQUE(group_id, scene_id)",),
    ),
    "movies": DesignTable(
        ("movie",),
        (
            "id UUID PRIMARY KEY DEFAULT gen_random_uuid()",
            "title VARCHAR(500) NOT NULL",
            "original_title VARCHAR(500)",
            "release_year INTEGER",
            "release_date DATE",
            "duration_minutes INTEGER",
            "country VARCHAR(100)",
            "language VARCHAR(10) DEFAULT 'ja'",
            "director VARCHAR(255)",
            "screenplay VARCHAR(255)",
            "producer VARCHAR(255)",
            "budget_jpy BIGINT",
            "box_office_jpy BIGINT",
            "distributor VARCHAR(255)",
            "created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
            "updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
            "total_scenes_count INTEGER DEFAULT 0",
            "avg_rating DECIMAL(3,2)",
            "ratings_count INTEGER DEFAULT 0",
        ),
    ),
    "genres": DesignTable(
        ("movie",),
        (
            "id UUID PRIMARY KEY DEFAULT gen_random_uuid()",
            "name VARCHAR(100) NOT NULL UNIQUE",
            "name_en VARCHAR(100)",
            "description TEXT",
            "color_code VARCHAR(7)",
        ),
    ),
    "movie_genres": DesignTable(
        ("movie",),
        (
            "id UUID PRIMARY KEY DEFAULT gen_random_uuid()",
            "movie_id UUID NOT NULL REFERENCES movies(id) ON DELETE CASCADE",
            "genre_id UUID NOT NULL REFERENCES genres(id) ON DELETE CASCADE",
            "is_primary BOOLEAN DEFAULT FALSE",
        ),
        ("UNIQUE(movie_id, genre_id)",),
    ),
    "actors": DesignTable(
        ("actor",),
        (
            "id UUID PRIMARY KEY DEFAULT gen_random_uuid()",
            "name VARCHAR(255) NOT NULL",
            "name_en VARCHAR(255)",
            "name_kana VARCHAR(255)",
            "birth_date DATE",
            "birth_place VARCHAR(255)",
            "gender VARCHAR(20)",
            "height_cm INTEGER",
            "debut_year INTEGER",
            "agency VARCHAR(255)",
            "biography TEXT",
            "official_website VARCHAR(500)",
            "created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
            "updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
            "total_movies_count INTEGER DEFAULT 0",
            "total_scenes_count INTEGER DEFAULT 0",
            "avg_rating DECIMAL(3,2)",
        ),
    ),
    "filmography": DesignTable(
        ("actor",),
        (
            "id UUID PRIMARY KEY DEFAULT gen_random_uuid()",
            "actor_id UUID NOT NULL REFERENCES actors(id) ON DELETE CASCADE",
            "movie_id UUID NOT NULL",
            "character_name VARCHAR(255)",
            "role_type VARCHAR(50) DEFAULT 'supporting'",
            "billing_order INTEGER",
            "screen_time_minutes INTEGER",
            "total_scenes INTEGER DEFAULT 0",
            "notes TEXT",
            "award_nominations TEXT[]",
            "created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
        ),
        ("UNIQUE(actor_id, movie_id)",),
    ),
    "users": DesignTable(
        ("user",),
        (
            "id UUID PRIMARY KEY DEFAULT gen_random_uuid()",
            "email VARCHAR(255) UNIQUE NOT NULL",
            "password_hash VARCHAR(255) NOT NULL",
            "display_name VARCHAR(100)",
            "avatar_url VARCHAR(500)",
            "role VARCHAR(50) DEFAULT 'viewer'",
            "is_verified BOOLEAN DEFAULT FALSE",
            "language VARCHAR(10) DEFAULT 'ja'",
            "timezone VARCHAR(50) DEFAULT 'Asia/Tokyo'",
            "created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
            "updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
            "last_login_at TIMESTAMP WITH TIME ZONE",
            "is_active BOOLEAN DEFAULT TRUE",
        ),
        ("CONSTRAINT valid_role CHECK (role IN ('viewer', 'contributor', 'professional', 'admin'))",),
    ),
    "watch_lists": DesignTable(
        ("user",),
        (
            "id UUID PRIMARY KEY DEFAULT gen_random_uuid()",
            "user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE",
            "movie_id UUID NOT NULL",
            "status VARCHAR(20) DEFAULT 'want_to_watch'",
            "priority INTEGER DEFAULT 5",
            "watched_scenes_count INTEGER DEFAULT 0",
            "total_scenes_count INTEGER",
            "last_watched_scene_id UUID",
            "notes TEXT",
            "tags TEXT[]",
            "created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
            "updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
        ),
        (
            "UNIQUE(user_id, movie_id)",
            "CONSTRAINT valid_status CHECK (status IN ('want_to_watch', 'watching', 'watched', 'dropped'))",
        ),
    ),
    "user_scene_interactions": DesignTable(
        ("user",),
        (
            "id UUID PRIMARY KEY DEFAULT gen_random_uuid()",
            "user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE",
            "scene_id UUID NOT NULL",
            "interaction_type VARCHAR(50) NOT NULL",
            "metadata JSONB DEFAULT '{}'",
            "created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
        ),
        (
            "UNIQUE(user_id, scene_id, interaction_type)",
            "CONSTRAINT valid_interaction CHECK (interaction_type IN ('view', 'like', 'favorite', 'share', 'comment'))",
        ),
    ),
    "reviews": DesignTable(
        ("review",),
        (
            "id UUID PRIMARY KEY DEFAULT gen_random_uuid()",
            "user_id UUID NOT NULL",
            "movie_id UUID",
            "scene_id UUID",
            "title VARCHAR(255)",
            "content TEXT NOT NULL",
            "rating INTEGER NOT NULL",
            "review_type VARCHAR(20) DEFAULT 'general'",
            "is_public BOOLEAN DEFAULT TRUE",
            "is_spoiler BOOLEAN DEFAULT FALSE",
            "likes_count INTEGER DEFAULT 0",
            "helpful_count INTEGER DEFAULT 0",
            "report_count INTEGER DEFAULT 0",
            "created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
            "updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
        ),
        (
            "CONSTRAINT review_target CHECK ((movie_id IS NOT NULL) OR (scene_id IS NOT NULL))",
            "CONSTRAINT valid_rating CHECK (rating BETWEEN 1 AND 5)",
            "CONSTRAINT valid_review_type CHECK (review_type IN ('general', 'professional', 'analysis'))",
        ),
    ),
    "saga_events": DesignTable(
        ("event_store",),
        (
            "id UUID PRIMARY KEY DEFAULT gen_random_uuid()",
            "saga_id UUID NOT NULL",
            "saga_type VARCHAR(100) NOT NULL",
            "step_name VARCHAR(100) NOT NULL",
            "step_status VARCHAR(20) NOT NULL",
            "event_data JSONB NOT NULL",
            "error_message TEXT",
            "created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
            "completed_at TIMESTAMP WITH TIME ZONE",
        ),
        (
            "CONSTRAINT valid_step_status CHECK (step_status IN ('pending', 'completed', 'failed', 'compensated'))",
        ),
    ),
    "external_movies_cache": DesignTable(
        ("scene",),
        (
            "id UUID PRIMARY KEY",
            "title VARCHAR(500) NOT NULL",
            "release_year INTEGER",
            "duration_minutes INTEGER",
            "director VARCHAR(255)",
            "cached_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
            "expires_at TIMESTAMP WITH TIME ZONE DEFAULT NOW() + INTERVAL '1 hour'",
            "version INTEGER DEFAULT 1",
        ),
    ),
    "external_actors_cache": DesignTable(
        ("scene",),
        (
            "id UUID PRIMARY KEY",
            "name VARCHAR(255) NOT NULL",
            "name_kana VARCHAR(255)",
            "cached_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
            "expires_at TIMESTAMP WITH TIME ZONE DEFAULT NOW() + INTERVAL '1 hour'",
            "version INTEGER DEFAULT 1",
        ),
    ),
    "movie_scene_stats": DesignTable(
        ("scene",),
        (
            "movie_id UUID PRIMARY KEY",
            "total_scenes INTEGER DEFAULT 0",
            "total_duration_seconds INTEGER DEFAULT 0",
            "action_scenes_count INTEGER DEFAULT 0",
            "romance_scenes_count INTEGER DEFAULT 0",
            "dialogue_scenes_count INTEGER DEFAULT 0",
            "comedy_scenes_count INTEGER DEFAULT 0",
            "drama_scenes_count INTEGER DEFAULT 0",
            "suspense_scenes_count INTEGER DEFAULT 0",
            "other_scenes_count INTEGER DEFAULT 0",
            "memorable_quotes_count INTEGER DEFAULT 0",
            "total_dialogues_count INTEGER DEFAULT 0",
            "unique_actors_count INTEGER DEFAULT 0",
            "last_updated TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
        ),
    ),
    "audit_log": DesignTable(
        (),
        (
            "id UUID PRIMARY KEY DEFAULT gen_random_uuid()",
            "table_name VARCHAR(100) NOT NULL",
            "record_id UUID NOT NULL",
            "operation VARCHAR(10) NOT NULL",
            "old_values JSONB",
            "new_values JSONB",
            "changed_fields TEXT[]",
            "user_id UUID",
            "user_role VARCHAR(50)",
            "client_ip INET",
            "user_agent TEXT",
            "executed_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
        ),
        ("CONSTRAINT valid_operation CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE'))",),
    ),
    "schema_migrations": DesignTable(
        ALL_DATABASES,
        (
            "version VARCHAR(20) PRIMARY KEY",
            "description TEXT",
            "executed_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()",
            "execution_time_ms INTEGER",
            "checksum VARCHAR(64)",
        ),
    ),
}


# --- The design's CREATE INDEX statements, each once (time overlap also appears under パフォーマンス最適化) ---

DESIGN_INDEXES: tuple[str, ...] = (
    """\
CREATE INDEX idx_scenes_time_overlap ON scenes
USING GIST (movie_id, int4range(start_time_seconds, end_time_seconds));
""",
    "CREATE INDEX idx_scenes_classification ON scenes (level1_classification, level2_classification, level3_classification);",
    "CREATE INDEX idx_scenes_movie_time ON scenes (movie_id, start_time_seconds, end_time_seconds);",
    "CREATE INDEX idx_scenes_tags ON scenes USING GIN (tags);",
    "CREATE INDEX idx_scenes_emotional_tags ON scenes USING GIN (emotional_tags);",
    "CREATE INDEX idx_scenes_fulltext ON scenes USING GIN (to_tsvector('japanese', description));",
    "CREATE INDEX idx_scene_actors_scene ON scene_actors (scene_id);",
    "CREATE INDEX idx_scene_actors_actor ON scene_actors (actor_id);",
    "CREATE INDEX idx_scene_actors_role ON scene_actors (role_type);",
    "CREATE INDEX idx_scene_dialogues_scene ON scene_dialogues (scene_id);",
    "CREATE INDEX idx_scene_dialogues_actor ON scene_dialogues (actor_id);",
    "CREATE INDEX idx_scene_dialogues_memorable ON scene_dialogues (is_memorable_quote) WHERE is_memorable_quote = TRUE;",
    "CREATE INDEX idx_scene_dialogues_fulltext ON scene_dialogues USING GIN (to_tsvector('japanese', dialogue_text));",
    "CREATE INDEX idx_parallel_groups_movie_time ON parallel_scene_groups (movie_id, start_time_seconds, end_time_seconds);",
    "CREATE INDEX idx_parallel_members_group ON parallel_scene_members (group_id);",
    "CREATE INDEX idx_parallel_members_scene ON parallel_scene_members (scene_id);",
    "CREATE INDEX idx_movies_title ON movies (title);",
    "CREATE INDEX idx_movies_release_year ON movies (release_year);",
    "CREATE INDEX idx_movies_director ON movies (director);",
    "CREATE INDEX idx_movies_rating ON movies (avg_rating DESC);",
    "CREATE INDEX idx_movie_genres_movie ON movie_genres (movie_id);",
    "CREATE INDEX idx_movie_genres_genre ON movie_genres (genre_id);",
    "CREATE INDEX idx_movie_genres_primary ON movie_genres (is_primary) WHERE is_primary = TRUE;",
    "CREATE INDEX idx_actors_name ON actors (name);",
    "CREATE INDEX idx_actors_name_kana ON actors (name_kana);",
    "CREATE INDEX idx_actors_debut_year ON actors (debut_year);",
    "CREATE UNIQUE INDEX idx_actors_name_birth ON actors (name, birth_date);",
    "CREATE INDEX idx_filmography_actor ON filmography (actor_id);",
    "CREATE INDEX idx_filmography_movie ON filmography (movie_id);",
    "CREATE INDEX idx_filmography_role_type ON filmography (role_type);",
    "CREATE INDEX idx_filmography_billing ON filmography (billing_order);",
    "CREATE INDEX idx_users_email ON users (email);",
    "CREATE INDEX idx_users_role ON users (role);",
    "CREATE INDEX idx_users_active ON users (is_active) WHERE is_active = TRUE;",
    "CREATE INDEX idx_watch_lists_user ON watch_lists (user_id);",
    "CREATE INDEX idx_watch_lists_status ON watch_lists (user_id, status);",
    "CREATE INDEX idx_watch_lists_priority ON watch_lists (user_id, priority);",
    "CREATE INDEX idx_user_interactions_user ON user_scene_interactions (user_id);",
    "CREATE INDEX idx_user_interactions_scene ON user_scene_interactions (scene_id);",
    "CREATE INDEX idx_user_interactions_type ON user_scene_interactions (interaction_type);",
    "CREATE INDEX idx_reviews_user ON reviews (user_id);",
    "CREATE INDEX idx_reviews_movie ON reviews (movie_id) WHERE movie_id IS NOT NULL;",
    "CREATE INDEX idx_reviews_scene ON reviews (scene_id) WHERE scene_id IS NOT NULL;",
    "CREATE INDEX idx_reviews_rating ON reviews (rating DESC);",
    "CREATE INDEX idx_reviews_public ON reviews (is_public, created_at DESC) WHERE is_public = TRUE;",
    """\
CREATE INDEX idx_scenes_complex_overlap ON scenes
USING GIST (
    movie_id,
    level1_classification,
    int4range(start_time_seconds, end_time_seconds)
);
""",
    """\
CREATE INDEX idx_scenes_classification_hierarchy ON scenes (
    level1_classification,
    level2_classification,
    level3_classification,
    movie_id,
    start_time_seconds
);
""",
    """\
CREATE INDEX idx_dialogues_fulltext_bigm ON scene_dialogues
USING GIN (dialogue_text gin_bigm_ops);
""",
    """\
CREATE INDEX idx_scenes_description_bigm ON scenes
USING GIN (description gin_bigm_ops);
""",
    "CREATE INDEX idx_saga_events_saga ON saga_events (saga_id);",
    "CREATE INDEX idx_saga_events_status ON saga_events (step_status, created_at);",
    "CREATE INDEX idx_audit_log_table_record ON audit_log (table_name, record_id);",
    "CREATE INDEX idx_audit_log_user ON audit_log (user_id);",
    "CREATE INDEX idx_audit_log_time ON audit_log (executed_at);",
)


# --- Differences between the design's tables and ours, each with its reason ----------------------------

TYPE_DIFFERENCES: dict[tuple[str, str], str] = {}
"""(table, column) whose type differs from the design's: none, every design column keeps its type."""

_WRITTEN_BY_PROJECTION = "the projection always writes it, and a NULL would slip past the CHECKs on it"
_COUNTER = "a counter the projection recomputes from its source rows: never NULL, never negative"

NOT_NULL_ADDED: dict[tuple[str, str], str] = {
    ("movies", "language"): "events never carry a null language (it cannot be cleared)",
    ("movies", "total_scenes_count"): _COUNTER,
    ("movies", "ratings_count"): _COUNTER,
    (
        "movie_genres",
        "is_primary",
    ): "the one-primary-genre rule (unique index WHERE is_primary, statement triggers) needs a definite value",
    ("users", "role"): _WRITTEN_BY_PROJECTION,
    ("users", "is_verified"): _WRITTEN_BY_PROJECTION,
    ("users", "language"): _WRITTEN_BY_PROJECTION,
    ("users", "timezone"): _WRITTEN_BY_PROJECTION,
    ("users", "is_active"): _WRITTEN_BY_PROJECTION,
    ("watch_lists", "status"): _WRITTEN_BY_PROJECTION,
    ("watch_lists", "priority"): _WRITTEN_BY_PROJECTION,
    ("watch_lists", "watched_scenes_count"): _WRITTEN_BY_PROJECTION,
    **{
        ("movie_scene_stats", column): _COUNTER
        for column in (
            "total_scenes",
            "total_duration_seconds",
            "action_scenes_count",
            "romance_scenes_count",
            "dialogue_scenes_count",
            "comedy_scenes_count",
            "drama_scenes_count",
            "suspense_scenes_count",
            "other_scenes_count",
            "memorable_quotes_count",
            "total_dialogues_count",
            "unique_actors_count",
        )
    },
}
"""(table, column) the design leaves nullable and ours makes NOT NULL."""

_ERASED = "NULL once the user is erased (UserErased): personal data must become unrecoverable"

NOT_NULL_DROPPED: dict[tuple[str, str], str] = {
    ("users", "email"): _ERASED,
    ("users", "password_hash"): _ERASED,
    ("reviews", "user_id"): "NULL once the review is anonymized (its author erased); the review stays",
}
"""(table, column) the design makes NOT NULL and ours leaves nullable: only for erasure."""

DEFAULT_DIFFERENCES: dict[tuple[str, str], str] = {}
"""(table, column) whose default differs from the design's: none."""

_STREAM_VERSION = (
    "projection bookkeeping: the version of the row's event stream it reflects (ordered, idempotent apply)"
)
_EVENT_STORE = (
    "what an event store needs beyond the design's saga columns (infra/migrations/event_store/0001)"
)
_PUBLIC = "the design's RLS policies read is_public from the movie cache, whose design columns lack it"

EXTRA_COLUMNS: dict[str, dict[str, str]] = {
    "scenes": {
        "version": _STREAM_VERSION,
        "timeline_span": "start and end packed for the overlap reads' covering index (scene_service 0022)",
    },
    "parallel_scene_groups": {
        "version": _STREAM_VERSION,
        "input_format": "the times as typed, like scenes.input_format",
    },
    "movies": {"version": _STREAM_VERSION, "is_public": _PUBLIC + "; the movie's own flag feeds the cache"},
    "external_movies_cache": {"is_public": _PUBLIC},
    "actors": {"version": _STREAM_VERSION},
    "filmography": {"updated_at": "a role is revised by later events; when it last was"},
    "users": {"version": _STREAM_VERSION, "erased_at": "when the user's personal data was erased"},
    "reviews": {"version": _STREAM_VERSION},
    "scene_dialogues": {
        "movie_id": "dialogue search page order (scene_service 0011): a copy of the scene's movie",
        "scene_start_time_seconds": "dialogue search page order (scene_service 0011): a copy of the scene's start",
        "dialogue_text_normalised": "dialogue search (scene_service 0011): the text as search compares it, "
        "NULL when equal",
        "subtitle_text_normalised": "dialogue search (scene_service 0011): the subtitle as search compares it, "
        "NULL when equal",
    },
    "saga_events": {
        "position": _EVENT_STORE + ": the global order",
        "stream_type": _EVENT_STORE,
        "stream_id": _EVENT_STORE + ": with stream_version, unique, for optimistic concurrency",
        "stream_version": _EVENT_STORE,
        "event_type": _EVENT_STORE,
        "schema_version": _EVENT_STORE + ": upcasting on read",
        "partition_key": _EVENT_STORE + ": the Kafka key",
        "correlation_id": _EVENT_STORE,
        "causation_id": _EVENT_STORE,
        "user_id": _EVENT_STORE + ": who (the design's audit_log.user_id)",
        "user_role": _EVENT_STORE + ": the design's audit_log.user_role",
        "client_addr": _EVENT_STORE + ": the design's audit_log.client_ip",
        "occurred_at": _EVENT_STORE,
        "tx_id": _EVENT_STORE + ": the writing transaction, for the relay's gap-safe reading",
    },
}
"""Columns of ours that the design's table does not have, by table."""

CONSTRAINT_DIFFERENCES: dict[tuple[str, str], str] = {
    ("scenes", "FOREIGN KEY (parent_scene_id) REFERENCES scenes(id)"): (
        "ours is ON DELETE SET NULL: a projection must never fail on an order of deletions the command side allowed"
    ),
}
"""(table, the design constraint as PostgreSQL prints it) that ours does not have as written."""

_NO_JAPANESE = KnownFailure(
    "42704",
    'text search configuration "japanese" does not exist',
    "stock PostgreSQL has no japanese configuration; Japanese search is a bigram index (issue 5)",
)
_NO_BIGM = KnownFailure(
    "42704",
    'operator class "gin_bigm_ops" does not exist for access method "gin"',
    "pg_bigm is not packaged for Debian's PostgreSQL 15; Japanese search is a bigram index (issue 5)",
)

INDEX_FAILURES: dict[str, KnownFailure] = {
    "idx_scenes_fulltext": _NO_JAPANESE,
    "idx_scene_dialogues_fulltext": _NO_JAPANESE,
    "idx_dialogues_fulltext_bigm": _NO_BIGM,
    "idx_scenes_description_bigm": _NO_BIGM,
}
"""Design indexes that cannot be built on stock PostgreSQL 15."""

INDEXES_NOT_CREATED: dict[str, str] = {
    "idx_scenes_complex_overlap": (
        "overlaps are searched within a movie, whatever the classification: idx_scenes_time_overlap serves that,"
        " and a second GiST index would cost every scene write"
    ),
    "idx_scenes_classification_hierarchy": (
        "its leading columns are idx_scenes_classification's; no read path yet sorts a classification's scenes"
        " by movie and time (scene search is issue 5)"
    ),
}
"""Design indexes that would build on our tables but that our migrations do not create."""


# --- The design's queries and routines, verbatim ---------------------------------------------------------

GENRES_SEED = """\
INSERT INTO genres (name, name_en, color_code) VALUES
('アクション', 'Action', '#ef4444'),
('恋愛', 'Romance', '#f97316'),
('コメディ', 'Comedy', '#eab308'),
('ドラマ', 'Drama', '#3b82f6'),
('ホラー', 'Horror', '#7c2d12'),
('サスペンス', 'Suspense', '#8b5cf6'),
('SF', 'Science Fiction', '#06b6d4'),
('ファンタジー', 'Fantasy', '#10b981');
"""

COMPLEX_OVERLAP_INDEX = """\
CREATE INDEX idx_scenes_complex_overlap ON scenes
USING GIST (
    movie_id,
    level1_classification,
    int4range(start_time_seconds, end_time_seconds)
);
"""

OVERLAP_EXPLAIN = """\
EXPLAIN (ANALYZE, BUFFERS)
SELECT s1.id, s2.id,
       int4range(s1.start_time_seconds, s1.end_time_seconds) *
       int4range(s2.start_time_seconds, s2.end_time_seconds) AS overlap_range
FROM scenes s1, scenes s2
WHERE s1.movie_id = s2.movie_id
  AND s1.id != s2.id
  AND int4range(s1.start_time_seconds, s1.end_time_seconds) &&
      int4range(s2.start_time_seconds, s2.end_time_seconds)
  AND s1.movie_id = '123e4567-e89b-12d3-a456-426614174000';
"""

BTREE_OVERLAP_PAIRS = """\
SELECT s1.id, s2.id
FROM scenes s1, scenes s2
WHERE s1.movie_id = s2.movie_id
  AND s1.id != s2.id
  AND s1.start_time_seconds <= s2.end_time_seconds
  AND s1.end_time_seconds >= s2.start_time_seconds;
"""

GIST_OVERLAP_PAIRS = """\
SELECT s1.id, s2.id
FROM scenes s1
JOIN scenes s2 ON s1.movie_id = s2.movie_id
  AND s1.id != s2.id
  AND int4range(s1.start_time_seconds, s1.end_time_seconds) &&
      int4range(s2.start_time_seconds, s2.end_time_seconds);
"""

CLASSIFICATION_HIERARCHY_INDEX = """\
CREATE INDEX idx_scenes_classification_hierarchy ON scenes (
    level1_classification,
    level2_classification,
    level3_classification,
    movie_id,
    start_time_seconds
);
"""

ANALYZE_SCALE_FACTOR = """\
ALTER TABLE scenes SET (autovacuum_analyze_scale_factor = 0.02);
"""

SCENES_PARTITIONED = """\
CREATE TABLE scenes_partitioned (
    LIKE scenes INCLUDING ALL
) PARTITION BY HASH (movie_id);
"""

CREATE_PG_BIGM = """\
CREATE EXTENSION IF NOT EXISTS pg_bigm;
"""

BIGM_DIALOGUES_INDEX = """\
CREATE INDEX idx_dialogues_fulltext_bigm ON scene_dialogues
USING GIN (dialogue_text gin_bigm_ops);
"""

BIGM_SCENES_INDEX = """\
CREATE INDEX idx_scenes_description_bigm ON scenes
USING GIN (description gin_bigm_ops);
"""

SIMILARITY_SEARCH = """\
SELECT s.*, d.dialogue_text
FROM scenes s
JOIN scene_dialogues d ON s.id = d.scene_id
WHERE d.dialogue_text LIKE '%君が好きだ%'
ORDER BY similarity(d.dialogue_text, '君が好きだ') DESC;
"""

CHECK_DATA_CONSISTENCY_FN = """\
CREATE OR REPLACE FUNCTION check_data_consistency()
RETURNS TABLE(
    check_name VARCHAR,
    status VARCHAR,
    error_count INTEGER,
    details TEXT
) AS $$
BEGIN
    RETURN QUERY
    SELECT
        'orphan_scenes'::VARCHAR AS check_name,
        CASE WHEN count(*) > 0 THEN 'FAIL' ELSE 'PASS' END AS status,
        count(*)::INTEGER AS error_count,
        string_agg(id::TEXT, ',') AS details
    FROM scenes
    WHERE movie_id NOT IN (
        SELECT id FROM external_movies_cache
    );

    RETURN QUERY
    SELECT
        'duplicate_dialogues'::VARCHAR AS check_name,
        CASE WHEN count(*) > 0 THEN 'WARNING' ELSE 'PASS' END AS status,
        count(*)::INTEGER AS error_count,
        string_agg(dialogue_text, ' | ') AS details
    FROM (
        SELECT dialogue_text, count(*)
        FROM scene_dialogues
        WHERE is_memorable_quote = true
        GROUP BY dialogue_text
        HAVING count(*) > 1
    ) duplicates;

    RETURN QUERY
    SELECT
        'invalid_time_ranges'::VARCHAR AS check_name,
        CASE WHEN count(*) > 0 THEN 'FAIL' ELSE 'PASS' END AS status,
        count(*)::INTEGER AS error_count,
        string_agg(id::TEXT, ',') AS details
    FROM scenes
    WHERE start_time_seconds >= end_time_seconds;

END;
$$ LANGUAGE plpgsql;
"""

CRON_CONSISTENCY = """\
SELECT cron.schedule('consistency_check', '0 2 * * *', 'SELECT check_data_consistency();');
"""

UPDATE_CACHE_TIMESTAMP_FN = """\
CREATE OR REPLACE FUNCTION update_cache_timestamp()
RETURNS TRIGGER AS $$
BEGIN
    NEW.cached_at = NOW();
    NEW.expires_at = NOW() + INTERVAL '1 hour';
    NEW.version = OLD.version + 1;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

CACHE_UPDATE_TRIGGER = """\
CREATE TRIGGER tr_movies_cache_update
    BEFORE UPDATE ON external_movies_cache
    FOR EACH ROW
    EXECUTE FUNCTION update_cache_timestamp();
"""

SCENE_SEARCH = """\
WITH scene_search AS (
    SELECT
        s.id,
        s.movie_id,
        s.start_time_seconds,
        s.end_time_seconds,
        s.level1_classification,
        s.level2_classification,
        s.level3_classification,
        s.description,
        s.tags,

        m.title AS movie_title,
        m.release_year,
        m.director,

        CASE
            WHEN s.description ILIKE '%恋愛%' THEN 10
            WHEN s.level1_classification = 'R' THEN 8
            WHEN 'romantic' = ANY(s.tags) THEN 6
            ELSE 1
        END AS relevance_score

    FROM scenes s
    JOIN external_movies_cache m ON s.movie_id = m.id
    WHERE
        (s.level1_classification = $1 OR $1 IS NULL)
        AND (s.level2_classification = $2 OR $2 IS NULL)

        AND (s.start_time_seconds >= $3 OR $3 IS NULL)
        AND (s.end_time_seconds <= $4 OR $4 IS NULL)

        AND (s.description ILIKE '%' || $5 || '%' OR $5 IS NULL)

        AND (s.tags && $6 OR $6 IS NULL)
),
scene_with_actors AS (
    SELECT
        ss.*,
        COALESCE(
            json_agg(
                json_build_object(
                    'actor_id', sa.actor_id,
                    'character_name', sa.character_name,
                    'actor_name', ac.name,
                    'role_type', sa.role_type
                ) ORDER BY sa.role_type
            ) FILTER (WHERE sa.actor_id IS NOT NULL),
            '[]'::json
        ) AS actors
    FROM scene_search ss
    LEFT JOIN scene_actors sa ON ss.id = sa.scene_id
    LEFT JOIN external_actors_cache ac ON sa.actor_id = ac.id
    GROUP BY ss.id, ss.movie_id, ss.start_time_seconds, ss.end_time_seconds,
             ss.level1_classification, ss.level2_classification, ss.level3_classification,
             ss.description, ss.tags, ss.movie_title, ss.release_year, ss.director,
             ss.relevance_score
),
scene_with_dialogues AS (
    SELECT
        swa.*,
        COALESCE(
            json_agg(
                json_build_object(
                    'text', sd.dialogue_text,
                    'speaker', ac.name,
                    'character', sd.character_name,
                    'is_memorable', sd.is_memorable_quote,
                    'start_offset', sd.start_time_offset
                ) ORDER BY sd.start_time_offset
            ) FILTER (WHERE sd.id IS NOT NULL),
            '[]'::json
        ) AS dialogues
    FROM scene_with_actors swa
    LEFT JOIN scene_dialogues sd ON swa.id = sd.scene_id
    LEFT JOIN external_actors_cache ac ON sd.actor_id = ac.id
    GROUP BY swa.id, swa.movie_id, swa.start_time_seconds, swa.end_time_seconds,
             swa.level1_classification, swa.level2_classification, swa.level3_classification,
             swa.description, swa.tags, swa.movie_title, swa.release_year, swa.director,
             swa.relevance_score, swa.actors
)
SELECT
    *,
    count(*) OVER() AS total_count
FROM scene_with_dialogues
ORDER BY relevance_score DESC, start_time_seconds ASC
LIMIT $7 OFFSET $8;
"""

UPDATE_MOVIE_STATS_FN = """\
CREATE OR REPLACE FUNCTION update_movie_stats()
RETURNS TRIGGER AS $$
BEGIN
    INSERT INTO movie_scene_stats (movie_id, total_scenes, action_scenes_count, romance_scenes_count)
    SELECT
        movie_id,
        count(*) as total_scenes,
        count(*) FILTER (WHERE level1_classification = 'A') as action_scenes_count,
        count(*) FILTER (WHERE level1_classification = 'R') as romance_scenes_count
    FROM scenes
    WHERE movie_id = COALESCE(NEW.movie_id, OLD.movie_id)
    GROUP BY movie_id
    ON CONFLICT (movie_id) DO UPDATE SET
        total_scenes = EXCLUDED.total_scenes,
        action_scenes_count = EXCLUDED.action_scenes_count,
        romance_scenes_count = EXCLUDED.romance_scenes_count,
        last_updated = NOW();

    RETURN COALESCE(NEW, OLD);
END;
$$ LANGUAGE plpgsql;
"""

STATS_UPDATE_TRIGGER = """\
CREATE TRIGGER tr_scenes_stats_update
    AFTER INSERT OR UPDATE OR DELETE ON scenes
    FOR EACH ROW
    EXECUTE FUNCTION update_movie_stats();
"""

SLOW_QUERIES_VIEW = """\
CREATE VIEW slow_queries AS
SELECT
    pid,
    user,
    application_name,
    client_addr,
    query_start,
    now() - query_start AS duration,
    state,
    left(query, 100) AS query_preview
FROM pg_stat_activity
WHERE state != 'idle'
  AND now() - query_start > interval '5 seconds'
ORDER BY duration DESC;
"""

TABLE_SIZES_VIEW = """\
CREATE VIEW table_sizes AS
SELECT
    schemaname,
    tablename,
    pg_size_pretty(pg_total_relation_size(schemaname||'.'||tablename)) AS size,
    pg_total_relation_size(schemaname||'.'||tablename) AS size_bytes
FROM pg_tables
WHERE schemaname = 'public'
ORDER BY pg_total_relation_size(schemaname||'.'||tablename) DESC;
"""

INDEX_USAGE_VIEW = """\
CREATE VIEW index_usage AS
SELECT
    schemaname,
    tablename,
    indexname,
    idx_tup_read,
    idx_tup_fetch,
    idx_scan,
    CASE WHEN idx_scan > 0
         THEN round(100.0 * idx_tup_read / idx_scan, 2)
         ELSE 0
    END AS avg_tuples_per_scan
FROM pg_stat_user_indexes
ORDER BY idx_scan DESC;
"""

CHECK_DATABASE_HEALTH_FN = """\
CREATE OR REPLACE FUNCTION check_database_health()
RETURNS TABLE(
    alert_type VARCHAR,
    severity VARCHAR,
    message TEXT,
    value NUMERIC
) AS $$
BEGIN
    RETURN QUERY
    SELECT
        'connection_count'::VARCHAR,
        CASE WHEN count(*) > 80 THEN 'CRITICAL'
             WHEN count(*) > 50 THEN 'WARNING'
             ELSE 'OK' END,
        'Active connections: ' || count(*)::TEXT,
        count(*)::NUMERIC
    FROM pg_stat_activity
    WHERE state = 'active';

    RETURN QUERY
    SELECT
        'long_locks'::VARCHAR,
        'WARNING'::VARCHAR,
        'Long running locks detected',
        count(*)::NUMERIC
    FROM pg_locks l
    JOIN pg_stat_activity a ON l.pid = a.pid
    WHERE l.granted = false
      AND now() - a.query_start > interval '30 seconds';

    RETURN QUERY
    SELECT
        'table_bloat'::VARCHAR,
        'WARNING'::VARCHAR,
        'Large table detected: ' || tablename,
        pg_total_relation_size('public.' || tablename)::NUMERIC
    FROM pg_tables
    WHERE schemaname = 'public'
      AND pg_total_relation_size('public.' || tablename) > 1024*1024*1024; -- 1GB以上

END;
$$ LANGUAGE plpgsql;
"""

AUTOVACUUM_SETTINGS = """\
ALTER TABLE scenes SET (
    autovacuum_vacuum_scale_factor = 0.1,    -- デフォルト0.2から削減
    autovacuum_analyze_scale_factor = 0.05,  -- デフォルト0.1から削減
    autovacuum_vacuum_cost_limit = 2000      -- デフォルト200から増加
);

ALTER TABLE scene_dialogues SET (
    autovacuum_vacuum_scale_factor = 0.15,
    autovacuum_analyze_scale_factor = 0.08,
    autovacuum_vacuum_cost_limit = 1500
);
"""

MAINTENANCE_ROUTINE_FN = """\
CREATE OR REPLACE FUNCTION maintenance_routine()
RETURNS VOID AS $$
BEGIN
    ANALYZE scenes;
    ANALYZE scene_dialogues;
    ANALYZE scene_actors;

    REINDEX INDEX CONCURRENTLY idx_scenes_time_overlap;

    DELETE FROM external_movies_cache WHERE expires_at < NOW();
    DELETE FROM external_actors_cache WHERE expires_at < NOW();

    RAISE NOTICE 'Maintenance routine completed at %', NOW();
END;
$$ LANGUAGE plpgsql;
"""

CRON_MAINTENANCE = """\
SELECT cron.schedule('weekly_maintenance', '0 3 * * 0', 'SELECT maintenance_routine();');
"""

RLS_ENABLE = """\
ALTER TABLE scenes ENABLE ROW LEVEL SECURITY;
ALTER TABLE scene_dialogues ENABLE ROW LEVEL SECURITY;
ALTER TABLE reviews ENABLE ROW LEVEL SECURITY;
"""

SCENES_VIEWER_POLICY = """\
CREATE POLICY scenes_viewer_policy ON scenes
FOR SELECT TO viewer_role
USING (
    movie_id IN (
        SELECT id FROM external_movies_cache
        WHERE is_public = true
    )
);
"""

SCENES_PROFESSIONAL_POLICY = """\
CREATE POLICY scenes_professional_policy ON scenes
FOR ALL TO professional_role
USING (
    created_by = current_setting('app.current_user_id')::UUID
    OR movie_id IN (
        SELECT id FROM external_movies_cache
        WHERE is_public = true
    )
)
WITH CHECK (
    created_by = current_setting('app.current_user_id')::UUID
);
"""

REVIEWS_PRIVACY_POLICY = """\
CREATE POLICY reviews_privacy_policy ON reviews
FOR SELECT TO viewer_role
USING (
    is_public = true
    OR user_id = current_setting('app.current_user_id')::UUID
);
"""

CREATE_PGCRYPTO = """\
CREATE EXTENSION IF NOT EXISTS pgcrypto;
"""

PII_FUNCTIONS = """\
CREATE OR REPLACE FUNCTION encrypt_pii(data TEXT)
RETURNS TEXT AS $$
BEGIN
    RETURN encode(
        encrypt(
            data::bytea,
            current_setting('app.encryption_key')::TEXT,
            'aes'
        ),
        'base64'
    );
END;
$$ LANGUAGE plpgsql SECURITY DEFINER;

CREATE OR REPLACE FUNCTION decrypt_pii(encrypted_data TEXT)
RETURNS TEXT AS $$
BEGIN
    RETURN decrypt(
        decode(encrypted_data, 'base64'),
        current_setting('app.encryption_key')::TEXT,
        'aes'
    )::TEXT;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER;
"""

ENCRYPTED_EMAIL = """\
ALTER TABLE users ADD COLUMN email_encrypted TEXT;
UPDATE users SET email_encrypted = encrypt_pii(email);
"""

AUDIT_TRIGGER_FN = """\
CREATE OR REPLACE FUNCTION audit_trigger()
RETURNS TRIGGER AS $$
BEGIN
    INSERT INTO audit_log (
        table_name,
        record_id,
        operation,
        old_values,
        new_values,
        user_id,
        user_role,
        client_ip
    ) VALUES (
        TG_TABLE_NAME,
        COALESCE(NEW.id, OLD.id),
        TG_OP,
        CASE WHEN TG_OP = 'DELETE' THEN row_to_json(OLD) ELSE NULL END,
        CASE WHEN TG_OP = 'INSERT' THEN row_to_json(NEW) ELSE row_to_json(NEW) END,
        current_setting('app.current_user_id', true)::UUID,
        current_setting('app.current_user_role', true),
        current_setting('app.client_ip', true)::INET
    );

    RETURN COALESCE(NEW, OLD);
END;
$$ LANGUAGE plpgsql;
"""

AUDIT_TRIGGER = """\
CREATE TRIGGER tr_scenes_audit
    AFTER INSERT OR UPDATE OR DELETE ON scenes
    FOR EACH ROW
    EXECUTE FUNCTION audit_trigger();
"""

EXECUTE_MIGRATION_FN = """\
CREATE OR REPLACE FUNCTION execute_migration(
    migration_version VARCHAR(20),
    migration_description TEXT,
    migration_sql TEXT
) RETURNS VOID AS $$
DECLARE
    start_time TIMESTAMP WITH TIME ZONE;
    end_time TIMESTAMP WITH TIME ZONE;
    execution_ms INTEGER;
BEGIN
    IF EXISTS (SELECT 1 FROM schema_migrations WHERE version = migration_version) THEN
        RAISE EXCEPTION 'Migration % already executed', migration_version;
    END IF;

    start_time := NOW();

    EXECUTE migration_sql;

    end_time := NOW();
    execution_ms := EXTRACT(EPOCH FROM (end_time - start_time)) * 1000;

    INSERT INTO schema_migrations (version, description, executed_at, execution_time_ms)
    VALUES (migration_version, migration_description, start_time, execution_ms);

    RAISE NOTICE 'Migration % completed in % ms', migration_version, execution_ms;
END;
$$ LANGUAGE plpgsql;
"""

RUN_DATA_QUALITY_TESTS_FN = """\
CREATE OR REPLACE FUNCTION run_data_quality_tests()
RETURNS TABLE(
    test_name VARCHAR,
    status VARCHAR,
    details TEXT
) AS $$
BEGIN
    RETURN QUERY
    SELECT
        'valid_scene_times'::VARCHAR,
        CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'FAIL' END,
        'Invalid time ranges found: ' || count(*)
    FROM scenes
    WHERE start_time_seconds >= end_time_seconds
       OR start_time_seconds < 0
       OR end_time_seconds > 86400; -- 24時間以上のシーンは異常

    RETURN QUERY
    SELECT
        'classification_hierarchy'::VARCHAR,
        CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'FAIL' END,
        'Invalid classification hierarchy: ' || count(*)
    FROM scenes s
    WHERE (s.level1_classification = 'L' AND s.level2_classification NOT LIKE 'L%')
       OR (s.level1_classification = 'A' AND s.level2_classification NOT LIKE 'A%')
       OR (s.level2_classification LIKE 'L2%' AND s.level3_classification NOT LIKE 'L2-%');

    RETURN QUERY
    SELECT
        'foreign_key_integrity'::VARCHAR,
        CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'WARNING' END,
        'Missing external references: ' || count(*)
    FROM scenes s
    LEFT JOIN external_movies_cache m ON s.movie_id = m.id
    WHERE m.id IS NULL;

END;
$$ LANGUAGE plpgsql;
"""

CRON_QUALITY = """\
SELECT cron.schedule('data_quality_check', '0 1 * * *', 'SELECT run_data_quality_tests();');
"""

GENERATE_TEST_SCENES_FN = """\
CREATE OR REPLACE FUNCTION generate_test_scenes(movie_count INTEGER, scenes_per_movie INTEGER)
RETURNS VOID AS $$
DECLARE
    i INTEGER;
    j INTEGER;
    movie_uuid UUID;
    scene_start INTEGER;
    scene_end INTEGER;
    classifications TEXT[] := ARRAY['A', 'R', 'C', 'D', 'L', 'S', 'O'];
    level2_map JSONB := '{
        "A": ["A1", "A2", "A3", "A4", "A5"],
        "R": ["R1", "R2", "R3", "R4", "R5"],
        "L": ["L1", "L2", "L3", "L4", "L5"]
    }';
BEGIN
    FOR i IN 1..movie_count LOOP
        movie_uuid := gen_random_uuid();

        INSERT INTO external_movies_cache (id, title, release_year, duration_minutes)
        VALUES (movie_uuid, 'Test Movie ' || i, 2020 + (i % 5), 120);

        FOR j IN 1..scenes_per_movie LOOP
            scene_start := (j - 1) * 60; -- 1分間隔
            scene_end := scene_start + (20 + random() * 40); -- 20-60秒のシーン

            INSERT INTO scenes (
                movie_id,
                start_time_seconds,
                end_time_seconds,
                level1_classification,
                level2_classification,
                description,
                tags
            ) VALUES (
                movie_uuid,
                scene_start,
                scene_end,
                classifications[(random() * array_length(classifications, 1))::INTEGER + 1],
                'A1', -- 簡略化
                'Test scene ' || j || ' in movie ' || i,
                ARRAY['test', 'generated']
            );
        END LOOP;
    END LOOP;

    RAISE NOTICE 'Generated % movies with % scenes each', movie_count, scenes_per_movie;
END;
$$ LANGUAGE plpgsql;
"""

GENERATE_TEST_SCENES_CALL = """\
SELECT generate_test_scenes(100, 100);
"""

OVERLAP_COUNT_EXPLAIN = """\
EXPLAIN (ANALYZE, BUFFERS)
SELECT COUNT(*) FROM scenes s1, scenes s2
WHERE s1.movie_id = s2.movie_id
  AND s1.id != s2.id
  AND int4range(s1.start_time_seconds, s1.end_time_seconds) &&
      int4range(s2.start_time_seconds, s2.end_time_seconds);
"""


DESIGN_MOVIE = UUID("123e4567-e89b-12d3-a456-426614174000")
"""The movie id the design's overlap EXPLAIN query filters on."""

JSONB_FIX = {
    "json_agg(": "jsonb_agg(",
    "json_build_object(": "jsonb_build_object(",
    "'[]'::json": "'[]'::jsonb",
}
"""The minimal change that makes the design's scene search run: build its aggregated columns as jsonb."""


def _with_jsonb(sql: str) -> str:
    for old, new in JSONB_FIX.items():
        sql = sql.replace(old, new)
    return sql


def _without_explain(sql: str) -> str:
    prefix = "EXPLAIN (ANALYZE, BUFFERS)\n"
    assert sql.startswith(prefix)
    return sql.removeprefix(prefix)


# --- Helpers ----------------------------------------------------------------------------------------------


@asynccontextmanager
async def _rolled_back(
    settings: Settings, service: str, *, isolation: str = "read_committed"
) -> AsyncIterator[Any]:
    """A connection to ``service``'s database inside a transaction that is always rolled back."""
    conn = await asyncpg.connect(settings.dsn_for(service))
    tx = conn.transaction(isolation=isolation)
    await tx.start()
    try:
        yield conn
    finally:
        await tx.rollback()
        await conn.close()


async def _error(conn: Any, sql: str, *args: object) -> asyncpg.PostgresError:
    """The error PostgreSQL raises for ``sql`` (the test fails if it runs)."""
    running = conn.fetch(sql, *args) if args else conn.execute(sql)
    with pytest.raises(asyncpg.PostgresError) as caught:
        await running
    return caught.value


def _sqlstate_and_message(error: asyncpg.PostgresError) -> tuple[str, str]:
    return error.sqlstate, error.message


async def _scratch(conn: Any) -> None:
    """Create the scratch schema and put it first on the search path (for this transaction only)."""
    await conn.execute(f"CREATE SCHEMA {SCRATCH}")
    await conn.execute(f"SET LOCAL search_path = {SCRATCH}, public")


async def _design_table_in_scratch(conn: Any, table: str) -> None:
    """Build the design's ``table`` from its column lines and constraints in the scratch schema."""
    spec = DESIGN_TABLES[table]
    await _scratch(conn)
    body = ",\n    ".join((*spec.columns, *spec.constraints))
    await conn.execute(f"CREATE TABLE {table} (\n    {body}\n)")


COLUMNS_SQL = """
SELECT table_schema, column_name, udt_name, character_maximum_length, numeric_precision, numeric_scale,
       is_nullable, column_default, is_generated, generation_expression
FROM information_schema.columns
WHERE table_name = $1 AND table_schema IN ('public', 'design_ref')
"""

TYPE_FIELDS = (
    "udt_name",
    "character_maximum_length",
    "numeric_precision",
    "numeric_scale",
    "is_generated",
    "generation_expression",
)


class Columns(NamedTuple):
    design: dict[str, dict[str, Any]]
    ours: dict[str, dict[str, Any]]


async def _columns(conn: Any, table: str) -> Columns:
    """The design's table (built in the scratch schema) and ours, column by column."""
    await _design_table_in_scratch(conn, table)
    rows = await conn.fetch(COLUMNS_SQL, table)
    design = {r["column_name"]: dict(r) for r in rows if r["table_schema"] == SCRATCH}
    ours = {r["column_name"]: dict(r) for r in rows if r["table_schema"] == "public"}
    assert design, f"the design's {table} was not built"
    assert ours, f"{table} is missing from our schema"
    return Columns(design, ours)


def _unqualified(definition: str) -> str:
    return re.sub(rf"\b(?:public|{SCRATCH})\.", "", definition)


TABLE_CASES = [
    pytest.param(service, table, id=f"{service}.{table}")
    for table, spec in DESIGN_TABLES.items()
    for service in spec.databases
]


def _documented(differences: dict[tuple[str, str], str], table: str) -> set[str]:
    return {column for (t, column) in differences if t == table}


# --- Tables: columns, types, nullability, defaults, extra columns, constraints ----------------------------


@pytest.mark.parametrize(("service", "table"), TABLE_CASES)
async def test_design_column_lines_build_exactly_the_named_columns(
    settings: Settings, service: str, table: str
) -> None:
    named = [line.split()[0] for line in DESIGN_TABLES[table].columns]
    async with _rolled_back(settings, service) as conn:
        columns = await _columns(conn, table)
    assert sorted(columns.design) == sorted(named)


@pytest.mark.parametrize(("service", "table"), TABLE_CASES)
async def test_design_columns_exist_with_the_designs_types(
    settings: Settings, service: str, table: str
) -> None:
    async with _rolled_back(settings, service) as conn:
        columns = await _columns(conn, table)
    differing = {
        name
        for name, design in columns.design.items()
        if name not in columns.ours
        or tuple(columns.ours[name][f] for f in TYPE_FIELDS) != tuple(design[f] for f in TYPE_FIELDS)
    }
    assert differing == _documented(TYPE_DIFFERENCES, table)


@pytest.mark.parametrize(("service", "table"), TABLE_CASES)
async def test_design_nullability_is_kept_or_tightened_as_documented(
    settings: Settings, service: str, table: str
) -> None:
    async with _rolled_back(settings, service) as conn:
        columns = await _columns(conn, table)
    loosened = {
        name
        for name, design in columns.design.items()
        if design["is_nullable"] == "NO" and columns.ours[name]["is_nullable"] == "YES"
    }
    tightened = {
        name
        for name, design in columns.design.items()
        if design["is_nullable"] == "YES" and columns.ours[name]["is_nullable"] == "NO"
    }
    assert (loosened, tightened) == (
        _documented(NOT_NULL_DROPPED, table),
        _documented(NOT_NULL_ADDED, table),
    )


@pytest.mark.parametrize(("service", "table"), TABLE_CASES)
async def test_design_defaults_are_kept_or_documented(settings: Settings, service: str, table: str) -> None:
    async with _rolled_back(settings, service) as conn:
        columns = await _columns(conn, table)
    differing = {
        name
        for name, design in columns.design.items()
        if columns.ours[name]["column_default"] != design["column_default"]
    }
    assert differing == _documented(DEFAULT_DIFFERENCES, table)


@pytest.mark.parametrize(("service", "table"), TABLE_CASES)
async def test_columns_beyond_the_design_are_documented(settings: Settings, service: str, table: str) -> None:
    async with _rolled_back(settings, service) as conn:
        columns = await _columns(conn, table)
    assert set(columns.ours) - set(columns.design) == set(EXTRA_COLUMNS.get(table, {}))


CONSTRAINTS_SQL = """
SELECT n.nspname AS schema, c.conname AS name, c.contype AS kind, pg_get_constraintdef(c.oid) AS definition
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE t.relname = $1 AND n.nspname IN ('public', 'design_ref')
"""


@pytest.mark.parametrize(("service", "table"), TABLE_CASES)
async def test_design_constraints_are_ours_or_documented(
    settings: Settings, service: str, table: str
) -> None:
    async with _rolled_back(settings, service) as conn:
        await _design_table_in_scratch(conn, table)
        rows = await conn.fetch(CONSTRAINTS_SQL, table)

    def key(row: Any) -> tuple[str, str | None, str]:
        # CHECKs are matched by name too; keys and foreign keys by what they constrain.
        return row["kind"], row["name"] if row["kind"] == "c" else None, _unqualified(row["definition"])

    ours = {key(r) for r in rows if r["schema"] == "public"}
    missing = {_unqualified(r["definition"]) for r in rows if r["schema"] == SCRATCH and key(r) not in ours}
    assert missing == _documented(CONSTRAINT_DIFFERENCES, table)


# --- Indexes ----------------------------------------------------------------------------------------------


def _index_target(statement: str) -> tuple[str, str]:
    found = re.match(r"CREATE (?:UNIQUE )?INDEX (\w+) ON (\w+)", statement)
    assert found, statement
    return found[1], found[2]


def _index_cases(*, kind: str) -> list[Any]:
    cases = []
    for statement in DESIGN_INDEXES:
        name, table = _index_target(statement)
        if not DESIGN_TABLES[table].databases:
            continue  # a table we do not create (audit_log): its indexes go with it
        which = "fails" if name in INDEX_FAILURES else "absent" if name in INDEXES_NOT_CREATED else "same"
        if which == kind:
            cases.append(pytest.param(DESIGN_TABLES[table].databases[0], table, statement, id=name))
    return cases


@pytest.mark.parametrize(("service", "table", "statement"), _index_cases(kind="same"))
async def test_design_index_is_ours(settings: Settings, service: str, table: str, statement: str) -> None:
    name, _ = _index_target(statement)
    async with _rolled_back(settings, service) as conn:
        await _design_table_in_scratch(conn, table)
        await conn.execute(statement)
        rows = await conn.fetch("SELECT schemaname, indexdef FROM pg_indexes WHERE indexname = $1", name)
    definitions = {r["schemaname"]: _unqualified(r["indexdef"]) for r in rows}
    assert definitions.get("public") == definitions[SCRATCH]


@pytest.mark.parametrize(("service", "table", "statement"), _index_cases(kind="fails"))
async def test_design_index_cannot_be_built_on_stock_postgresql(
    settings: Settings, service: str, table: str, statement: str
) -> None:
    # Run on the design's own table, so the failure is the index's, not a difference of our table's.
    name, _ = _index_target(statement)
    known = INDEX_FAILURES[name]
    async with _rolled_back(settings, service) as conn:
        await _design_table_in_scratch(conn, table)
        error = await _error(conn, statement)
    assert _sqlstate_and_message(error) == (known.sqlstate, known.message)


@pytest.mark.parametrize(("service", "table", "statement"), _index_cases(kind="absent"))
async def test_design_index_we_do_not_create_would_build_on_our_table(
    settings: Settings, service: str, table: str, statement: str
) -> None:
    name, _ = _index_target(statement)
    async with _rolled_back(settings, service) as conn:
        assert await conn.fetchval("SELECT count(*) FROM pg_indexes WHERE indexname = $1", name) == 0
        await conn.execute(statement)
        built = await conn.fetchval(
            "SELECT tablename FROM pg_indexes WHERE schemaname = 'public' AND indexname = $1", name
        )
    assert built == table


# --- Tables of the design that we do not create, and schema_migrations' routine ---------------------------


AUDIT_COLUMNS_IN_THE_EVENT_STORE = {
    "table_name": "stream_type",
    "record_id": "stream_id",
    "operation": "event_type",
    "new_values": "event_data",
    "user_id": "user_id",
    "user_role": "user_role",
    "client_ip": "client_addr",
    "executed_at": "occurred_at",
}
"""Where each audit_log fact lives in saga_events (old_values, changed_fields and user_agent: nowhere;
the previous state is the stream's earlier events)."""


@pytest.mark.parametrize("service", ALL_DATABASES)
async def test_audit_log_is_not_created_in_any_database(settings: Settings, service: str) -> None:
    async with _rolled_back(settings, service) as conn:
        assert await conn.fetchval("SELECT to_regclass('public.audit_log')") is None


async def test_the_event_store_records_what_audit_log_would(settings: Settings) -> None:
    async with _rolled_back(settings, "event_store") as conn:
        columns = {
            r["column_name"]
            for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'saga_events'"
            )
        }
    assert set(AUDIT_COLUMNS_IN_THE_EVENT_STORE.values()) <= columns


async def test_design_audit_trigger_installs_but_every_scene_write_then_fails(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        await conn.execute(AUDIT_TRIGGER_FN)
        await conn.execute(AUDIT_TRIGGER)
        error = await _error(
            conn,
            "INSERT INTO scenes (movie_id, start_time_seconds, end_time_seconds, level1_classification,"
            " level2_classification) VALUES ($1, 0, 10, 'A', 'A1')",
            uuid4(),
        )
    assert _sqlstate_and_message(error) == ("42P01", 'relation "audit_log" does not exist')


async def test_design_execute_migration_records_into_our_schema_migrations(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        await conn.execute(EXECUTE_MIGRATION_FN)
        await conn.execute("SELECT execute_migration('9999', 'design routine', 'SELECT 1')")
        row = await conn.fetchrow(
            "SELECT description, checksum FROM schema_migrations WHERE version = '9999'"
        )
    # It runs; it records no checksum (infra/migrate.py does, and refuses an edited applied file).
    assert (row["description"], row["checksum"]) == ("design routine", None)


# --- Genres seed (Movie service) -------------------------------------------------------------------------


async def test_design_genres_seed_rows_are_ours(settings: Settings) -> None:
    query = "SELECT name, name_en, color_code FROM {} ORDER BY name_en"
    async with _rolled_back(settings, "movie") as conn:
        await _design_table_in_scratch(conn, "genres")
        await conn.execute(GENRES_SEED)
        design = [tuple(r) for r in await conn.fetch(query.format(f"{SCRATCH}.genres"))]
        ours = [tuple(r) for r in await conn.fetch(query.format("public.genres"))]
    assert len(design) == 8
    assert ours == design


# --- Overlap queries (パフォーマンス最適化) ----------------------------------------------------------------


class Seed(NamedTuple):
    token: str
    scenes: tuple[UUID, UUID, UUID, UUID]
    actors: tuple[UUID, UUID]


async def _seed(conn: Any) -> Seed:
    """The design's movie (cached), four scenes, a cast of two on the first, and two lines there.

    Times: s1 [0,100), s2 [50,150), s3 [100,200), s4 [300,400): s1 and s2 overlap, s2 and s3
    overlap, s1 and s3 only touch at 100, s4 overlaps nothing.
    """
    token = f"tok{uuid4().hex}"
    s1, s2, s3, s4 = uuid4(), uuid4(), uuid4(), uuid4()
    taki, mitsuha = uuid4(), uuid4()
    await conn.execute(
        "INSERT INTO external_movies_cache (id, title, release_year, director) VALUES ($1, $2, 2016, $3)",
        DESIGN_MOVIE,
        "君の名は。",
        "新海誠",
    )
    await conn.executemany(
        "INSERT INTO scenes (id, movie_id, start_time_seconds, end_time_seconds, level1_classification,"
        " level2_classification, level3_classification, description, tags)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        [
            (s1, DESIGN_MOVIE, 0, 100, "R", "R1", None, f"雨の中の恋愛 {token}", ["rain"]),
            (s2, DESIGN_MOVIE, 50, 150, "A", "A1", None, f"{token} 銃撃戦", ["romantic"]),
            (s3, DESIGN_MOVIE, 100, 200, "L", "L2", "L2-3", f"{token} 告白", ["night"]),
            (s4, DESIGN_MOVIE, 300, 400, "C", "C1", None, "別の場面", ["rain"]),
        ],
    )
    await conn.executemany(
        "INSERT INTO external_actors_cache (id, name, name_kana) VALUES ($1, $2, $3)",
        [(taki, "神木隆之介", "かみきりゅうのすけ"), (mitsuha, "上白石萌音", "かみしらいしもね")],
    )
    await conn.executemany(
        "INSERT INTO scene_actors (scene_id, actor_id, character_name, role_type) VALUES ($1, $2, $3, $4)",
        [(s1, mitsuha, "三葉", "supporting"), (s1, taki, "瀧", "primary")],
    )
    await conn.executemany(
        "INSERT INTO scene_dialogues (scene_id, actor_id, character_name, dialogue_text, start_time_offset,"
        " is_memorable_quote) VALUES ($1, $2, $3, $4, $5, $6)",
        [(s1, mitsuha, "三葉", "君が好きだ", 20, True), (s1, taki, "瀧", "どこかで会った?", 5, False)],
    )
    return Seed(token, (s1, s2, s3, s4), (taki, mitsuha))


def _pairs_among(rows: list[Any], ids: tuple[UUID, ...]) -> set[tuple[UUID, UUID]]:
    return {(r[0], r[1]) for r in rows if r[0] in ids and r[1] in ids}


async def test_design_overlap_explain_runs_and_counts_the_overlapping_pairs(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        await _seed(conn)
        plan = [r[0] for r in await conn.fetch(OVERLAP_EXPLAIN)]
    top = re.search(r"\(actual time=\S+ rows=(\d+) loops=1\)", plan[0])
    assert top, plan
    assert int(top[1]) == 4  # (s1, s2), (s2, s1), (s2, s3), (s3, s2)


async def test_design_overlap_query_returns_each_pair_with_its_overlap_range(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        seed = await _seed(conn)
        rows = await conn.fetch(_without_explain(OVERLAP_EXPLAIN))
    s1, s2, s3, _ = seed.scenes
    assert {(r[0], r[1]): r["overlap_range"] for r in rows} == {
        (s1, s2): asyncpg.Range(50, 100),
        (s2, s1): asyncpg.Range(50, 100),
        (s2, s3): asyncpg.Range(100, 150),
        (s3, s2): asyncpg.Range(100, 150),
    }


async def test_design_gist_join_finds_overlapping_pairs_but_not_touching_ones(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        seed = await _seed(conn)
        rows = await conn.fetch(GIST_OVERLAP_PAIRS)
    s1, s2, s3, _ = seed.scenes
    assert _pairs_among(rows, seed.scenes) == {(s1, s2), (s2, s1), (s2, s3), (s3, s2)}


async def test_design_btree_query_also_reports_scenes_that_only_touch(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        seed = await _seed(conn)
        rows = await conn.fetch(BTREE_OVERLAP_PAIRS)
    s1, s2, s3, _ = seed.scenes
    # Inclusive comparisons: s1 [0,100) and s3 [100,200) "overlap" here, unlike with && on [) ranges.
    assert _pairs_among(rows, seed.scenes) == {(s1, s2), (s2, s1), (s2, s3), (s3, s2), (s1, s3), (s3, s1)}


async def test_design_performance_count_equals_the_gist_join(settings: Settings) -> None:
    async with _rolled_back(settings, "scene", isolation="repeatable_read") as conn:
        await _seed(conn)
        count = await conn.fetchval(_without_explain(OVERLAP_COUNT_EXPLAIN))
        pairs = await conn.fetch(GIST_OVERLAP_PAIRS)
    assert count == len(pairs) >= 4


# --- Scene search (サービス別データ分割設計) --------------------------------------------------------------


async def test_design_scene_search_fails_as_written_on_its_json_group_by(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        error = await _error(conn, SCENE_SEARCH, None, None, None, None, "x", None, 10, 0)
    assert _sqlstate_and_message(error) == ("42883", "could not identify an equality operator for type json")


async def _search(
    settings: Settings, *, page: tuple[int, int] = (10, 0)
) -> tuple[Seed, list[dict[str, Any]]]:
    """The design's scene search, with the jsonb fix, for the seeded scenes' token (no other filter)."""
    async with _rolled_back(settings, "scene") as conn:
        seed = await _seed(conn)
        rows = await conn.fetch(_with_jsonb(SCENE_SEARCH), None, None, None, None, seed.token, None, *page)
    out = []
    for r in rows:
        row = dict(r)
        row["actors"] = json.loads(row["actors"])
        row["dialogues"] = json.loads(row["dialogues"])
        out.append(row)
    return seed, out


async def test_design_scene_search_with_jsonb_ranks_the_matching_scenes(settings: Settings) -> None:
    seed, rows = await _search(settings)
    s1, s2, s3, _ = seed.scenes
    # 10: description mentions 恋愛; 6: tagged romantic; 1: otherwise. s4 does not match the text.
    assert [(r["id"], r["relevance_score"], r["total_count"], r["movie_title"]) for r in rows] == [
        (s1, 10, 3, "君の名は。"),
        (s2, 6, 3, "君の名は。"),
        (s3, 1, 3, "君の名は。"),
    ]


async def test_design_scene_search_with_jsonb_lists_the_cast_by_role(settings: Settings) -> None:
    seed, rows = await _search(settings)
    taki, mitsuha = seed.actors
    assert [r["actors"] for r in rows] == [
        [
            {
                "actor_id": str(taki),
                "character_name": "瀧",
                "actor_name": "神木隆之介",
                "role_type": "primary",
            },
            {
                "actor_id": str(mitsuha),
                "character_name": "三葉",
                "actor_name": "上白石萌音",
                "role_type": "supporting",
            },
        ],
        [],
        [],
    ]


async def test_design_scene_search_with_jsonb_lists_the_lines_in_time_order(settings: Settings) -> None:
    _, rows = await _search(settings)
    assert [r["dialogues"] for r in rows] == [
        [
            {
                "text": "どこかで会った?",
                "speaker": "神木隆之介",
                "character": "瀧",
                "is_memorable": False,
                "start_offset": 5,
            },
            {
                "text": "君が好きだ",
                "speaker": "上白石萌音",
                "character": "三葉",
                "is_memorable": True,
                "start_offset": 20,
            },
        ],
        [],
        [],
    ]


async def test_design_scene_search_with_jsonb_applies_its_filters(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        seed = await _seed(conn)
        rows = await conn.fetch(_with_jsonb(SCENE_SEARCH), "L", "L2", 100, 200, seed.token, ["night"], 10, 0)
    assert [r["id"] for r in rows] == [seed.scenes[2]]


async def test_design_scene_search_with_jsonb_pages_with_a_total_count(settings: Settings) -> None:
    seed, rows = await _search(settings, page=(1, 1))
    assert [(r["id"], r["total_count"]) for r in rows] == [(seed.scenes[1], 3)]


# --- Data checks (データ整合性チェック, データ品質テスト) --------------------------------------------------


DESIGN_CONSISTENCY_CHECKS = {"orphan_scenes", "duplicate_dialogues", "invalid_time_ranges"}
ADDED_CONSISTENCY_CHECKS = {
    "nested_scenes_outside_parent": "nested scenes (the design's scene_type 'nested') must lie in their parent",
    "parallel_members_outside_group": "members of a parallel group must overlap it",
    "movie_scene_stats_drift": "movie_scene_stats is written by a projection; this recomputes it",
}
DESIGN_QUALITY_TESTS = {"valid_scene_times", "classification_hierarchy", "foreign_key_integrity"}
ADDED_QUALITY_TESTS = {
    "actor_references": "cast and speakers must be known to the actor cache",
    "screen_time_within_scene": "a screen time cannot exceed its scene",
    "dialogues_within_scene": "a line cannot end after its scene",
}


async def test_design_consistency_call_returns_the_designs_columns(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        statement = await conn.prepare("SELECT * FROM check_data_consistency()")
        names = [a.name for a in statement.get_attributes()]
    assert names == ["check_name", "status", "error_count", "details"]


async def test_design_consistency_call_runs_the_designs_checks_and_the_documented_ones(
    settings: Settings,
) -> None:
    async with _rolled_back(settings, "scene") as conn:
        names = {r["check_name"] for r in await conn.fetch("SELECT * FROM check_data_consistency()")}
    assert names == DESIGN_CONSISTENCY_CHECKS | set(ADDED_CONSISTENCY_CHECKS)


async def test_design_consistency_call_reports_a_scene_of_an_unknown_movie(settings: Settings) -> None:
    orphan = uuid4()
    async with _rolled_back(settings, "scene") as conn:
        await conn.execute(
            "INSERT INTO scenes (id, movie_id, start_time_seconds, end_time_seconds, level1_classification,"
            " level2_classification) VALUES ($1, $2, 0, 10, 'A', 'A1')",
            orphan,
            uuid4(),
        )
        rows = {r["check_name"]: r for r in await conn.fetch("SELECT * FROM check_data_consistency()")}
    assert rows["orphan_scenes"]["status"] == "FAIL"
    assert str(orphan) in rows["orphan_scenes"]["details"].split(",")


async def test_design_consistency_call_warns_of_a_repeated_memorable_quote(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        seed = await _seed(conn)
        quote = f"{seed.token} 前前前世"
        await conn.executemany(
            "INSERT INTO scene_dialogues (scene_id, actor_id, dialogue_text, is_memorable_quote)"
            " VALUES ($1, $2, $3, TRUE)",
            [(seed.scenes[0], seed.actors[0], quote), (seed.scenes[1], seed.actors[0], quote)],
        )
        rows = {r["check_name"]: r for r in await conn.fetch("SELECT * FROM check_data_consistency()")}
    assert rows["duplicate_dialogues"]["status"] == "WARNING"
    assert quote in rows["duplicate_dialogues"]["details"].split(" | ")


async def test_design_consistency_function_fails_as_written(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        await _scratch(conn)
        await conn.execute(CHECK_DATA_CONSISTENCY_FN)
        error = await _error(conn, f"SELECT * FROM {SCRATCH}.check_data_consistency()")
    assert _sqlstate_and_message(error) == ("42804", "structure of query does not match function result type")
    assert error.detail == "Returned type text does not match expected type character varying in column 2."


async def test_design_quality_call_returns_the_designs_columns(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        statement = await conn.prepare("SELECT * FROM run_data_quality_tests()")
        names = [a.name for a in statement.get_attributes()]
    assert names == ["test_name", "status", "details"]


async def test_design_quality_call_runs_the_designs_tests_and_the_documented_ones(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        names = {r["test_name"] for r in await conn.fetch("SELECT * FROM run_data_quality_tests()")}
    assert names == DESIGN_QUALITY_TESTS | set(ADDED_QUALITY_TESTS)


async def test_design_quality_call_warns_of_a_scene_of_an_unknown_movie(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        await conn.execute(
            "INSERT INTO scenes (movie_id, start_time_seconds, end_time_seconds, level1_classification,"
            " level2_classification) VALUES ($1, 0, 10, 'A', 'A1')",
            uuid4(),
        )
        rows = {r["test_name"]: r for r in await conn.fetch("SELECT * FROM run_data_quality_tests()")}
    assert rows["foreign_key_integrity"]["status"] == "WARNING"


async def test_design_quality_function_fails_as_written(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        await _scratch(conn)
        await conn.execute(RUN_DATA_QUALITY_TESTS_FN)
        error = await _error(conn, f"SELECT * FROM {SCRATCH}.run_data_quality_tests()")
    assert _sqlstate_and_message(error) == ("42804", "structure of query does not match function result type")
    assert error.detail == "Returned type text does not match expected type character varying in column 2."


@pytest.mark.parametrize(
    "statement",
    [CRON_CONSISTENCY, CRON_QUALITY, CRON_MAINTENANCE],
    ids=["consistency", "quality", "maintenance"],
)
async def test_design_cron_schedule_fails_without_pg_cron(settings: Settings, statement: str) -> None:
    async with _rolled_back(settings, "scene") as conn:
        error = await _error(conn, statement)
    assert _sqlstate_and_message(error) == ("3F000", 'schema "cron" does not exist')


# --- Monitoring (監視・メンテナンス) ---------------------------------------------------------------------


async def test_design_health_call_returns_the_designs_columns(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        statement = await conn.prepare("SELECT * FROM check_database_health()")
        names = [a.name for a in statement.get_attributes()]
    assert names == ["alert_type", "severity", "message", "value"]


async def test_design_health_call_reports_connections_and_long_locks(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        rows = {r["alert_type"]: r for r in await conn.fetch("SELECT * FROM check_database_health()")}
    assert {"connection_count", "long_locks"} <= set(rows)
    assert rows["connection_count"]["severity"] in {"OK", "WARNING", "CRITICAL"}
    assert rows["connection_count"]["value"] >= 1  # this very query is an active connection


async def test_design_health_function_fails_as_written(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        await _scratch(conn)
        await conn.execute(CHECK_DATABASE_HEALTH_FN)
        error = await _error(conn, f"SELECT * FROM {SCRATCH}.check_database_health()")
    assert _sqlstate_and_message(error) == ("42804", "structure of query does not match function result type")
    assert error.detail == "Returned type text does not match expected type character varying in column 2."


async def _view_columns(conn: Any, view: str) -> list[str]:
    statement = await conn.prepare(f"SELECT * FROM {view}")
    return [a.name for a in statement.get_attributes()]


async def test_slow_queries_view_has_the_designs_columns_with_usename_for_user(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        columns = await _view_columns(conn, "slow_queries")
        await conn.fetch("SELECT * FROM slow_queries")
    assert columns == [
        "pid",
        "usename",
        "application_name",
        "client_addr",
        "query_start",
        "duration",
        "state",
        "query_preview",
    ]


async def test_design_slow_queries_view_reports_the_reader_not_the_sessions_user(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        await _scratch(conn)
        await conn.execute(SLOW_QUERIES_VIEW)
        definition = await conn.fetchval(f"SELECT pg_get_viewdef('{SCRATCH}.slow_queries'::regclass)")
    # The bare SQL keyword user is the current user, not pg_stat_activity.usename.
    assert ('USER AS "user"' in definition, "usename" in definition) == (True, False)


async def test_table_sizes_view_lists_the_scenes_table(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        rows = {r["tablename"]: r for r in await conn.fetch("SELECT * FROM table_sizes")}
    assert rows["scenes"]["schemaname"] == "public"
    assert rows["scenes"]["size_bytes"] > 0


async def test_design_table_sizes_view_runs_unchanged(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        await _scratch(conn)
        await conn.execute(TABLE_SIZES_VIEW)
        design = {r["tablename"] for r in await conn.fetch(f"SELECT * FROM {SCRATCH}.table_sizes")}
        ours = {r["tablename"] for r in await conn.fetch("SELECT * FROM public.table_sizes")}
    assert design == ours


async def test_index_usage_view_lists_the_overlap_index(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        rows = {r["indexname"]: r for r in await conn.fetch("SELECT * FROM index_usage")}
    assert rows["idx_scenes_time_overlap"]["tablename"] == "scenes"


async def test_design_index_usage_view_fails_on_pg_stat_user_indexes_column_names(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        await _scratch(conn)
        error = await _error(conn, INDEX_USAGE_VIEW)
    assert _sqlstate_and_message(error) == ("42703", 'column "tablename" does not exist')


async def test_design_autovacuum_settings_run_on_our_tables(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        await conn.execute(AUTOVACUUM_SETTINGS)
        await conn.execute(ANALYZE_SCALE_FACTOR)
        options = await conn.fetchval("SELECT reloptions FROM pg_class WHERE oid = 'public.scenes'::regclass")
    assert "autovacuum_analyze_scale_factor=0.02" in options


async def test_our_migrations_leave_autovacuum_settings_to_the_operator(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        rows = await conn.fetch(
            "SELECT relname, reloptions FROM pg_class"
            " WHERE oid IN ('public.scenes'::regclass, 'public.scene_dialogues'::regclass)"
        )
    assert {r["relname"]: r["reloptions"] for r in rows} == {"scenes": None, "scene_dialogues": None}


async def test_design_maintenance_routine_fails_on_reindex_concurrently(settings: Settings) -> None:
    # REINDEX CONCURRENTLY refuses any transaction block, so this runs outside one, on a function in
    # this session's own temporary schema (gone when the connection closes). The routine's ANALYZE
    # runs first; the error then undoes the whole statement, so no cache row is deleted.
    conn = await asyncpg.connect(settings.dsn_for("scene"))
    try:
        await conn.execute("SET search_path = pg_temp, public")
        await conn.execute(MAINTENANCE_ROUTINE_FN)
        error = await _error(conn, "SELECT pg_temp.maintenance_routine()")
    finally:
        await conn.close()
    assert _sqlstate_and_message(error) == (
        "25001",
        "REINDEX CONCURRENTLY cannot be executed from a function",
    )


# --- Caches and statistics: triggers replaced by projections -------------------------------------------


def _migration_comment(path: Path) -> str:
    """The migration's comment lines joined into one line of prose."""
    lines = [
        line.strip().removeprefix("--").strip() for line in path.read_text(encoding="utf-8").splitlines()
    ]
    return " ".join(line for line in lines if line)


async def test_design_cache_trigger_bumps_the_version_on_our_cache_table(settings: Settings) -> None:
    movie = uuid4()
    async with _rolled_back(settings, "scene") as conn:
        await conn.execute(UPDATE_CACHE_TIMESTAMP_FN)
        await conn.execute(CACHE_UPDATE_TRIGGER)
        await conn.execute("INSERT INTO external_movies_cache (id, title) VALUES ($1, 'a')", movie)
        await conn.execute("UPDATE external_movies_cache SET title = 'b' WHERE id = $1", movie)
        row = await conn.fetchrow(
            "SELECT version, expires_at - cached_at AS ttl FROM external_movies_cache WHERE id = $1", movie
        )
    assert (row["version"], str(row["ttl"])) == (2, "1:00:00")


async def test_the_scene_migration_says_the_cache_trigger_is_replaced_by_the_projection() -> None:
    comment = _migration_comment(MIGRATIONS / "scene_service" / "0003_movie_scene_stats_and_caches.sql")
    assert "The design's update_cache_timestamp() trigger is replaced by that projection logic" in comment


async def test_the_scene_migration_says_the_stats_trigger_is_replaced_by_the_projection() -> None:
    comment = _migration_comment(MIGRATIONS / "scene_service" / "0003_movie_scene_stats_and_caches.sql")
    assert "Hence no update_movie_stats() / tr_scenes_stats_update" in comment


@pytest.mark.parametrize(
    "table", ["external_movies_cache", "external_actors_cache", "scenes", "movie_scene_stats"]
)
async def test_no_design_trigger_is_installed(settings: Settings, table: str) -> None:
    async with _rolled_back(settings, "scene") as conn:
        triggers = await conn.fetch(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal",
            f"public.{table}",
        )
    assert triggers == []


async def test_design_stats_trigger_counts_a_new_scene_on_our_stats_table(settings: Settings) -> None:
    movie = uuid4()
    async with _rolled_back(settings, "scene") as conn:
        await conn.execute(UPDATE_MOVIE_STATS_FN)
        await conn.execute(STATS_UPDATE_TRIGGER)
        await conn.execute(
            "INSERT INTO scenes (movie_id, start_time_seconds, end_time_seconds, level1_classification,"
            " level2_classification) VALUES ($1, 0, 10, 'R', 'R1')",
            movie,
        )
        row = await conn.fetchrow(
            "SELECT total_scenes, romance_scenes_count, total_duration_seconds FROM movie_scene_stats"
            " WHERE movie_id = $1",
            movie,
        )
    # The design's trigger keeps three counters; the rest (duration here) stay at 0.
    assert tuple(row) == (1, 1, 0)


# --- Japanese search, partitioning, generated test data (stock PostgreSQL 15) ---------------------------


async def test_design_pg_bigm_extension_is_not_available(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        error = await _error(conn, CREATE_PG_BIGM)
    assert _sqlstate_and_message(error) == ("0A000", 'extension "pg_bigm" is not available')


async def test_design_similarity_search_fails_without_pg_trgm(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        error = await _error(conn, SIMILARITY_SEARCH)
    assert _sqlstate_and_message(error) == ("42883", "function similarity(text, unknown) does not exist")


async def test_design_similarity_search_runs_once_pg_trgm_is_installed(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        seed = await _seed(conn)
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        rows = await conn.fetch(SIMILARITY_SEARCH)
    assert (seed.scenes[0], "君が好きだ") in {(r["id"], r["dialogue_text"]) for r in rows}


async def test_design_partitioned_copy_of_scenes_fails_on_its_primary_key(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        error = await _error(conn, SCENES_PARTITIONED)
    assert _sqlstate_and_message(error) == (
        "0A000",
        "unique constraint on partitioned table must include all partitioning columns",
    )


async def test_design_test_data_generator_breaks_our_classification_check(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        await conn.execute(GENERATE_TEST_SCENES_FN)
        await conn.execute("SELECT setseed(0.5)")  # the generator draws with random(): make it repeatable
        error = await _error(conn, GENERATE_TEST_SCENES_CALL)
    # It gives every scene level 2 'A1' whatever its level 1.
    assert _sqlstate_and_message(error) == (
        "23514",
        'new row for relation "scenes" violates check constraint "valid_level2"',
    )


# --- Security (セキュリティ設計) -------------------------------------------------------------------------


async def test_design_rls_statements_name_a_table_of_another_database(settings: Settings) -> None:
    async with _rolled_back(settings, "scene") as conn:
        error = await _error(conn, RLS_ENABLE)
    assert _sqlstate_and_message(error) == ("42P01", 'relation "reviews" does not exist')


@pytest.mark.parametrize(
    ("service", "statement", "role"),
    [
        pytest.param("scene", SCENES_VIEWER_POLICY, "viewer_role", id="scenes_viewer_policy"),
        pytest.param(
            "scene", SCENES_PROFESSIONAL_POLICY, "professional_role", id="scenes_professional_policy"
        ),
        pytest.param("review", REVIEWS_PRIVACY_POLICY, "viewer_role", id="reviews_privacy_policy"),
    ],
)
async def test_design_policy_fails_without_its_role(
    settings: Settings, service: str, statement: str, role: str
) -> None:
    async with _rolled_back(settings, service) as conn:
        error = await _error(conn, statement)
    assert _sqlstate_and_message(error) == ("42704", f'role "{role}" does not exist')


async def _create_design_roles(conn: Any) -> None:
    """The design's two roles, for this transaction only (roles are cluster-wide: rolled back with it)."""
    for role in ("viewer_role", "professional_role"):
        if not await conn.fetchval("SELECT count(*) FROM pg_roles WHERE rolname = $1", role):
            await conn.execute(f"CREATE ROLE {role}")


@pytest.mark.parametrize(
    ("service", "tables", "policies"),
    [
        pytest.param(
            "scene",
            ("scenes", "scene_dialogues"),
            (SCENES_VIEWER_POLICY, SCENES_PROFESSIONAL_POLICY),
            id="scene",
        ),
        pytest.param("review", ("reviews",), (REVIEWS_PRIVACY_POLICY,), id="review"),
    ],
)
async def test_design_policies_apply_to_our_tables_once_the_roles_exist(
    settings: Settings, service: str, tables: tuple[str, ...], policies: tuple[str, ...]
) -> None:
    async with _rolled_back(settings, service) as conn:
        await _create_design_roles(conn)
        for line in RLS_ENABLE.splitlines():
            if any(f"ALTER TABLE {table} " in line for table in tables):
                await conn.execute(line)
        for policy in policies:
            await conn.execute(policy)
        # Only the design's policies (viewer_role / professional_role): ours (0006 / 0002 RLS
        # migrations) sit on the same tables.
        count = await conn.fetchval(
            "SELECT count(*) FROM pg_policy WHERE polrelid = ANY($1::regclass[]) "
            "AND polroles && ARRAY(SELECT oid FROM pg_roles WHERE rolname IN ('viewer_role', 'professional_role'))",
            [f"public.{t}" for t in tables],
        )
    assert count == len(policies)


@pytest.mark.parametrize(
    ("service", "table"),
    [("scene", "scenes"), ("scene", "scene_dialogues"), ("review", "reviews")],
)
async def test_row_level_security_is_enabled_on_our_tables(
    settings: Settings, service: str, table: str
) -> None:
    async with _rolled_back(settings, service) as conn:
        enabled = await conn.fetchval(
            "SELECT relrowsecurity FROM pg_class WHERE oid = $1::regclass", f"public.{table}"
        )
    assert enabled is True


async def test_design_pii_encryption_fails_even_with_pgcrypto(settings: Settings) -> None:
    async with _rolled_back(settings, "user") as conn:
        await conn.execute(
            "INSERT INTO users (email, password_hash) VALUES ($1, 'x')", f"{uuid4().hex}@example.com"
        )
        await conn.execute("SET LOCAL app.encryption_key = 'design-test-key'")
        await conn.execute(CREATE_PGCRYPTO)
        await conn.execute(PII_FUNCTIONS)
        error = await _error(conn, ENCRYPTED_EMAIL)
    # pgcrypto's encrypt() takes the key as bytea; the design passes text.
    assert _sqlstate_and_message(error) == ("42883", "function encrypt(bytea, text, unknown) does not exist")


async def test_users_have_no_encrypted_email_column(settings: Settings) -> None:
    async with _rolled_back(settings, "user") as conn:
        found = await conn.fetchval(
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_name = 'users' AND column_name = 'email_encrypted'"
        )
    assert found == 0
