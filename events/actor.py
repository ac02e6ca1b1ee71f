"""Events of the Actor service. The Actor service may add more; these three are shared contracts."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

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
