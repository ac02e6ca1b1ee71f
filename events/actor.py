"""Events of the Actor service. The Actor service may add more; these three are shared contracts."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from events.base import DomainEvent


class ActorEvent(DomainEvent):
    """An event of one actor's stream (keyed by the actor id)."""

    stream_type: ClassVar[str] = "actor"


class ActorProfile(DomainEvent):
    """An actor's profile, carried whole by registration and each revision."""

    name: str = Field(min_length=1, max_length=255)
    name_en: str | None = Field(default=None, max_length=255)
    name_kana: str | None = Field(default=None, max_length=255)
    birth_date: date | None = None
    birth_place: str | None = Field(default=None, max_length=255)
    gender: str | None = Field(default=None, max_length=20)
    height_cm: int | None = Field(default=None, ge=30, le=300)
    debut_year: int | None = Field(default=None, ge=1870, le=2200)
    agency: str | None = Field(default=None, max_length=255)
    biography: str | None = None
    official_website: str | None = Field(default=None, max_length=500)


class ActorRegistered(ActorEvent, ActorProfile):
    """An actor entered the catalogue."""

    event_type: ClassVar[str] = "ActorRegistered"


class ActorProfileRevised(ActorEvent, ActorProfile):
    """An actor's profile changed (all fields are carried, changed or not)."""

    event_type: ClassVar[str] = "ActorProfileRevised"


class ActorRemoved(ActorEvent):
    """An actor left the catalogue."""

    event_type: ClassVar[str] = "ActorRemoved"


# --- Filmography, relationships and character roles: the Actor service's own events. ---

RoleType = Literal["lead", "supporting", "cameo", "voice"]
RelationType = Literal["spouse", "sibling", "parent_child", "mentor", "frequent_collaborator", "rival"]


class FilmographyDetails(DomainEvent):
    """One filmography entry's fields, carried whole by addition and each revision."""

    movie_id: UUID
    character_name: str | None = Field(default=None, max_length=255)
    role_type: RoleType = "supporting"
    billing_order: int | None = Field(default=None, ge=1)
    screen_time_minutes: int | None = Field(default=None, ge=0, le=1440)
    notes: str | None = None
    award_nominations: tuple[str, ...] = ()


class FilmographyEntryAdded(ActorEvent, FilmographyDetails):
    """A movie entered the actor's filmography."""

    event_type: ClassVar[str] = "FilmographyEntryAdded"


class FilmographyEntryRevised(ActorEvent, FilmographyDetails):
    """A filmography entry changed (all fields are carried, changed or not)."""

    event_type: ClassVar[str] = "FilmographyEntryRevised"


class FilmographyEntryRemoved(ActorEvent):
    """A movie left the actor's filmography."""

    event_type: ClassVar[str] = "FilmographyEntryRemoved"

    movie_id: UUID


class ActorsRelated(ActorEvent):
    """The actor (this stream) and another actor became related; directed types read this → other."""

    event_type: ClassVar[str] = "ActorsRelated"

    related_actor_id: UUID
    relation_type: RelationType
    since_year: int | None = Field(default=None, ge=1800, le=2200)
    until_year: int | None = Field(default=None, ge=1800, le=2200)
    notes: str | None = None


class ActorsUnrelated(ActorEvent):
    """A relationship recorded on this actor's stream was withdrawn."""

    event_type: ClassVar[str] = "ActorsUnrelated"

    related_actor_id: UUID
    relation_type: RelationType


class CharacterCast(ActorEvent):
    """The actor plays a character in a movie of their filmography."""

    event_type: ClassVar[str] = "CharacterCast"

    role_id: UUID
    movie_id: UUID
    character_name: str = Field(min_length=1, max_length=255)
    description: str | None = None
    is_main: bool = False


class CharacterUncast(ActorEvent):
    """The actor no longer plays that character."""

    event_type: ClassVar[str] = "CharacterUncast"

    role_id: UUID
    movie_id: UUID


ACTOR_EVENTS: tuple[type[ActorEvent], ...] = (
    ActorRegistered,
    ActorProfileRevised,
    ActorRemoved,
    FilmographyEntryAdded,
    FilmographyEntryRevised,
    FilmographyEntryRemoved,
    ActorsRelated,
    ActorsUnrelated,
    CharacterCast,
    CharacterUncast,
)
