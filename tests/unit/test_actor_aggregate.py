from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from uuid import UUID, uuid4

import pytest

from commands.actor import (
    NAME_BIRTH_SCOPE,
    ActorState,
    AddFilmographyEntry,
    CastCharacter,
    RegisterActor,
    RelateActors,
    RemoveActor,
    RemoveFilmographyEntry,
    ReviseActorProfile,
    ReviseFilmographyEntry,
    UncastCharacter,
    add_filmography_entry,
    cast_character,
    holds_relationship,
    register_actor,
    relate_actors,
    relationship_claim,
    remove_actor,
    remove_filmography_entry,
    replay,
    revise_actor_profile,
    revise_filmography_entry,
    uncast_character,
    unrelate_actors,
)
from commands.base import Decision
from commands.errors import InvalidCommandError, StreamNotFoundError
from commands.ports import UniqueClaim
from events.actor import (
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
)
from events.base import DomainEvent

pytestmark = pytest.mark.unit

BIRTH = date(1972, 11, 13)


def _register(**overrides: object) -> RegisterActor:
    fields: dict[str, object] = {"name": "木村拓哉", "name_kana": "きむら たくや", "birth_date": BIRTH}
    fields.update(overrides)
    return RegisterActor.model_validate(fields)


class _Stream:
    """An actor's events so far, folded on demand: given these events, when this command."""

    def __init__(self, **overrides: object) -> None:
        decision = register_actor(_register(**overrides), None)
        self.events: list[DomainEvent] = list(decision.events)

    @property
    def actor_id(self) -> UUID:
        return self.events[0].stream_id

    @property
    def state(self) -> ActorState:
        state = replay(self.events)
        assert state is not None
        return state

    def then(self, outcome: Decision | Sequence[DomainEvent]) -> _Stream:
        events = outcome.events if isinstance(outcome, Decision) else outcome
        self.events.extend(events)
        return self

    def with_movie(self, movie_id: UUID | None = None, **fields: object) -> UUID:
        movie = movie_id or uuid4()
        cmd = AddFilmographyEntry.model_validate({"actor_id": self.actor_id, "movie_id": movie, **fields})
        self.then(add_filmography_entry(cmd, self.state))
        return movie


# --- registration ---


def test_register_records_the_profile_at_version_one() -> None:
    cmd = _register(height_cm=176, debut_year=1987, official_website="https://example.jp/kimura")
    decision = register_actor(cmd, None)
    [event] = decision.events
    assert isinstance(event, ActorRegistered)
    assert (event.stream_id, event.stream_version) == (cmd.actor_id, 1)
    assert (event.name, event.name_kana, event.birth_date, event.height_cm) == (
        "木村拓哉",
        "きむら たくや",
        BIRTH,
        176,
    )


def test_register_claims_name_and_birth_date() -> None:
    decision = register_actor(_register(), None)
    assert list(decision.claims) == [UniqueClaim(scope=NAME_BIRTH_SCOPE, key="木村拓哉|1972-11-13")]


def test_register_without_birth_date_claims_nothing() -> None:
    decision = register_actor(_register(birth_date=None), None)
    assert list(decision.claims) == []


def test_register_strips_the_name_and_drops_empty_fields() -> None:
    [event] = register_actor(_register(name="  木村拓哉 ", agency="   "), None).events
    assert isinstance(event, ActorRegistered)
    assert (event.name, event.agency) == ("木村拓哉", None)


def test_register_twice_is_rejected() -> None:
    stream = _Stream()
    with pytest.raises(InvalidCommandError) as err:
        register_actor(_register(actor_id=stream.actor_id), stream.state)
    assert err.value.field == "actor_id"


def test_furigana_must_be_kana() -> None:
    with pytest.raises(InvalidCommandError) as err:
        register_actor(_register(name_kana="木村"), None)
    assert err.value.field == "name_kana"


def test_katakana_and_half_width_furigana_are_accepted() -> None:
    [event] = register_actor(_register(name_kana="キムラ・タクヤ ｷﾑﾗ"), None).events
    assert isinstance(event, ActorRegistered)
    assert event.name_kana == "キムラ・タクヤ ｷﾑﾗ"


def test_website_must_be_http_or_https() -> None:
    with pytest.raises(InvalidCommandError) as err:
        register_actor(_register(official_website="javascript:alert(1)"), None)
    assert err.value.field == "official_website"


def test_debut_before_birth_is_rejected() -> None:
    with pytest.raises(InvalidCommandError) as err:
        register_actor(_register(debut_year=1970), None)
    assert err.value.field == "debut_year"


# --- profile revision ---


def test_revise_keeps_fields_left_out() -> None:
    stream = _Stream(agency="ジャニーズ事務所", height_cm=176)
    cmd = ReviseActorProfile(actor_id=stream.actor_id, agency="Tornado")
    [event] = revise_actor_profile(cmd, stream.state).events
    assert isinstance(event, ActorProfileRevised)
    assert (event.agency, event.height_cm, event.name_kana) == ("Tornado", 176, "きむら たくや")
    assert event.stream_version == 2


def test_revise_with_null_clears_a_field() -> None:
    stream = _Stream(height_cm=176)
    cmd = ReviseActorProfile.model_validate({"actor_id": stream.actor_id, "height_cm": None})
    [event] = revise_actor_profile(cmd, stream.state).events
    assert isinstance(event, ActorProfileRevised)
    assert event.height_cm is None


def test_name_cannot_be_cleared() -> None:
    stream = _Stream()
    cmd = ReviseActorProfile.model_validate({"actor_id": stream.actor_id, "name": None})
    with pytest.raises(InvalidCommandError) as err:
        revise_actor_profile(cmd, stream.state)
    assert err.value.field == "name"


def test_revise_without_changes_is_rejected() -> None:
    stream = _Stream()
    with pytest.raises(InvalidCommandError):
        revise_actor_profile(ReviseActorProfile(actor_id=stream.actor_id), stream.state)


def test_revise_to_the_same_values_writes_nothing() -> None:
    stream = _Stream()
    cmd = ReviseActorProfile(actor_id=stream.actor_id, name="木村拓哉")
    assert list(revise_actor_profile(cmd, stream.state).events) == []


def test_revise_checks_the_merged_profile() -> None:
    stream = _Stream()
    with pytest.raises(InvalidCommandError) as err:
        revise_actor_profile(ReviseActorProfile(actor_id=stream.actor_id, debut_year=1960), stream.state)
    assert err.value.field == "debut_year"


def test_new_birth_date_moves_the_claim() -> None:
    stream = _Stream()
    new_birth = date(1972, 11, 14)
    decision = revise_actor_profile(
        ReviseActorProfile(actor_id=stream.actor_id, birth_date=new_birth), stream.state
    )
    assert list(decision.releases) == [UniqueClaim(scope=NAME_BIRTH_SCOPE, key="木村拓哉|1972-11-13")]
    assert list(decision.claims) == [UniqueClaim(scope=NAME_BIRTH_SCOPE, key="木村拓哉|1972-11-14")]


def test_clearing_the_birth_date_only_releases() -> None:
    stream = _Stream()
    cmd = ReviseActorProfile.model_validate({"actor_id": stream.actor_id, "birth_date": None})
    decision = revise_actor_profile(cmd, stream.state)
    assert (len(decision.releases), len(decision.claims)) == (1, 0)


def test_unchanged_key_is_neither_released_nor_claimed() -> None:
    stream = _Stream()
    decision = revise_actor_profile(ReviseActorProfile(actor_id=stream.actor_id, agency="X"), stream.state)
    assert (list(decision.releases), list(decision.claims)) == ([], [])


def test_revise_unknown_actor_is_not_found() -> None:
    with pytest.raises(StreamNotFoundError) as err:
        revise_actor_profile(ReviseActorProfile(actor_id=uuid4(), agency="X"), None)
    assert not err.value.referenced


# --- removal ---


def test_remove_releases_the_name_and_the_relationships_recorded() -> None:
    stream = _Stream()
    other = uuid4()
    stream.then(
        relate_actors(
            RelateActors(actor_id=stream.actor_id, related_actor_id=other, relation_type="rival"),
            stream.state,
        ),
    )
    decision = remove_actor(RemoveActor(actor_id=stream.actor_id), stream.state)
    [event] = decision.events
    assert isinstance(event, ActorRemoved)
    assert set(decision.releases) == {
        UniqueClaim(scope=NAME_BIRTH_SCOPE, key="木村拓哉|1972-11-13"),
        relationship_claim(stream.actor_id, other, "rival"),
    }


@pytest.mark.parametrize(
    "decide",
    [
        lambda s, a: remove_actor(RemoveActor(actor_id=a), s),
        lambda s, a: revise_actor_profile(ReviseActorProfile(actor_id=a, agency="X"), s),
        lambda s, a: add_filmography_entry(AddFilmographyEntry(actor_id=a, movie_id=uuid4()), s),
        lambda s, a: relate_actors(
            RelateActors(actor_id=a, related_actor_id=uuid4(), relation_type="rival"), s
        ),
        lambda s, a: uncast_character(UncastCharacter(actor_id=a, role_id=uuid4()), s),
    ],
    ids=["remove", "revise", "add-entry", "relate", "uncast"],
)
def test_commands_on_a_removed_actor_are_not_found(decide: Callable[[ActorState, UUID], object]) -> None:
    stream = _Stream()
    stream.then(remove_actor(RemoveActor(actor_id=stream.actor_id), stream.state))
    with pytest.raises(StreamNotFoundError) as err:
        decide(stream.state, stream.actor_id)
    assert err.value.field == "actor_id"


# --- filmography ---


def test_add_entry_records_the_movie() -> None:
    stream = _Stream()
    movie = uuid4()
    cmd = AddFilmographyEntry(
        actor_id=stream.actor_id,
        movie_id=movie,
        character_name="久利生公平",
        role_type="lead",
        billing_order=1,
        screen_time_minutes=110,
        award_nominations=("日本アカデミー賞", "ブルーリボン賞", "日本アカデミー賞"),
    )
    [event] = add_filmography_entry(cmd, stream.state)
    assert isinstance(event, FilmographyEntryAdded)
    assert (event.movie_id, event.role_type, event.billing_order) == (movie, "lead", 1)
    assert event.award_nominations == ("日本アカデミー賞", "ブルーリボン賞")
    assert event.stream_version == 2


def test_a_movie_is_in_the_filmography_once() -> None:
    stream = _Stream()
    movie = stream.with_movie()
    with pytest.raises(InvalidCommandError) as err:
        add_filmography_entry(AddFilmographyEntry(actor_id=stream.actor_id, movie_id=movie), stream.state)
    assert err.value.field == "movie_id"


def test_billing_order_starts_at_one() -> None:
    with pytest.raises(ValueError, match="billing_order"):
        AddFilmographyEntry(actor_id=uuid4(), movie_id=uuid4(), billing_order=0)


def test_role_type_is_one_of_the_designs() -> None:
    with pytest.raises(ValueError, match="role_type"):
        AddFilmographyEntry.model_validate({"actor_id": uuid4(), "movie_id": uuid4(), "role_type": "extra"})


def test_revise_entry_keeps_fields_left_out_and_clears_nulls() -> None:
    stream = _Stream()
    movie = stream.with_movie(character_name="A", billing_order=2, notes="n")
    cmd = ReviseFilmographyEntry.model_validate(
        {"actor_id": stream.actor_id, "movie_id": movie, "billing_order": 1, "notes": None}
    )
    [event] = revise_filmography_entry(cmd, stream.state)
    assert isinstance(event, FilmographyEntryRevised)
    assert (event.character_name, event.billing_order, event.notes) == ("A", 1, None)


def test_revise_entry_cannot_clear_the_role_type() -> None:
    stream = _Stream()
    movie = stream.with_movie()
    cmd = ReviseFilmographyEntry.model_validate(
        {"actor_id": stream.actor_id, "movie_id": movie, "role_type": None}
    )
    with pytest.raises(InvalidCommandError) as err:
        revise_filmography_entry(cmd, stream.state)
    assert err.value.field == "role_type"


def test_revise_entry_without_change_writes_nothing() -> None:
    stream = _Stream()
    movie = stream.with_movie(role_type="cameo")
    cmd = ReviseFilmographyEntry(actor_id=stream.actor_id, movie_id=movie, role_type="cameo")
    assert revise_filmography_entry(cmd, stream.state) == []


def test_revise_unknown_entry_is_not_found() -> None:
    stream = _Stream()
    cmd = ReviseFilmographyEntry(actor_id=stream.actor_id, movie_id=uuid4(), billing_order=1)
    with pytest.raises(StreamNotFoundError) as err:
        revise_filmography_entry(cmd, stream.state)
    assert err.value.field == "movie_id"


def test_remove_entry_uncasts_its_characters_first() -> None:
    stream = _Stream()
    movie, other_movie = stream.with_movie(), stream.with_movie()
    for m, name in ((movie, "A"), (movie, "B"), (other_movie, "C")):
        stream.then(
            cast_character(
                CastCharacter(actor_id=stream.actor_id, movie_id=m, character_name=name), stream.state
            ),
        )
    events = remove_filmography_entry(
        RemoveFilmographyEntry(actor_id=stream.actor_id, movie_id=movie), stream.state
    )
    assert [type(e) for e in events] == [CharacterUncast, CharacterUncast, FilmographyEntryRemoved]
    assert [e.stream_version for e in events] == [7, 8, 9]
    state = stream.then(events).state
    assert set(state.filmography) == {other_movie}
    assert [r.character_name for r in state.characters.values()] == ["C"]


def test_remove_unknown_entry_is_not_found() -> None:
    stream = _Stream()
    with pytest.raises(StreamNotFoundError):
        remove_filmography_entry(
            RemoveFilmographyEntry(actor_id=stream.actor_id, movie_id=uuid4()), stream.state
        )


# --- relationships ---


def _relate(stream: _Stream, other: UUID, kind: str = "spouse", **fields: object) -> Decision:
    cmd = RelateActors.model_validate(
        {"actor_id": stream.actor_id, "related_actor_id": other, "relation_type": kind, **fields}
    )
    return relate_actors(cmd, stream.state)


def test_relate_records_and_claims_the_unordered_pair() -> None:
    stream = _Stream()
    other = uuid4()
    decision = _relate(stream, other, "mentor", since_year=1990, until_year=2000)
    [event] = decision.events
    assert isinstance(event, ActorsRelated)
    assert (event.related_actor_id, event.relation_type, event.since_year, event.until_year) == (
        other,
        "mentor",
        1990,
        2000,
    )
    assert list(decision.claims) == [relationship_claim(other, stream.actor_id, "mentor")]


def test_an_actor_cannot_be_related_to_themselves() -> None:
    stream = _Stream()
    with pytest.raises(InvalidCommandError) as err:
        _relate(stream, stream.actor_id)
    assert err.value.field == "related_actor_id"


def test_a_relationship_cannot_end_before_it_began() -> None:
    stream = _Stream()
    with pytest.raises(InvalidCommandError) as err:
        _relate(stream, uuid4(), since_year=2000, until_year=1999)
    assert err.value.field == "until_year"


def test_relation_type_is_checked() -> None:
    with pytest.raises(ValueError, match="relation_type"):
        RelateActors.model_validate(
            {"actor_id": uuid4(), "related_actor_id": uuid4(), "relation_type": "friend"}
        )


def test_same_relationship_twice_is_rejected() -> None:
    stream = _Stream()
    other = uuid4()
    stream.then(_relate(stream, other))
    with pytest.raises(InvalidCommandError) as err:
        _relate(stream, other)
    assert err.value.field == "relation_type"


def test_another_type_with_the_same_actor_is_allowed() -> None:
    stream = _Stream()
    other = uuid4()
    stream.then(_relate(stream, other, "spouse"))
    assert len(_relate(stream, other, "frequent_collaborator").events) == 1


def test_unrelate_releases_the_pair() -> None:
    stream = _Stream()
    other = uuid4()
    stream.then(_relate(stream, other, "sibling"))
    decision = unrelate_actors(stream.state, owner_id=stream.actor_id, other_id=other, kind="sibling")
    [event] = decision.events
    assert isinstance(event, ActorsUnrelated)
    assert list(decision.releases) == [relationship_claim(stream.actor_id, other, "sibling")]
    assert not holds_relationship(stream.then(decision).state, other, "sibling")


def test_unrelate_unknown_relationship_is_not_found() -> None:
    stream = _Stream()
    with pytest.raises(StreamNotFoundError) as err:
        unrelate_actors(stream.state, owner_id=stream.actor_id, other_id=uuid4(), kind="rival")
    assert err.value.field == "related_actor_id"


# --- character roles ---


def test_cast_needs_the_movie_in_the_filmography() -> None:
    stream = _Stream()
    cmd = CastCharacter(actor_id=stream.actor_id, movie_id=uuid4(), character_name="久利生公平")
    with pytest.raises(InvalidCommandError) as err:
        cast_character(cmd, stream.state)
    assert err.value.field == "movie_id"


def test_cast_records_the_character() -> None:
    stream = _Stream()
    movie = stream.with_movie()
    cmd = CastCharacter(
        actor_id=stream.actor_id,
        movie_id=movie,
        character_name="久利生公平",
        is_main=True,
        description="検事",
    )
    [event] = cast_character(cmd, stream.state)
    assert isinstance(event, CharacterCast)
    assert (event.role_id, event.character_name, event.is_main, event.description) == (
        cmd.role_id,
        "久利生公平",
        True,
        "検事",
    )


def test_same_character_twice_in_a_movie_is_rejected() -> None:
    stream = _Stream()
    movie = stream.with_movie()
    first = CastCharacter(actor_id=stream.actor_id, movie_id=movie, character_name="X")
    stream.then(cast_character(first, stream.state))
    with pytest.raises(InvalidCommandError) as err:
        cast_character(
            CastCharacter(actor_id=stream.actor_id, movie_id=movie, character_name="X"), stream.state
        )
    assert err.value.field == "character_name"


def test_same_character_in_another_movie_is_allowed() -> None:
    stream = _Stream()
    first, second = stream.with_movie(), stream.with_movie()
    stream.then(
        cast_character(
            CastCharacter(actor_id=stream.actor_id, movie_id=first, character_name="X"), stream.state
        )
    )
    cmd = CastCharacter(actor_id=stream.actor_id, movie_id=second, character_name="X")
    assert len(cast_character(cmd, stream.state)) == 1


def test_uncast_unknown_role_is_not_found() -> None:
    stream = _Stream()
    with pytest.raises(StreamNotFoundError) as err:
        uncast_character(UncastCharacter(actor_id=stream.actor_id, role_id=uuid4()), stream.state)
    assert err.value.field == "role_id"


def test_uncast_removes_the_role() -> None:
    stream = _Stream()
    movie = stream.with_movie()
    cast = CastCharacter(actor_id=stream.actor_id, movie_id=movie, character_name="X")
    stream.then(cast_character(cast, stream.state))
    events = uncast_character(UncastCharacter(actor_id=stream.actor_id, role_id=cast.role_id), stream.state)
    assert stream.then(events).state.characters == {}


# --- replay ---


def test_replay_of_an_empty_stream_is_none() -> None:
    assert replay([]) is None


def test_event_before_registration_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        replay([ActorRemoved(stream_id=uuid4(), stream_version=1)])
