from __future__ import annotations

import re
from uuid import NAMESPACE_URL, UUID, uuid5

import pytest

from commands.movie import GENRES, GENRES_BY_ID, genre_id
from events.movie import MovieDetails
from infra.migrate import MIGRATIONS_DIR
from infra.services import build_registry, command_handlers
from infra.services.movie import SERVICE
from projections.movies import DETAIL_COLUMNS

pytestmark = pytest.mark.unit

DESIGN_GENRES = {
    ("アクション", "Action", "#ef4444"),
    ("恋愛", "Romance", "#f97316"),
    ("コメディ", "Comedy", "#eab308"),
    ("ドラマ", "Drama", "#3b82f6"),
    ("ホラー", "Horror", "#7c2d12"),
    ("サスペンス", "Suspense", "#8b5cf6"),
    ("SF", "Science Fiction", "#06b6d4"),
    ("ファンタジー", "Fantasy", "#10b981"),
}


def test_the_catalogue_is_the_designs_eight_genres() -> None:
    assert {(g.name, g.name_en, g.color_code) for g in GENRES.values()} == DESIGN_GENRES
    assert all(name_en == g.name_en for name_en, g in GENRES.items())


def test_genre_ids_are_uuid5_of_the_english_name() -> None:
    assert GENRES["Science Fiction"].id == uuid5(NAMESPACE_URL, "sceneledger:genre:Science Fiction")
    assert {genre_id(g.name_en) for g in GENRES.values()} == set(GENRES_BY_ID)


def test_the_migration_seeds_the_same_genres_with_the_same_ids() -> None:
    sql = (MIGRATIONS_DIR / "movie_service" / "0001_movies.sql").read_text(encoding="utf-8")
    seeded = {
        (UUID(i), name, name_en, colour)
        for i, name, name_en, colour in re.findall(
            r"\('([0-9a-f-]{36})', '([^']+)', '([^']+)', '(#[0-9a-f]{6})'\)", sql
        )
    }
    assert seeded == {(g.id, g.name, g.name_en, g.color_code) for g in GENRES.values()}


def test_the_projection_writes_every_detail_field() -> None:
    assert set(DETAIL_COLUMNS) == set(MovieDetails.model_fields) - {
        "event_id",
        "stream_id",
        "stream_version",
        "occurred_at",
    }


def test_the_service_routes_its_commands_and_registers_its_events() -> None:
    routed = {cls.__name__ for cls in command_handlers()}
    assert {
        "RegisterMovie",
        "ReviseMovieDetails",
        "AssignMovieGenres",
        "RecordProductionInfo",
        "RemoveMovie",
    } <= routed
    registry = build_registry()
    assert all(cls.event_type in registry for cls in SERVICE.event_classes)
    assert "MovieGenresAssigned" in registry
    assert "MovieProductionInfoRecorded" in registry


def test_the_movies_projection_consumes_movie_scene_and_review_events() -> None:
    [spec] = SERVICE.projections
    assert spec.projection.name == "movies"
    assert set(spec.topics) == {"movies.events", "scenes.events", "reviews.events"}
    handled = {cls.__name__ for cls in spec.projection.handlers}
    assert {"SceneCreated", "SceneDeleted", "ReviewPosted", "ReviewRevised", "ReviewDeleted"} <= handled
