"""Nested scene trees: a scene with its nested scenes (and theirs), or a whole movie's, as a tree.

The nesting is the read model's ``scenes.parent_scene_id`` (the projection keeps it from the
children's ``SceneCreated``; the parents' ``NestedScene*`` events only move their version). One
recursive CTE walks down from the roots over ``idx_scenes_parent``, depth-limited, with a path
guard so that even a corrupted cycle ends. Under row-level security every step of the walk sees
only the scenes the caller may see: a hidden scene hides its subtree from that walk. In a
movie's tree a visible scene whose parent is hidden (a professional's own scene nested in
someone else's, in a private movie) is a root, so that nothing visible goes missing.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Final
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from infra.auth import Identity
from read_models.overlaps import movie_known
from read_models.rls import reading

__all__ = ["MAX_TREE_DEPTH", "MovieSceneTree", "SceneTreeNode", "SceneTreeQueries"]

MAX_TREE_DEPTH: Final = 16
"""Levels of nesting returned below a root at most; deeper nodes are cut and flagged ``truncated``."""

_COLUMNS = """id, movie_id, parent_scene_id, scene_number, start_time_seconds, end_time_seconds,
       level1_classification, level2_classification, level3_classification, scene_type,
       description, tags"""

_WALK = f"""
WITH RECURSIVE tree AS (
    SELECT {_COLUMNS}, 0 AS depth, ARRAY[id] AS path
    FROM scenes
    WHERE {{roots}}
    UNION ALL
    SELECT c.id, c.movie_id, c.parent_scene_id, c.scene_number, c.start_time_seconds,
           c.end_time_seconds, c.level1_classification, c.level2_classification,
           c.level3_classification, c.scene_type, c.description, c.tags,
           t.depth + 1, t.path || c.id
    FROM scenes c
    JOIN tree t ON c.parent_scene_id = t.id
    WHERE t.depth < :max_depth AND c.id <> ALL (t.path)
)
SELECT tree.*,
       tree.depth = :max_depth
       AND EXISTS (SELECT 1 FROM scenes s WHERE s.parent_scene_id = tree.id) AS truncated
FROM tree
ORDER BY depth, start_time_seconds, end_time_seconds, id
"""

SCENE_TREE_SQL: Final = _WALK.format(roots="id = :scene_id")
"""The tree under one scene (the scene itself at depth 0)."""

MOVIE_TREE_SQL: Final = _WALK.format(
    roots="""movie_id = :movie_id
      AND (parent_scene_id IS NULL
           OR NOT EXISTS (SELECT 1 FROM scenes p WHERE p.id = scenes.parent_scene_id))"""
)
"""Every tree of a movie: its scenes without a (visible) parent are the roots."""


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class SceneTreeNode(_View):
    """A scene of a tree with its nested scenes, ordered by start time (then end time and id).

    ``depth`` is 0 for a root; ``truncated`` says the scene has nested scenes below the depth
    limit that were left out.
    """

    id: UUID
    movie_id: UUID
    parent_scene_id: UUID | None
    scene_number: int | None
    start_time_seconds: int
    end_time_seconds: int
    level1_classification: str
    level2_classification: str
    level3_classification: str | None
    scene_type: str
    description: str | None
    tags: list[str]
    depth: int
    truncated: bool
    children: list[SceneTreeNode]


class MovieSceneTree(_View):
    """A movie's scenes as trees: the roots ordered by start time, each with its nested scenes."""

    movie_id: UUID
    roots: list[SceneTreeNode]


def _nodes(rows: list[Any]) -> list[SceneTreeNode]:
    """Assemble the walk's rows (ordered by depth, then start) into trees; return the roots in order."""
    children: dict[UUID, list[SceneTreeNode]] = defaultdict(list)
    # Deepest rows first, so that every node's children are built before the node itself.
    roots: list[SceneTreeNode] = []
    for row in reversed(rows):
        data = dict(row._mapping)  # noqa: SLF001  Row's public mapping view
        data.pop("path")
        data["tags"] = data["tags"] or []
        data["scene_type"] = data["scene_type"] or "primary"
        node = SceneTreeNode.model_validate({**data, "children": children.pop(data["id"], [])[::-1]})
        if node.depth == 0 or node.parent_scene_id is None:
            roots.append(node)
        else:
            children[node.parent_scene_id].append(node)
    return roots[::-1]


class SceneTreeQueries:
    """Nested scene trees over the Scene service's read model.

    Given an ``identity`` (the API's) they run under row-level security; without one they read
    as the tables' owner (the system itself).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @staticmethod
    async def _walk(conn: AsyncConnection, sql: str, params: dict[str, object]) -> list[SceneTreeNode]:
        return _nodes(list((await conn.execute(text(sql), params)).all()))

    async def scene_tree(
        self, scene_id: UUID, *, max_depth: int = MAX_TREE_DEPTH, identity: Identity | None = None
    ) -> SceneTreeNode | None:
        """Return a scene with its nested scenes down to ``max_depth`` levels, or ``None`` if not visible."""
        async with reading(self._engine, identity, isolation="REPEATABLE READ") as conn:
            roots = await self._walk(conn, SCENE_TREE_SQL, {"scene_id": scene_id, "max_depth": max_depth})
        return roots[0] if roots else None

    async def movie_tree(
        self, movie_id: UUID, *, max_depth: int = MAX_TREE_DEPTH, identity: Identity | None = None
    ) -> MovieSceneTree | None:
        """Return a movie's visible scenes as trees, roots by start time; ``None`` for an unknown movie."""
        async with reading(self._engine, identity, isolation="REPEATABLE READ") as conn:
            roots = await self._walk(conn, MOVIE_TREE_SQL, {"movie_id": movie_id, "max_depth": max_depth})
            if not roots and not await movie_known(conn, movie_id):
                return None
        return MovieSceneTree(movie_id=movie_id, roots=roots)
