"""HTTP routes of the Actor service: its commands (same handlers as CLI and Kafka) and reads."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, HTTPException, Query
from pydantic import Field

from commands.actor import (
    MAX_NOMINATIONS,
    AddFilmographyEntry,
    BillingOrder,
    CastCharacter,
    Gender,
    HeightCm,
    LongText,
    Name,
    Nomination,
    RegisterActor,
    RelateActors,
    RelationYear,
    RemoveActor,
    RemoveFilmographyEntry,
    ReviseActorProfile,
    ReviseFilmographyEntry,
    ScreenMinutes,
    ShortText,
    UncastCharacter,
    UnrelateActors,
    Website,
    Year,
)
from commands.base import CommandResult
from commands.handlers import CommandBus
from events.actor import RelationType, RoleType
from infra.http.common import Acting, CommandId, ExpectedVersion, Limit, Offset, RequestBody, found
from read_models.actors import ActorQueries, ActorView, CharacterRoleView, FilmographyView, RelationshipView
from read_models.engines import ReadEngines


class ProfileBody(RequestBody):
    """Profile changes of an actor: fields left out keep their value, null clears one."""

    name: Name | None = None
    name_en: ShortText | None = None
    name_kana: ShortText | None = None
    birth_date: date | None = None
    birth_place: ShortText | None = None
    gender: Gender | None = None
    height_cm: HeightCm | None = None
    debut_year: Year | None = None
    agency: ShortText | None = None
    biography: LongText | None = None
    official_website: Website | None = None
    expected_version: int | None = Field(default=None, ge=1)


class FilmographyBody(RequestBody):
    """A movie to add to an actor's filmography."""

    movie_id: UUID
    character_name: ShortText | None = None
    role_type: RoleType = "supporting"
    billing_order: BillingOrder | None = None
    screen_time_minutes: ScreenMinutes | None = None
    notes: LongText | None = None
    award_nominations: tuple[Nomination, ...] = Field(default=(), max_length=MAX_NOMINATIONS)
    expected_version: int | None = Field(default=None, ge=1)


class FilmographyChangesBody(RequestBody):
    """Changes of a filmography entry: fields left out keep their value, null clears one."""

    character_name: ShortText | None = None
    role_type: RoleType | None = None
    billing_order: BillingOrder | None = None
    screen_time_minutes: ScreenMinutes | None = None
    notes: LongText | None = None
    award_nominations: tuple[Nomination, ...] | None = Field(default=None, max_length=MAX_NOMINATIONS)
    expected_version: int | None = Field(default=None, ge=1)


class RelationshipBody(RequestBody):
    """A relationship with another actor (parent_child and mentor read: this actor → the other)."""

    related_actor_id: UUID
    relation_type: RelationType
    since_year: RelationYear | None = None
    until_year: RelationYear | None = None
    notes: LongText | None = None
    expected_version: int | None = Field(default=None, ge=1)


class CharacterBody(RequestBody):
    """A character the actor plays in a movie of their filmography."""

    role_id: UUID | None = None
    movie_id: UUID
    character_name: Name
    description: LongText | None = None
    is_main: bool = False
    expected_version: int | None = Field(default=None, ge=1)


def actor_router(bus: CommandBus, engines: ReadEngines) -> APIRouter:  # noqa: C901, PLR0915  one closure per route
    """Routes of the Actor service."""
    router = APIRouter(tags=["actors"])
    queries = ActorQueries(engines["actor"])

    async def _known(actor_id: UUID) -> None:
        if not await queries.exists(actor_id):
            raise HTTPException(status_code=404, detail=f"actor {actor_id} not found")

    @router.post("/actors", status_code=202)
    async def register_actor(cmd: RegisterActor, meta: Acting) -> CommandResult:
        """Register an actor. The command id in the body makes retries safe."""
        return await bus.dispatch(cmd, meta)

    @router.patch("/actors/{actor_id}", status_code=202)
    async def revise_actor(
        actor_id: UUID,
        body: ProfileBody,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Change an actor's profile; fields left out keep their value."""
        cmd = ReviseActorProfile(
            command_id=command_id,
            actor_id=actor_id,
            **body.model_dump(exclude_unset=True),
        )
        return await bus.dispatch(cmd, meta)

    @router.delete("/actors/{actor_id}", status_code=202)
    async def remove_actor(
        actor_id: UUID,
        meta: Acting,
        command_id: CommandId,
        expected_version: ExpectedVersion = None,
    ) -> CommandResult:
        """Remove an actor."""
        cmd = RemoveActor(command_id=command_id, actor_id=actor_id, expected_version=expected_version)
        return await bus.dispatch(cmd, meta)

    @router.get("/actors/{actor_id}")
    async def get_actor(actor_id: UUID) -> ActorView:
        """Return one actor's profile with their figures."""
        return found(await queries.get(actor_id), f"actor {actor_id} not found")

    @router.get("/actors")
    async def search_actors(
        name: Annotated[
            str | None, Query(max_length=255, description="part of the name or English name")
        ] = None,
        kana: Annotated[str | None, Query(max_length=255, description="start of the furigana")] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> list[ActorView]:
        """Search actors by name and furigana, in furigana order."""
        return await queries.search(name=name, kana=kana, limit=limit, offset=offset)

    @router.post("/actors/{actor_id}/filmography", status_code=202)
    async def add_filmography_entry(
        actor_id: UUID,
        body: FilmographyBody,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Add a movie to an actor's filmography."""
        cmd = AddFilmographyEntry(command_id=command_id, actor_id=actor_id, **body.model_dump())
        return await bus.dispatch(cmd, meta)

    @router.patch("/actors/{actor_id}/filmography/{movie_id}", status_code=202)
    async def revise_filmography_entry(
        actor_id: UUID,
        movie_id: UUID,
        body: FilmographyChangesBody,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Change a filmography entry; fields left out keep their value."""
        cmd = ReviseFilmographyEntry(
            command_id=command_id,
            actor_id=actor_id,
            movie_id=movie_id,
            **body.model_dump(exclude_unset=True),
        )
        return await bus.dispatch(cmd, meta)

    @router.delete("/actors/{actor_id}/filmography/{movie_id}", status_code=202)
    async def remove_filmography_entry(
        actor_id: UUID,
        movie_id: UUID,
        meta: Acting,
        command_id: CommandId,
        expected_version: ExpectedVersion = None,
    ) -> CommandResult:
        """Remove a movie from an actor's filmography (and the characters played in it)."""
        cmd = RemoveFilmographyEntry(
            command_id=command_id,
            actor_id=actor_id,
            movie_id=movie_id,
            expected_version=expected_version,
        )
        return await bus.dispatch(cmd, meta)

    @router.get("/actors/{actor_id}/filmography")
    async def actor_filmography(actor_id: UUID) -> list[FilmographyView]:
        """Return an actor's filmography by billing order, then by when each entry was added."""
        await _known(actor_id)
        return await queries.filmography(actor_id)

    @router.post("/actors/{actor_id}/relationships", status_code=202)
    async def relate_actors(
        actor_id: UUID,
        body: RelationshipBody,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Record a relationship between this actor and another one."""
        cmd = RelateActors(command_id=command_id, actor_id=actor_id, **body.model_dump())
        return await bus.dispatch(cmd, meta)

    @router.delete("/actors/{actor_id}/relationships/{related_actor_id}/{relation_type}", status_code=202)
    async def unrelate_actors(
        actor_id: UUID,
        related_actor_id: UUID,
        relation_type: RelationType,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Withdraw a relationship, whichever of the two actors recorded it."""
        cmd = UnrelateActors(
            command_id=command_id,
            actor_id=actor_id,
            related_actor_id=related_actor_id,
            relation_type=relation_type,
        )
        return await bus.dispatch(cmd, meta)

    @router.get("/actors/{actor_id}/relationships")
    async def actor_relationships(actor_id: UUID) -> list[RelationshipView]:
        """Return every relationship the actor is part of."""
        await _known(actor_id)
        return await queries.relationships(actor_id)

    @router.post("/actors/{actor_id}/characters", status_code=202)
    async def cast_character(
        actor_id: UUID,
        body: CharacterBody,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Record a character the actor plays in a movie of their filmography."""
        fields = body.model_dump(exclude={"role_id"})
        cmd = CastCharacter(
            command_id=command_id,
            role_id=body.role_id or uuid4(),
            actor_id=actor_id,
            **fields,
        )
        return await bus.dispatch(cmd, meta)

    @router.delete("/actors/{actor_id}/characters/{role_id}", status_code=202)
    async def uncast_character(
        actor_id: UUID,
        role_id: UUID,
        meta: Acting,
        command_id: CommandId,
        expected_version: ExpectedVersion = None,
    ) -> CommandResult:
        """Withdraw one of the actor's character roles."""
        cmd = UncastCharacter(
            command_id=command_id,
            actor_id=actor_id,
            role_id=role_id,
            expected_version=expected_version,
        )
        return await bus.dispatch(cmd, meta)

    @router.get("/actors/{actor_id}/characters")
    async def actor_characters(actor_id: UUID) -> list[CharacterRoleView]:
        """Return the characters an actor plays."""
        await _known(actor_id)
        return await queries.characters(actor_id)

    @router.get("/characters")
    async def characters_named(
        name: Annotated[str, Query(min_length=1, max_length=255, description="the character's name")],
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> list[CharacterRoleView]:
        """Return every actor and movie a character was played in (a franchise role)."""
        return await queries.played_by(name, limit=limit, offset=offset)

    return router
