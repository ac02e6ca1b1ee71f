"""The pure User aggregate: every rule of each command, and how events fold into state."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from uuid import UUID, uuid4

import pytest
from pydantic import SecretStr, ValidationError

from commands import user as model
from commands.base import Decision
from commands.errors import InvalidCommandError, StreamNotFoundError
from commands.passwords import hash_password
from commands.scene import SceneState
from commands.scene import replay as replay_scene
from commands.user import (
    AddMovieToWatchList,
    ChangePassword,
    ChangeUserRole,
    DeactivateUser,
    RecordLogin,
    RecordSceneInteraction,
    RegisterUser,
    RemoveMovieFromWatchList,
    SetUserPreferences,
    UpdateUserProfile,
    UpdateWatchListEntry,
    UserState,
    VerifyUser,
    WithdrawSceneInteraction,
)
from events.base import DomainEvent
from events.scene import SceneCreated, SceneDeleted
from events.user import (
    MovieAddedToWatchList,
    MovieRemovedFromWatchList,
    SceneInteractionRecorded,
    SceneInteractionWithdrawn,
    UserDeactivated,
    UserLoggedIn,
    UserPasswordChanged,
    UserPreferencesSet,
    UserProfileUpdated,
    UserRegistered,
    UserRoleChanged,
    UserVerified,
    WatchListEntryUpdated,
)

pytestmark = pytest.mark.unit

HASH = "scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5"
PASSWORD = SecretStr("correct horse battery")


def _registered(user_id: UUID | None = None, **fields: object) -> UserRegistered:
    data: dict[str, object] = {"email": "ann@example.jp", "password_hash": HASH, **fields}
    return UserRegistered(stream_id=user_id or uuid4(), stream_version=1, **data)  # type: ignore[arg-type]


def _state(*events: DomainEvent) -> UserState:
    state = model.replay(list(events))
    assert state is not None
    return state


def _user() -> UserState:
    return _state(_registered())


def _fold(*steps: Callable[[UserState], Sequence[DomainEvent]]) -> UserState:
    """Register a user, then run each decision on the state so far and apply its events."""
    events: list[DomainEvent] = [_registered()]
    for step in steps:
        events.extend(step(_state(*events)))
    return _state(*events)


def _register(**fields: object) -> RegisterUser:
    data: dict[str, object] = {"email": "Ann@Example.jp", "password": PASSWORD, **fields}
    return RegisterUser(**data)  # type: ignore[arg-type]


def _events(decision: Decision | Sequence[DomainEvent]) -> list[DomainEvent]:
    return list(decision.events if isinstance(decision, Decision) else decision)


def _scene(movie_id: UUID, *, deleted: bool = False) -> SceneState:
    scene_id = uuid4()
    events: list[DomainEvent] = [
        SceneCreated(
            stream_id=scene_id,
            stream_version=1,
            movie_id=movie_id,
            start_time_seconds=0,
            end_time_seconds=10,
            level1_classification="L",
            level2_classification="L2",
        ),
    ]
    if deleted:
        events.append(SceneDeleted(stream_id=scene_id, stream_version=2, movie_id=movie_id))
    state = replay_scene(events)
    assert state is not None
    return state


# --- Registration -----------------------------------------------------------------------------


def test_register_returns_user_registered_with_normalised_email() -> None:
    cmd = _register(email="  Ann@Example.JP ")
    [event] = _events(model.register_user(cmd, None, password_hash=HASH))
    assert isinstance(event, UserRegistered)
    assert (event.stream_id, event.stream_version) == (cmd.user_id, 1)
    assert event.email == "ann@example.jp"
    assert event.password_hash == HASH


def test_register_claims_the_normalised_email() -> None:
    decision = model.register_user(_register(email="Ann@Example.JP"), None, password_hash=HASH)
    [claim] = decision.claims
    assert (claim.scope, claim.key) == ("user_email", "ann@example.jp")


def test_register_never_puts_the_clear_password_in_the_event() -> None:
    [event] = _events(model.register_user(_register(), None, password_hash=HASH))
    assert PASSWORD.get_secret_value() not in event.model_dump_json()


def test_register_keeps_defaults_of_the_design() -> None:
    [event] = _events(model.register_user(_register(), None, password_hash=HASH))
    assert isinstance(event, UserRegistered)
    assert (event.role, event.language, event.timezone) == ("viewer", "ja", "Asia/Tokyo")


def test_register_existing_user_is_rejected() -> None:
    user = _user()
    with pytest.raises(InvalidCommandError) as err:
        model.register_user(_register(user_id=user.user_id), user, password_hash=HASH)
    assert err.value.field == "user_id"


@pytest.mark.parametrize(
    "email",
    [
        "",
        "   ",
        "ann",
        "ann@",
        "@example.jp",
        "ann@example",
        "ann@@example.jp",
        "an n@example.jp",
        "ann@example..jp",
        ".ann@example.jp",
        "ann.@example.jp",
        "a..nn@example.jp",
        "a" * 65 + "@example.jp",
        "ann@" + "e" * 250 + ".jp",
    ],
)
def test_register_rejects_an_address_of_the_wrong_shape(email: str) -> None:
    with pytest.raises(InvalidCommandError) as err:
        model.register_user(_register(email=email), None, password_hash=HASH)
    assert err.value.field == "email"


@pytest.mark.parametrize("email", ["ann+films@example.co.jp", "a.n.n@xn--eckwd4c7c.jp", "山田@例え.jp"])
def test_register_accepts_real_addresses(email: str) -> None:
    [event] = _events(model.register_user(_register(email=email), None, password_hash=HASH))
    assert isinstance(event, UserRegistered)


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "ftp://example.jp/a.png", "example.jp/a.png", "https://"]
)
def test_register_rejects_an_avatar_that_is_not_an_http_url(url: str) -> None:
    with pytest.raises(InvalidCommandError) as err:
        model.register_user(_register(avatar_url=url), None, password_hash=HASH)
    assert err.value.field == "avatar_url"


def test_register_rejects_an_unknown_time_zone() -> None:
    with pytest.raises(InvalidCommandError) as err:
        model.register_user(_register(timezone="Mars/Olympus"), None, password_hash=HASH)
    assert err.value.field == "timezone"


@pytest.mark.parametrize("language", ["japanese", "J", "ja_JP", ""])
def test_register_rejects_a_malformed_language(language: str) -> None:
    with pytest.raises(InvalidCommandError) as err:
        model.register_user(_register(language=language), None, password_hash=HASH)
    assert err.value.field == "language"


def test_register_turns_an_empty_display_name_into_none() -> None:
    [event] = _events(model.register_user(_register(display_name="  "), None, password_hash=HASH))
    assert isinstance(event, UserRegistered)
    assert event.display_name is None


def test_register_rejects_an_unknown_role() -> None:
    with pytest.raises(ValidationError):
        _register(role="superuser")


def test_command_repr_never_shows_the_password() -> None:
    cmd = _register()
    assert PASSWORD.get_secret_value() not in repr(cmd)
    assert PASSWORD.get_secret_value() not in cmd.model_dump_json()


# --- Account ----------------------------------------------------------------------------------


def test_change_password_with_a_confirmed_current_password_replaces_the_hash() -> None:
    user = _user()
    cmd = ChangePassword(user_id=user.user_id, current_password=PASSWORD, new_password=SecretStr("n" * 9))
    new_hash = hash_password(cmd.new_password.get_secret_value())
    [event] = model.change_password(cmd, user, new_hash=new_hash, verified_against=user.password_hash)
    assert isinstance(event, UserPasswordChanged)
    assert event.password_hash == new_hash
    assert _state(_registered(user.user_id), event).password_hash == new_hash


def test_change_password_without_a_confirmed_current_password_is_rejected() -> None:
    user = _user()
    cmd = ChangePassword(user_id=user.user_id, current_password=PASSWORD, new_password=SecretStr("n" * 9))
    with pytest.raises(InvalidCommandError) as err:
        model.change_password(cmd, user, new_hash="new-hash", verified_against=None)
    assert err.value.field == "current_password"


def test_change_password_confirmed_against_a_stale_hash_is_rejected() -> None:
    user = _user()
    cmd = ChangePassword(user_id=user.user_id, current_password=PASSWORD, new_password=SecretStr("n" * 9))
    with pytest.raises(InvalidCommandError) as err:
        model.change_password(cmd, user, new_hash="new-hash", verified_against="an older hash")
    assert err.value.field == "current_password"


def test_change_role_emits_the_new_role() -> None:
    user = _user()
    [event] = model.change_user_role(ChangeUserRole(user_id=user.user_id, role="professional"), user)
    assert isinstance(event, UserRoleChanged)
    assert event.role == "professional"


def test_change_to_the_same_role_emits_nothing() -> None:
    user = _user()
    assert model.change_user_role(ChangeUserRole(user_id=user.user_id, role="viewer"), user) == []


def test_verify_marks_the_user_verified_once() -> None:
    user = _user()
    [event] = model.verify_user(VerifyUser(user_id=user.user_id), user)
    assert isinstance(event, UserVerified)
    verified = _fold(lambda s: model.verify_user(VerifyUser(user_id=s.user_id), s))
    assert verified.is_verified
    assert model.verify_user(VerifyUser(user_id=verified.user_id), verified) == []


def test_record_login_sets_the_last_login_time() -> None:
    user = _user()
    [event] = model.record_login(RecordLogin(user_id=user.user_id), user)
    assert isinstance(event, UserLoggedIn)
    assert _state(_registered(user.user_id), event).last_login_at == event.occurred_at


def test_deactivate_emits_user_deactivated() -> None:
    user = _user()
    [event] = model.deactivate_user(DeactivateUser(user_id=user.user_id), user)
    assert isinstance(event, UserDeactivated)
    assert not _state(_registered(user.user_id), event).is_active


def _every_command(user_id: UUID) -> list[Callable[[UserState | None], object]]:
    movie = uuid4()
    return [
        lambda s: model.change_password(
            ChangePassword(user_id=user_id, current_password=PASSWORD, new_password=SecretStr("n" * 9)),
            s,
            new_hash="h",
            verified_against=HASH,
        ),
        lambda s: model.change_user_role(ChangeUserRole(user_id=user_id, role="admin"), s),
        lambda s: model.verify_user(VerifyUser(user_id=user_id), s),
        lambda s: model.record_login(RecordLogin(user_id=user_id), s),
        lambda s: model.deactivate_user(DeactivateUser(user_id=user_id), s),
        lambda s: model.update_user_profile(UpdateUserProfile(user_id=user_id, bio="hi"), s),
        lambda s: model.set_user_preferences(SetUserPreferences(user_id=user_id, show_spoilers=True), s),
        lambda s: model.add_movie_to_watch_list(AddMovieToWatchList(user_id=user_id, movie_id=movie), s),
        lambda s: model.update_watch_list_entry(
            UpdateWatchListEntry(user_id=user_id, movie_id=movie, priority=1), s, last_scene=None
        ),
        lambda s: model.remove_movie_from_watch_list(
            RemoveMovieFromWatchList(user_id=user_id, movie_id=movie), s
        ),
        lambda s: model.record_scene_interaction(
            RecordSceneInteraction(user_id=user_id, scene_id=uuid4(), interaction_type="like"), s
        ),
        lambda s: model.withdraw_scene_interaction(
            WithdrawSceneInteraction(user_id=user_id, scene_id=uuid4(), interaction_type="like"), s
        ),
    ]


@pytest.mark.parametrize("index", range(len(_every_command(uuid4()))))
def test_every_command_on_a_deactivated_user_is_rejected(index: int) -> None:
    user_id = uuid4()
    deactivated = _state(_registered(user_id), UserDeactivated(stream_id=user_id, stream_version=2))
    decide = _every_command(user_id)[index]
    with pytest.raises(InvalidCommandError) as err:
        decide(deactivated)
    assert err.value.field == "user_id"
    assert "deactivated" in err.value.reason


@pytest.mark.parametrize("index", range(len(_every_command(uuid4()))))
def test_every_command_on_an_unknown_user_is_not_found(index: int) -> None:
    decide = _every_command(uuid4())[index]
    with pytest.raises(StreamNotFoundError) as err:
        decide(None)
    assert err.value.field == "user_id"
    assert not err.value.referenced


# --- Profile ----------------------------------------------------------------------------------


def test_profile_update_with_no_field_is_rejected() -> None:
    user = _user()
    with pytest.raises(InvalidCommandError, match="at least one"):
        model.update_user_profile(UpdateUserProfile(user_id=user.user_id), user)


def test_profile_update_changes_given_fields_and_keeps_the_others() -> None:
    user = _fold(
        lambda s: model.update_user_profile(
            UpdateUserProfile(user_id=s.user_id, display_name="Ann", bio="films"), s
        ),
    )
    [event] = model.update_user_profile(UpdateUserProfile(user_id=user.user_id, birth_year=1990), user)
    assert isinstance(event, UserProfileUpdated)
    assert (event.display_name, event.bio, event.birth_year) == ("Ann", "films", 1990)


def test_profile_field_given_as_null_is_cleared() -> None:
    user = _fold(lambda s: model.update_user_profile(UpdateUserProfile(user_id=s.user_id, bio="films"), s))
    [event] = model.update_user_profile(UpdateUserProfile(user_id=user.user_id, bio=None), user)
    assert isinstance(event, UserProfileUpdated)
    assert event.bio is None


def test_profile_update_that_changes_nothing_emits_nothing() -> None:
    user = _fold(lambda s: model.update_user_profile(UpdateUserProfile(user_id=s.user_id, bio="films"), s))
    assert model.update_user_profile(UpdateUserProfile(user_id=user.user_id, bio="films"), user) == []


def test_profile_country_is_upper_cased() -> None:
    user = _user()
    [event] = model.update_user_profile(UpdateUserProfile(user_id=user.user_id, country="jp"), user)
    assert isinstance(event, UserProfileUpdated)
    assert event.country == "JP"


@pytest.mark.parametrize("country", ["J", "J1", "日本"])
def test_profile_rejects_a_country_that_is_not_an_iso_code(country: str) -> None:
    user = _user()
    with pytest.raises(InvalidCommandError) as err:
        model.update_user_profile(UpdateUserProfile(user_id=user.user_id, country=country), user)
    assert err.value.field == "country"


def test_profile_rejects_a_birth_year_out_of_range() -> None:
    with pytest.raises(ValidationError, match="birth_year"):
        UpdateUserProfile(user_id=uuid4(), birth_year=1800)


def test_profile_rejects_a_non_http_avatar() -> None:
    user = _user()
    with pytest.raises(InvalidCommandError) as err:
        model.update_user_profile(UpdateUserProfile(user_id=user.user_id, avatar_url="data:image/png"), user)
    assert err.value.field == "avatar_url"


def test_profile_favourite_genres_are_deduplicated_in_order() -> None:
    user = _user()
    a, b = uuid4(), uuid4()
    cmd = UpdateUserProfile(user_id=user.user_id, favourite_genre_ids=(a, b, a))
    [event] = model.update_user_profile(cmd, user)
    assert isinstance(event, UserProfileUpdated)
    assert event.favourite_genre_ids == (a, b)


def test_profile_update_carries_display_name_and_avatar_of_registration() -> None:
    user = _state(_registered(display_name="Ann", avatar_url="https://img.example.jp/a.png"))
    [event] = model.update_user_profile(UpdateUserProfile(user_id=user.user_id, bio="x"), user)
    assert isinstance(event, UserProfileUpdated)
    assert (event.display_name, event.avatar_url) == ("Ann", "https://img.example.jp/a.png")


# --- Preferences ------------------------------------------------------------------------------


def test_default_preferences_on_a_fresh_user_emit_nothing() -> None:
    user = _user()
    assert model.set_user_preferences(SetUserPreferences(user_id=user.user_id), user) == []


def test_preferences_are_replaced_whole() -> None:
    user = _user()
    cmd = SetUserPreferences(
        user_id=user.user_id,
        preferred_languages=("ja", "en-US"),
        show_spoilers=True,
        preferred_level1_classes=("L", "R"),
        push_notifications=True,
    )
    [event] = model.set_user_preferences(cmd, user)
    assert isinstance(event, UserPreferencesSet)
    assert event.preferred_languages == ("ja", "en-US")
    assert event.preferred_level1_classes == ("L", "R")
    assert (event.show_spoilers, event.push_notifications, event.email_notifications) == (True, True, True)


def test_preferences_without_language_and_timezone_keep_them() -> None:
    user = _state(_registered(language="en", timezone="Europe/Paris"))
    [event] = model.set_user_preferences(SetUserPreferences(user_id=user.user_id, show_spoilers=True), user)
    assert isinstance(event, UserPreferencesSet)
    assert (event.language, event.timezone) == ("en", "Europe/Paris")


def test_preferences_change_language_and_timezone() -> None:
    user = _user()
    cmd = SetUserPreferences(user_id=user.user_id, language="en", timezone="UTC")
    [event] = model.set_user_preferences(cmd, user)
    assert isinstance(event, UserPreferencesSet)
    assert (event.language, event.timezone) == ("en", "UTC")


@pytest.mark.parametrize("letter", ["X", "l", "L2", ""])
def test_preferences_reject_a_level1_class_outside_arcsdlo(letter: str) -> None:
    user = _user()
    with pytest.raises(InvalidCommandError) as err:
        model.set_user_preferences(
            SetUserPreferences(user_id=user.user_id, preferred_level1_classes=("A", letter)), user
        )
    assert err.value.field == "preferred_level1_classes"


def test_preferences_deduplicate_level1_classes() -> None:
    user = _user()
    cmd = SetUserPreferences(user_id=user.user_id, preferred_level1_classes=("D", "D", "O"))
    [event] = model.set_user_preferences(cmd, user)
    assert isinstance(event, UserPreferencesSet)
    assert event.preferred_level1_classes == ("D", "O")


def test_preferences_reject_a_malformed_preferred_language() -> None:
    user = _user()
    with pytest.raises(InvalidCommandError) as err:
        model.set_user_preferences(
            SetUserPreferences(user_id=user.user_id, preferred_languages=("Japanese",)), user
        )
    assert err.value.field == "preferred_languages"


def test_preferences_reject_an_unknown_time_zone() -> None:
    user = _user()
    with pytest.raises(InvalidCommandError) as err:
        model.set_user_preferences(SetUserPreferences(user_id=user.user_id, timezone="Tokyo"), user)
    assert err.value.field == "timezone"


def test_preferences_set_twice_the_same_emit_nothing() -> None:
    cmd_fields = {"show_spoilers": True, "preferred_level1_classes": ("A",)}
    user = _fold(
        lambda s: model.set_user_preferences(SetUserPreferences(user_id=s.user_id, **cmd_fields), s),  # type: ignore[arg-type]
    )
    again = SetUserPreferences(user_id=user.user_id, **cmd_fields)  # type: ignore[arg-type]
    assert model.set_user_preferences(again, user) == []


# --- Watch list -------------------------------------------------------------------------------


def _with_movie(movie_id: UUID, **fields: object) -> UserState:
    return _fold(
        lambda s: model.add_movie_to_watch_list(
            AddMovieToWatchList(user_id=s.user_id, movie_id=movie_id, **fields),  # type: ignore[arg-type]
            s,
        ),
    )


def test_add_movie_emits_an_entry_with_the_designs_defaults() -> None:
    user = _user()
    cmd = AddMovieToWatchList(user_id=user.user_id, movie_id=uuid4(), tags=("noir", "noir", "90s"))
    [event] = model.add_movie_to_watch_list(cmd, user)
    assert isinstance(event, MovieAddedToWatchList)
    assert (event.entry_id, event.movie_id) == (cmd.entry_id, cmd.movie_id)
    assert (event.status, event.priority) == ("want_to_watch", 5)
    assert event.tags == ("noir", "90s")


def test_add_movie_already_on_the_list_is_rejected() -> None:
    movie = uuid4()
    user = _with_movie(movie)
    with pytest.raises(InvalidCommandError) as err:
        model.add_movie_to_watch_list(AddMovieToWatchList(user_id=user.user_id, movie_id=movie), user)
    assert err.value.field == "movie_id"


@pytest.mark.parametrize("priority", [0, 11])
def test_priority_outside_one_to_ten_is_rejected(priority: int) -> None:
    with pytest.raises(ValidationError, match="priority"):
        AddMovieToWatchList(user_id=uuid4(), movie_id=uuid4(), priority=priority)
    with pytest.raises(ValidationError, match="priority"):
        UpdateWatchListEntry(user_id=uuid4(), movie_id=uuid4(), priority=priority)


def test_unknown_status_is_rejected() -> None:
    with pytest.raises(ValidationError, match="status"):
        AddMovieToWatchList(user_id=uuid4(), movie_id=uuid4(), status="maybe")  # type: ignore[arg-type]


def test_negative_watched_scenes_count_is_rejected() -> None:
    with pytest.raises(ValidationError, match="watched_scenes_count"):
        UpdateWatchListEntry(user_id=uuid4(), movie_id=uuid4(), watched_scenes_count=-1)


def test_update_of_a_movie_not_on_the_list_is_not_found() -> None:
    user = _user()
    with pytest.raises(StreamNotFoundError) as err:
        model.update_watch_list_entry(
            UpdateWatchListEntry(user_id=user.user_id, movie_id=uuid4(), priority=1), user, last_scene=None
        )
    assert err.value.field == "movie_id"
    assert not err.value.referenced


def test_update_with_no_field_is_rejected() -> None:
    movie = uuid4()
    user = _with_movie(movie)
    with pytest.raises(InvalidCommandError, match="at least one"):
        model.update_watch_list_entry(
            UpdateWatchListEntry(user_id=user.user_id, movie_id=movie), user, last_scene=None
        )


@pytest.mark.parametrize("field", ["status", "priority", "watched_scenes_count"])
def test_update_cannot_clear_a_required_field(field: str) -> None:
    movie = uuid4()
    user = _with_movie(movie)
    cmd = UpdateWatchListEntry.model_validate({"user_id": user.user_id, "movie_id": movie, field: None})
    with pytest.raises(InvalidCommandError) as err:
        model.update_watch_list_entry(cmd, user, last_scene=None)
    assert err.value.field == field


def test_update_changes_given_fields_and_keeps_the_others() -> None:
    movie = uuid4()
    user = _with_movie(movie, priority=2, notes="with Bo", tags=("noir",))
    cmd = UpdateWatchListEntry(
        user_id=user.user_id, movie_id=movie, status="watching", watched_scenes_count=3
    )
    [event] = model.update_watch_list_entry(cmd, user, last_scene=None)
    assert isinstance(event, WatchListEntryUpdated)
    assert (event.status, event.watched_scenes_count) == ("watching", 3)
    assert (event.priority, event.notes, event.tags) == (2, "with Bo", ("noir",))


def test_update_that_changes_nothing_emits_nothing() -> None:
    movie = uuid4()
    user = _with_movie(movie, priority=2)
    cmd = UpdateWatchListEntry(user_id=user.user_id, movie_id=movie, priority=2)
    assert model.update_watch_list_entry(cmd, user, last_scene=None) == []


def test_last_watched_scene_of_the_movie_is_accepted() -> None:
    movie = uuid4()
    user = _with_movie(movie)
    scene = _scene(movie)
    cmd = UpdateWatchListEntry(user_id=user.user_id, movie_id=movie, last_watched_scene_id=scene.scene_id)
    [event] = model.update_watch_list_entry(cmd, user, last_scene=scene)
    assert isinstance(event, WatchListEntryUpdated)
    assert event.last_watched_scene_id == scene.scene_id


def test_last_watched_scene_of_another_movie_is_rejected() -> None:
    movie = uuid4()
    user = _with_movie(movie)
    scene = _scene(uuid4())
    cmd = UpdateWatchListEntry(user_id=user.user_id, movie_id=movie, last_watched_scene_id=scene.scene_id)
    with pytest.raises(InvalidCommandError) as err:
        model.update_watch_list_entry(cmd, user, last_scene=scene)
    assert err.value.field == "last_watched_scene_id"
    assert str(scene.movie_id) in err.value.reason


@pytest.mark.parametrize("deleted", [True, False])
def test_last_watched_scene_that_does_not_exist_is_a_missing_reference(deleted: bool) -> None:
    movie = uuid4()
    user = _with_movie(movie)
    scene = _scene(movie, deleted=True) if deleted else None
    scene_id = scene.scene_id if scene else uuid4()
    cmd = UpdateWatchListEntry(user_id=user.user_id, movie_id=movie, last_watched_scene_id=scene_id)
    with pytest.raises(StreamNotFoundError) as err:
        model.update_watch_list_entry(cmd, user, last_scene=scene)
    assert err.value.field == "last_watched_scene_id"
    assert err.value.referenced


def test_last_watched_scene_can_be_cleared() -> None:
    movie = uuid4()
    scene = _scene(movie)
    user = _fold(
        lambda s: model.add_movie_to_watch_list(AddMovieToWatchList(user_id=s.user_id, movie_id=movie), s),
        lambda s: model.update_watch_list_entry(
            UpdateWatchListEntry(user_id=s.user_id, movie_id=movie, last_watched_scene_id=scene.scene_id),
            s,
            last_scene=scene,
        ),
    )
    cmd = UpdateWatchListEntry(user_id=user.user_id, movie_id=movie, last_watched_scene_id=None)
    [event] = model.update_watch_list_entry(cmd, user, last_scene=None)
    assert isinstance(event, WatchListEntryUpdated)
    assert event.last_watched_scene_id is None


def test_remove_movie_emits_its_removal_and_frees_the_slot() -> None:
    movie = uuid4()
    user = _with_movie(movie)
    [event] = model.remove_movie_from_watch_list(
        RemoveMovieFromWatchList(user_id=user.user_id, movie_id=movie), user
    )
    assert isinstance(event, MovieRemovedFromWatchList)
    removed = _fold(
        lambda s: model.add_movie_to_watch_list(AddMovieToWatchList(user_id=s.user_id, movie_id=movie), s),
        lambda s: model.remove_movie_from_watch_list(
            RemoveMovieFromWatchList(user_id=s.user_id, movie_id=movie), s
        ),
    )
    assert movie not in removed.watch_list
    [again] = model.add_movie_to_watch_list(
        AddMovieToWatchList(user_id=removed.user_id, movie_id=movie), removed
    )
    assert isinstance(again, MovieAddedToWatchList)


def test_remove_movie_not_on_the_list_is_not_found() -> None:
    user = _user()
    with pytest.raises(StreamNotFoundError) as err:
        model.remove_movie_from_watch_list(
            RemoveMovieFromWatchList(user_id=user.user_id, movie_id=uuid4()), user
        )
    assert err.value.field == "movie_id"


# --- Interactions -----------------------------------------------------------------------------


def _liked(scene_id: UUID) -> UserState:
    return _fold(
        lambda s: model.record_scene_interaction(
            RecordSceneInteraction(user_id=s.user_id, scene_id=scene_id, interaction_type="like"), s
        ),
    )


def test_record_interaction_emits_it_with_metadata() -> None:
    user = _user()
    cmd = RecordSceneInteraction(
        user_id=user.user_id, scene_id=uuid4(), interaction_type="comment", metadata={"text": "名場面"}
    )
    [event] = model.record_scene_interaction(cmd, user)
    assert isinstance(event, SceneInteractionRecorded)
    assert (event.interaction_id, event.scene_id, event.interaction_type) == (
        cmd.interaction_id,
        cmd.scene_id,
        "comment",
    )
    assert event.metadata == {"text": "名場面"}


def test_same_interaction_twice_is_rejected() -> None:
    scene = uuid4()
    user = _liked(scene)
    with pytest.raises(InvalidCommandError) as err:
        model.record_scene_interaction(
            RecordSceneInteraction(user_id=user.user_id, scene_id=scene, interaction_type="like"), user
        )
    assert err.value.field == "interaction_type"


def test_another_kind_of_interaction_with_the_same_scene_is_accepted() -> None:
    scene = uuid4()
    user = _liked(scene)
    [event] = model.record_scene_interaction(
        RecordSceneInteraction(user_id=user.user_id, scene_id=scene, interaction_type="favorite"), user
    )
    assert isinstance(event, SceneInteractionRecorded)


def test_unknown_interaction_type_is_rejected() -> None:
    with pytest.raises(ValidationError, match="interaction_type"):
        RecordSceneInteraction(user_id=uuid4(), scene_id=uuid4(), interaction_type="dislike")  # type: ignore[arg-type]


def test_oversized_metadata_is_rejected() -> None:
    user = _user()
    cmd = RecordSceneInteraction(
        user_id=user.user_id, scene_id=uuid4(), interaction_type="comment", metadata={"text": "x" * 10_001}
    )
    with pytest.raises(InvalidCommandError) as err:
        model.record_scene_interaction(cmd, user)
    assert err.value.field == "metadata"


def test_withdraw_recorded_interaction_emits_it_and_allows_recording_again() -> None:
    scene = uuid4()
    user = _liked(scene)
    cmd = WithdrawSceneInteraction(user_id=user.user_id, scene_id=scene, interaction_type="like")
    [event] = model.withdraw_scene_interaction(cmd, user)
    assert isinstance(event, SceneInteractionWithdrawn)
    after = _state(*_replayable(user), event)
    [again] = model.record_scene_interaction(
        RecordSceneInteraction(user_id=after.user_id, scene_id=scene, interaction_type="like"), after
    )
    assert isinstance(again, SceneInteractionRecorded)


def _replayable(user: UserState) -> list[DomainEvent]:
    """Events rebuilding ``user``'s registration and likes (enough for the interaction tests)."""
    events: list[DomainEvent] = [_registered(user.user_id)]
    for version, ((scene_id, kind), interaction_id) in enumerate(user.interactions.items(), start=2):
        events.append(
            SceneInteractionRecorded(
                stream_id=user.user_id,
                stream_version=version,
                interaction_id=interaction_id,
                scene_id=scene_id,
                interaction_type=kind,
            ),
        )
    return events


def test_withdraw_interaction_never_recorded_is_not_found() -> None:
    user = _liked(uuid4())
    with pytest.raises(StreamNotFoundError) as err:
        model.withdraw_scene_interaction(
            WithdrawSceneInteraction(user_id=user.user_id, scene_id=uuid4(), interaction_type="like"), user
        )
    assert err.value.field == "scene_id"


# --- Replay -----------------------------------------------------------------------------------


def test_replay_of_an_empty_stream_is_none() -> None:
    assert model.replay([]) is None


def test_event_before_registration_is_a_corrupt_stream() -> None:
    with pytest.raises(TypeError, match="before UserRegistered"):
        model.replay([UserVerified(stream_id=uuid4(), stream_version=1)])


def test_replay_tracks_the_stream_version() -> None:
    user = _fold(
        lambda s: model.verify_user(VerifyUser(user_id=s.user_id), s),
        lambda s: model.record_login(RecordLogin(user_id=s.user_id), s),
    )
    assert user.version == 3
