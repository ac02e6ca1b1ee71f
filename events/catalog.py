"""The catalogue of every event type this system writes, with the upcasters of old versions."""

from __future__ import annotations

from events.registry import EventRegistry
from events.scene import SCENE_EVENTS

TOPIC_BY_STREAM_TYPE: dict[str, str] = {
    "scene": "scenes.events",
}


def build_registry() -> EventRegistry:
    """Return a registry of all event classes and upcasters."""
    return EventRegistry(classes=SCENE_EVENTS, upcasters={})
