"""Actor commands and the pure Actor aggregate: profile, filmography, relationships, character roles."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from functools import singledispatch
from typing import Annotated, Any
from uuid import UUID, uuid4

from pydantic import Field, StringConstraints

from commands.base import Command, Decision
from commands.errors import InvalidCommandError, StreamNotFoundError
from commands.ports import UniqueClaim
from events.actor import (
    ActorEvent,
    ActorProfileRevised,
    ActorRegistered,
    ActorRemoved,
    ActorsRelated,
    ActorsUnrelated,
    CharacterCast,
    CharacterUncast,
    FilmographyEntryAdded,
    FilmographyEntryRemoved,
    FilmographyEntryRevised,
    RelationType,
    RoleType,
)
from events.base import DomainEvent

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]
Gender = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)]
Website = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
LongText = Annotated[str, StringConstraints(max_length=20_000)]
Nomination = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
HeightCm = Annotated[int, Field(ge=30, le=300)]
Year = Annotated[int, Field(ge=1870, le=2200)]
RelationYear = Annotated[int, Field(ge=1800, le=2200)]
BillingOrder = Annotated[int, Field(ge=1)]
ScreenMinutes = Annotated[int, Field(ge=0, le=1440)]
MAX_NOMINATIONS = 50

NAME_BIRTH_SCOPE = "actor_name_birth"
"""Unique-claim scope of an actor's name + birth date (the design's UNIQUE (name, birth_date))."""
RELATIONSHIP_SCOPE = "actor_relationship"
"""Unique-claim scope of a relationship: one per unordered pair of actors and relation type."""

# Hiragana, katakana (with ー and ・), their phonetic extensions, half-width katakana, spaces.
_KANA = re.compile(r"^[\u3041-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f \u3000]+$")
_WEBSITE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
PROFILE_FIELDS: tuple[str, ...] = (
    "name",
    "name_en",
    "name_kana",
    "birth_date",
    "birth_place",
    "gender",
    "height_cm",
    "debut_year",
    "agency",
    "biography",
    "official_website",
)
ENTRY_FIELDS: tuple[str, ...] = (
    "character_name",
    "role_type",
    "billing_order",
    "screen_time_minutes",
    "notes",
    "award_nominations",
)


class RegisterActor(Command):
    """Enter an actor into the catalogue."""

    actor_id: UUID = Field(default_factory=uuid4)
    name: Name
    name_en: ShortText | None = None
    name_kana: ShortText | None = Field(default=None, description="furigana: kana and spaces only")
    birth_date: date | None = None
    birth_place: ShortText | None = None
    gender: Gender | None = None
    height_cm: HeightCm | None = None
    debut_year: Year | None = None
    agency: ShortText | None = None
    biography: LongText | None = None
    official_website: Website | None = Field(default=None, description="an http(s) URL")


class ReviseActorProfile(Command):
    """Change an actor's profile: fields left out keep their value, fields given as null are cleared."""

    actor_id: UUID
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


class RemoveActor(Command):
    """Take an actor out of the catalogue (their name + birth date becomes free again)."""

    actor_id: UUID
    expected_version: int | None = Field(default=None, ge=1)


class AddFilmographyEntry(Command):
    """Record that the actor appears in a movie (once per movie)."""

    actor_id: UUID
    movie_id: UUID
    character_name: ShortText | None = None
    role_type: RoleType = "supporting"
    billing_order: BillingOrder | None = None
    screen_time_minutes: ScreenMinutes | None = None
    notes: LongText | None = None
    award_nominations: tuple[Nomination, ...] = Field(default=(), max_length=MAX_NOMINATIONS)
    expected_version: int | None = Field(default=None, ge=1)


class EnsureFilmographyEntry(Command):
    """Make sure the movie is in the actor's filmography: add it with these fields if it is not.

    The scene-creation saga's step: an actor cast in a second scene of a movie already has
    the entry, which is then left as it is (and not removed if the saga rolls back).
    """

    actor_id: UUID
    movie_id: UUID
    character_name: ShortText | None = None
    role_type: RoleType = "supporting"


class ReviseFilmographyEntry(Command):
    """Change a filmography entry: fields left out keep their value, fields given as null are cleared."""

    actor_id: UUID
    movie_id: UUID
    character_name: ShortText | None = None
    role_type: RoleType | None = None
    billing_order: BillingOrder | None = None
    screen_time_minutes: ScreenMinutes | None = None
    notes: LongText | None = None
    award_nominations: tuple[Nomination, ...] | None = Field(default=None, max_length=MAX_NOMINATIONS)
    expected_version: int | None = Field(default=None, ge=1)


class RemoveFilmographyEntry(Command):
    """Take a movie out of the actor's filmography, with the characters they play in it."""

    actor_id: UUID
    movie_id: UUID
    expected_version: int | None = Field(default=None, ge=1)


class RelateActors(Command):
    """Record a relationship between the actor and another one (directed types: actor → related)."""

    actor_id: UUID
    related_actor_id: UUID
    relation_type: RelationType
    since_year: RelationYear | None = None
    until_year: RelationYear | None = None
    notes: LongText | None = None
    expected_version: int | None = Field(default=None, ge=1)


class UnrelateActors(Command):
    """Withdraw a relationship between two actors, whichever of the two recorded it."""

    actor_id: UUID
    related_actor_id: UUID
    relation_type: RelationType


class CastCharacter(Command):
    """Record a character the actor plays in a movie of their filmography."""

    role_id: UUID = Field(default_factory=uuid4)
    actor_id: UUID
    movie_id: UUID
    character_name: Name
    description: LongText | None = None
    is_main: bool = False
    expected_version: int | None = Field(default=None, ge=1)


class UncastCharacter(Command):
    """Withdraw a character role of the actor."""

    actor_id: UUID
    role_id: UUID
    expected_version: int | None = Field(default=None, ge=1)


ActorCommand = (
    RegisterActor
    | ReviseActorProfile
    | RemoveActor
    | AddFilmographyEntry
    | EnsureFilmographyEntry
    | ReviseFilmographyEntry
    | RemoveFilmographyEntry
    | RelateActors
    | UnrelateActors
    | CastCharacter
    | UncastCharacter
)


@dataclass(frozen=True, slots=True)
class Profile:
    """An actor's profile fields."""

    name: str
    name_en: str | None = None
    name_kana: str | None = None
    birth_date: date | None = None
    birth_place: str | None = None
    gender: str | None = None
    height_cm: int | None = None
    debut_year: int | None = None
    agency: str | None = None
    biography: str | None = None
    official_website: str | None = None

    def claim(self) -> UniqueClaim | None:
        """Return the unique claim of this name + birth date, or ``None`` without a birth date.

        PostgreSQL's unique index on (name, birth_date) treats NULLs as distinct, so actors
        without a birth date may share a name; the command side decides the same.
        """
        if self.birth_date is None:
            return None
        return UniqueClaim(scope=NAME_BIRTH_SCOPE, key=f"{self.name}|{self.birth_date.isoformat()}")


@dataclass(frozen=True, slots=True)
class FilmographyEntry:
    """One movie of the actor's filmography."""

    movie_id: UUID
    character_name: str | None
    role_type: RoleType
    billing_order: int | None
    screen_time_minutes: int | None
    notes: str | None
    award_nominations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Relationship:
    """A relationship recorded on this actor's stream."""

    related_actor_id: UUID
    relation_type: RelationType
    since_year: int | None
    until_year: int | None
    notes: str | None


@dataclass(frozen=True, slots=True)
class CharacterRole:
    """A character the actor plays in one movie."""

    role_id: UUID
    movie_id: UUID
    character_name: str
    description: str | None
    is_main: bool


@dataclass(frozen=True, slots=True)
class ActorState:
    """An actor as their events left them."""

    actor_id: UUID
    version: int
    profile: Profile
    filmography: Mapping[UUID, FilmographyEntry] = field(default_factory=dict)
    relationships: Mapping[tuple[UUID, str], Relationship] = field(default_factory=dict)
    characters: Mapping[UUID, CharacterRole] = field(default_factory=dict)
    removed: bool = False


def relationship_claim(actor_id: UUID, other_id: UUID, relation_type: str) -> UniqueClaim:
    """Return the unique claim of a relationship: the same whichever of the two actors records it."""
    low, high = sorted((str(actor_id), str(other_id)))
    return UniqueClaim(scope=RELATIONSHIP_SCOPE, key=f"{low}|{high}|{relation_type}")


def _clean(value: str | None) -> str | None:
    # An empty string after stripping means "no value", as null does.
    return value or None


def _check_profile(profile: Profile) -> None:
    if profile.name_kana is not None and not _KANA.match(profile.name_kana):
        raise InvalidCommandError("name_kana", "furigana may hold only hiragana, katakana and spaces")
    if profile.official_website is not None and not _WEBSITE.match(profile.official_website):
        raise InvalidCommandError("official_website", "must be an http:// or https:// URL")
    if (
        profile.debut_year is not None
        and profile.birth_date is not None
        and profile.debut_year < profile.birth_date.year
    ):
        raise InvalidCommandError(
            "debut_year",
            f"an actor cannot debut ({profile.debut_year}) before being born ({profile.birth_date.year})",
        )


def _profile_of(values: Mapping[str, Any]) -> Profile:
    cleaned: dict[str, Any] = {k: _clean(v) if isinstance(v, str) else v for k, v in values.items()}
    if cleaned.get("name") is None:
        raise InvalidCommandError("name", "an actor needs a name")
    profile = Profile(**cleaned)
    _check_profile(profile)
    return profile


def _claims(old: UniqueClaim | None, new: UniqueClaim | None) -> tuple[list[UniqueClaim], list[UniqueClaim]]:
    """(claims, releases) that move the name + birth date key from ``old`` to ``new``."""
    if old == new:
        return [], []
    return ([new] if new else []), ([old] if old else [])


def register_actor(cmd: RegisterActor, existing: ActorState | None) -> Decision:
    """Validate a new actor and return its ``ActorRegistered`` with the name + birth date claim."""
    if existing is not None:
        raise InvalidCommandError("actor_id", f"actor {cmd.actor_id} already exists")
    profile = _profile_of({f: getattr(cmd, f) for f in PROFILE_FIELDS})
    claim = profile.claim()
    event = ActorRegistered(stream_id=cmd.actor_id, stream_version=1, **asdict(profile))
    return Decision(events=[event], claims=[claim] if claim else [])


def _live(state: ActorState | None, actor_id: UUID) -> ActorState:
    if state is None or state.removed:
        raise StreamNotFoundError("actor_id", "actor", actor_id)
    return state


def _given(cmd: Command, names: Sequence[str]) -> dict[str, Any]:
    """Return the fields the caller actually gave (null included), for partial updates."""
    return {name: getattr(cmd, name) for name in names if name in cmd.model_fields_set}


def revise_actor_profile(cmd: ReviseActorProfile, state: ActorState | None) -> Decision:
    """Apply the given profile changes; no event when nothing changes."""
    actor = _live(state, cmd.actor_id)
    changes = _given(cmd, PROFILE_FIELDS)
    if not changes:
        raise InvalidCommandError("name", f"give at least one of {', '.join(PROFILE_FIELDS)} to change")
    if "name" in changes and changes["name"] is None:
        raise InvalidCommandError("name", "an actor's name cannot be cleared")
    profile = _profile_of({**asdict(actor.profile), **changes})
    if profile == actor.profile:
        return Decision(events=[])
    claims, releases = _claims(actor.profile.claim(), profile.claim())
    event = ActorProfileRevised(stream_id=actor.actor_id, stream_version=actor.version + 1, **asdict(profile))
    return Decision(events=[event], claims=claims, releases=releases)


def remove_actor(cmd: RemoveActor, state: ActorState | None) -> Decision:
    """Remove a live actor, freeing their name + birth date and the relationships they recorded."""
    actor = _live(state, cmd.actor_id)
    releases = [relationship_claim(actor.actor_id, other, kind) for other, kind in actor.relationships]
    name_claim = actor.profile.claim()
    if name_claim is not None:
        releases.append(name_claim)
    event = ActorRemoved(stream_id=actor.actor_id, stream_version=actor.version + 1)
    return Decision(events=[event], releases=releases)


def _entry_event(
    cls: type[FilmographyEntryAdded | FilmographyEntryRevised], actor: ActorState, entry: FilmographyEntry
) -> FilmographyEntryAdded | FilmographyEntryRevised:
    return cls(stream_id=actor.actor_id, stream_version=actor.version + 1, **asdict(entry))


def add_filmography_entry(cmd: AddFilmographyEntry, state: ActorState | None) -> list[ActorEvent]:
    """Add a movie to the actor's filmography (the handler checked the movie exists)."""
    actor = _live(state, cmd.actor_id)
    if cmd.movie_id in actor.filmography:
        raise InvalidCommandError("movie_id", f"movie {cmd.movie_id} is already in the filmography")
    entry = FilmographyEntry(
        movie_id=cmd.movie_id,
        character_name=_clean(cmd.character_name),
        role_type=cmd.role_type,
        billing_order=cmd.billing_order,
        screen_time_minutes=cmd.screen_time_minutes,
        notes=_clean(cmd.notes),
        award_nominations=tuple(dict.fromkeys(cmd.award_nominations)),
    )
    return [_entry_event(FilmographyEntryAdded, actor, entry)]


def ensure_filmography_entry(cmd: EnsureFilmographyEntry, state: ActorState | None) -> list[ActorEvent]:
    """Add the movie to the filmography unless it is there already (then nothing happens)."""
    actor = _live(state, cmd.actor_id)
    if cmd.movie_id in actor.filmography:
        return []
    add = AddFilmographyEntry(
        actor_id=cmd.actor_id,
        movie_id=cmd.movie_id,
        character_name=cmd.character_name,
        role_type=cmd.role_type,
        command_id=cmd.command_id,
    )
    return add_filmography_entry(add, actor)


def _entry(actor: ActorState, movie_id: UUID) -> FilmographyEntry:
    entry = actor.filmography.get(movie_id)
    if entry is None:
        raise StreamNotFoundError("movie_id", "filmography entry for movie", movie_id)
    return entry


def revise_filmography_entry(cmd: ReviseFilmographyEntry, state: ActorState | None) -> list[ActorEvent]:
    """Apply the given entry changes; no event when nothing changes."""
    actor = _live(state, cmd.actor_id)
    entry = _entry(actor, cmd.movie_id)
    changes = _given(cmd, ENTRY_FIELDS)
    if not changes:
        raise InvalidCommandError(
            "character_name", f"give at least one of {', '.join(ENTRY_FIELDS)} to change"
        )
    if "role_type" in changes and changes["role_type"] is None:
        raise InvalidCommandError("role_type", "a role type cannot be cleared")
    if "award_nominations" in changes:
        changes["award_nominations"] = tuple(dict.fromkeys(changes["award_nominations"] or ()))
    for name in ("character_name", "notes"):
        if name in changes:
            changes[name] = _clean(changes[name])
    revised = replace(entry, **changes)
    if revised == entry:
        return []
    return [_entry_event(FilmographyEntryRevised, actor, revised)]


def remove_filmography_entry(cmd: RemoveFilmographyEntry, state: ActorState | None) -> list[ActorEvent]:
    """Remove a movie from the filmography; the characters played in it are uncast first."""
    actor = _live(state, cmd.actor_id)
    _entry(actor, cmd.movie_id)
    roles = [r for r in actor.characters.values() if r.movie_id == cmd.movie_id]
    events: list[ActorEvent] = [
        CharacterUncast(
            stream_id=actor.actor_id,
            stream_version=actor.version + i,
            role_id=role.role_id,
            movie_id=role.movie_id,
        )
        for i, role in enumerate(roles, start=1)
    ]
    events.append(
        FilmographyEntryRemoved(
            stream_id=actor.actor_id,
            stream_version=actor.version + len(roles) + 1,
            movie_id=cmd.movie_id,
        ),
    )
    return events


def relate_actors(cmd: RelateActors, state: ActorState | None) -> Decision:
    """Record a relationship (the handler checked the other actor exists), claiming the pair + type."""
    actor = _live(state, cmd.actor_id)
    if cmd.related_actor_id == actor.actor_id:
        raise InvalidCommandError("related_actor_id", "an actor cannot be related to themselves")
    if cmd.since_year is not None and cmd.until_year is not None and cmd.until_year < cmd.since_year:
        raise InvalidCommandError(
            "until_year", f"a relationship cannot end ({cmd.until_year}) before it began ({cmd.since_year})"
        )
    if (cmd.related_actor_id, cmd.relation_type) in actor.relationships:
        raise InvalidCommandError(
            "relation_type",
            f"a {cmd.relation_type} relationship with actor {cmd.related_actor_id} is already recorded",
        )
    event = ActorsRelated(
        stream_id=actor.actor_id,
        stream_version=actor.version + 1,
        related_actor_id=cmd.related_actor_id,
        relation_type=cmd.relation_type,
        since_year=cmd.since_year,
        until_year=cmd.until_year,
        notes=_clean(cmd.notes),
    )
    claim = relationship_claim(actor.actor_id, cmd.related_actor_id, cmd.relation_type)
    return Decision(events=[event], claims=[claim])


def holds_relationship(state: ActorState | None, other_id: UUID, relation_type: str) -> bool:
    """Whether this live actor's stream recorded that relationship with ``other_id``."""
    return state is not None and not state.removed and (other_id, relation_type) in state.relationships


def unrelate_actors(state: ActorState | None, *, owner_id: UUID, other_id: UUID, kind: str) -> Decision:
    """Withdraw the relationship ``owner`` recorded with ``other``, freeing the pair + type."""
    owner = _live(state, owner_id)
    if (other_id, kind) not in owner.relationships:
        raise StreamNotFoundError("related_actor_id", f"{kind} relationship with actor", other_id)
    event = ActorsUnrelated(
        stream_id=owner.actor_id,
        stream_version=owner.version + 1,
        related_actor_id=other_id,
        relation_type=owner.relationships[(other_id, kind)].relation_type,
    )
    return Decision(events=[event], releases=[relationship_claim(owner.actor_id, other_id, kind)])


def cast_character(cmd: CastCharacter, state: ActorState | None) -> list[ActorEvent]:
    """Record a character role in a movie of the actor's filmography (one per movie and name)."""
    actor = _live(state, cmd.actor_id)
    if cmd.movie_id not in actor.filmography:
        raise InvalidCommandError(
            "movie_id", f"movie {cmd.movie_id} is not in the actor's filmography: add it first"
        )
    if cmd.role_id in actor.characters:
        raise InvalidCommandError("role_id", f"character role {cmd.role_id} already exists")
    for role in actor.characters.values():
        if role.movie_id == cmd.movie_id and role.character_name == cmd.character_name:
            raise InvalidCommandError(
                "character_name", f"the actor already plays {cmd.character_name!r} in movie {cmd.movie_id}"
            )
    return [
        CharacterCast(
            stream_id=actor.actor_id,
            stream_version=actor.version + 1,
            role_id=cmd.role_id,
            movie_id=cmd.movie_id,
            character_name=cmd.character_name,
            description=_clean(cmd.description),
            is_main=cmd.is_main,
        ),
    ]


def uncast_character(cmd: UncastCharacter, state: ActorState | None) -> list[ActorEvent]:
    """Withdraw one of the actor's character roles."""
    actor = _live(state, cmd.actor_id)
    role = actor.characters.get(cmd.role_id)
    if role is None:
        raise StreamNotFoundError("role_id", "character role", cmd.role_id)
    return [
        CharacterUncast(
            stream_id=actor.actor_id,
            stream_version=actor.version + 1,
            role_id=role.role_id,
            movie_id=role.movie_id,
        ),
    ]


@singledispatch
def apply(event: ActorEvent, state: ActorState | None) -> ActorState:  # noqa: ARG001  the fallback
    """Return the actor state after ``event``; one registered function per event type."""
    raise TypeError(f"no apply function for {type(event).__name__}")


def _existing(state: ActorState | None, event: ActorEvent) -> ActorState:
    if state is None:
        raise TypeError(f"{event.event_type} before ActorRegistered in stream {event.stream_id}")
    return state


def _profile(event: ActorRegistered | ActorProfileRevised) -> Profile:
    return Profile(**{f: getattr(event, f) for f in PROFILE_FIELDS})


@apply.register
def _(event: ActorRegistered, state: ActorState | None) -> ActorState:  # noqa: ARG001  starts from nothing
    return ActorState(actor_id=event.stream_id, version=event.stream_version, profile=_profile(event))


@apply.register
def _(event: ActorProfileRevised, state: ActorState | None) -> ActorState:
    return replace(_existing(state, event), version=event.stream_version, profile=_profile(event))


@apply.register
def _(event: ActorRemoved, state: ActorState | None) -> ActorState:
    return replace(_existing(state, event), version=event.stream_version, removed=True)


def _with_entry(event: FilmographyEntryAdded | FilmographyEntryRevised, state: ActorState) -> ActorState:
    entry = FilmographyEntry(
        movie_id=event.movie_id,
        character_name=event.character_name,
        role_type=event.role_type,
        billing_order=event.billing_order,
        screen_time_minutes=event.screen_time_minutes,
        notes=event.notes,
        award_nominations=event.award_nominations,
    )
    return replace(
        state, version=event.stream_version, filmography={**state.filmography, event.movie_id: entry}
    )


@apply.register
def _(event: FilmographyEntryAdded, state: ActorState | None) -> ActorState:
    return _with_entry(event, _existing(state, event))


@apply.register
def _(event: FilmographyEntryRevised, state: ActorState | None) -> ActorState:
    return _with_entry(event, _existing(state, event))


@apply.register
def _(event: FilmographyEntryRemoved, state: ActorState | None) -> ActorState:
    actor = _existing(state, event)
    filmography = {k: v for k, v in actor.filmography.items() if k != event.movie_id}
    return replace(actor, version=event.stream_version, filmography=filmography)


@apply.register
def _(event: ActorsRelated, state: ActorState | None) -> ActorState:
    actor = _existing(state, event)
    relationship = Relationship(
        related_actor_id=event.related_actor_id,
        relation_type=event.relation_type,
        since_year=event.since_year,
        until_year=event.until_year,
        notes=event.notes,
    )
    key = (event.related_actor_id, event.relation_type)
    return replace(
        actor, version=event.stream_version, relationships={**actor.relationships, key: relationship}
    )


@apply.register
def _(event: ActorsUnrelated, state: ActorState | None) -> ActorState:
    actor = _existing(state, event)
    key = (event.related_actor_id, event.relation_type)
    relationships = {k: v for k, v in actor.relationships.items() if k != key}
    return replace(actor, version=event.stream_version, relationships=relationships)


@apply.register
def _(event: CharacterCast, state: ActorState | None) -> ActorState:
    actor = _existing(state, event)
    role = CharacterRole(
        role_id=event.role_id,
        movie_id=event.movie_id,
        character_name=event.character_name,
        description=event.description,
        is_main=event.is_main,
    )
    return replace(actor, version=event.stream_version, characters={**actor.characters, event.role_id: role})


@apply.register
def _(event: CharacterUncast, state: ActorState | None) -> ActorState:
    actor = _existing(state, event)
    characters = {k: v for k, v in actor.characters.items() if k != event.role_id}
    return replace(actor, version=event.stream_version, characters=characters)


def replay(events: Sequence[DomainEvent]) -> ActorState | None:
    """Fold a stream's events into its state (``None`` for an empty stream)."""
    state: ActorState | None = None
    for event in events:
        if isinstance(event, ActorEvent):
            state = apply(event, state)
    return state
