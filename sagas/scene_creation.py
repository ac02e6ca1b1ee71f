"""The scene-creation saga (the design's example): the scene, the movie's figures, the cast's filmographies.

Steps, in order (each undone in exact reverse order if a later one fails):

1. ``create-scene``: the Scene service creates the scene (undo: ``DeleteScene``).
2. ``update-movie-figures``: the Movie service takes the scene into the movie's figures; it
   refuses while the movie is being removed (undo: ``UnlinkSceneFromMovie``).
3. per cast member, ``filmography:<actor>``: the Actor service makes sure the movie is in the
   actor's filmography (undo: ``RemoveFilmographyEntry``, run only if this saga added it), then
   ``cast:<actor>``: the actor is cast in the scene (undo: ``RemoveSceneActor``).
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from commands.actor import EnsureFilmographyEntry, RemoveFilmographyEntry
from commands.authorization import require_scene_writer
from commands.errors import InvalidCommandError
from commands.movie import LinkSceneToMovie, UnlinkSceneFromMovie
from commands.scene import AddSceneActor, CharacterName, CreateScene, DeleteScene, RemoveSceneActor, Seconds
from events.base import Message
from sagas.definition import PlanContext, SagaDefinition, Step

SceneRole = Literal["primary", "supporting", "cameo"]

_FILMOGRAPHY_ROLE: dict[SceneRole, Literal["lead", "supporting", "cameo"]] = {
    "primary": "lead",
    "supporting": "supporting",
    "cameo": "cameo",
}
"""A scene's role type as the filmography's: the primary role of a scene is a lead role."""

MAX_CAST = 100


class CastMember(Message):
    """An actor of the new scene (the scene_actors row and the filmography entry it implies)."""

    actor_id: UUID
    character_name: CharacterName | None = None
    role_type: SceneRole = "supporting"
    screen_time_seconds: Seconds | None = None


class SceneCreationRequest(Message):
    """The scene to create and its cast."""

    scene: CreateScene
    cast: tuple[CastMember, ...] = Field(default=(), max_length=MAX_CAST)


async def plan_scene_creation(request: SceneCreationRequest, ctx: PlanContext) -> list[Step]:  # noqa: ARG001  a planner may read; this one needs nothing
    """Return the steps creating ``request.scene`` with its cast."""
    scene = request.scene
    seen: set[UUID] = set()
    for member in request.cast:
        if member.actor_id in seen:
            raise InvalidCommandError("cast", f"actor {member.actor_id} is listed twice")
        seen.add(member.actor_id)
    steps = [
        Step(
            "create-scene",
            action=scene,
            compensation=(DeleteScene(scene_id=scene.scene_id),),
        ),
        Step(
            "update-movie-figures",
            action=LinkSceneToMovie(movie_id=scene.movie_id, scene_id=scene.scene_id),
            compensation=(UnlinkSceneFromMovie(movie_id=scene.movie_id, scene_id=scene.scene_id),),
        ),
    ]
    for member in request.cast:
        steps.append(
            Step(
                f"filmography:{member.actor_id}",
                action=EnsureFilmographyEntry(
                    actor_id=member.actor_id,
                    movie_id=scene.movie_id,
                    character_name=member.character_name,
                    role_type=_FILMOGRAPHY_ROLE[member.role_type],
                ),
                compensation=(RemoveFilmographyEntry(actor_id=member.actor_id, movie_id=scene.movie_id),),
            )
        )
        steps.append(
            Step(
                f"cast:{member.actor_id}",
                action=AddSceneActor(
                    scene_id=scene.scene_id,
                    actor_id=member.actor_id,
                    character_name=member.character_name,
                    role_type=member.role_type,
                    screen_time_seconds=member.screen_time_seconds,
                ),
                compensation=(RemoveSceneActor(scene_id=scene.scene_id, actor_id=member.actor_id),),
            )
        )
    return steps


SCENE_CREATION = SagaDefinition(
    saga_type="scene_creation",
    input_model=SceneCreationRequest,
    plan=plan_scene_creation,
    description="create a scene, take it into its movie's figures, and cast its actors",
    authorize=require_scene_writer,
)
