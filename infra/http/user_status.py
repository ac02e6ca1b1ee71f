"""Whether a signed token's user may still act: deactivated (or erased) users' tokens stop working.

A token is valid for 15 minutes by its signature alone; deactivation must not wait for that.
Every authenticated request asks the User service's read model, by primary key, whether the
user is still active, and remembers the answer for a short time (:data:`STATUS_TTL_SECONDS`):
a page that fires several API calls costs one lookup, and a deactivation takes effect at most
that long (plus the projection's lag, tens of milliseconds) after the event. Deactivation and
erasure both leave the user's row with ``is_active = false``.

A user the read model does not know is let through: tokens are issued only at log-in, which
reads that same read model, so only a holder of the signing secret can name an unknown user.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final, Protocol
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

STATUS_TTL_SECONDS: Final = 2.0
"""How long an answer is reused: the longest a deactivated user's token keeps working here."""

MAX_REMEMBERED: Final = 10_000
"""Users whose status is remembered at once; the least recently checked are forgotten first."""

_IS_ACTIVE_SQL: Final = "SELECT is_active FROM users WHERE id = :user_id"


class UserStatusCheck(Protocol):
    """What the API asks about a token's user before trusting the token."""

    async def is_active(self, user_id: UUID) -> bool:
        """Whether ``user_id`` may still act (not deactivated, not erased)."""
        ...


class UserStatus:
    """:class:`UserStatusCheck` over the user read model, with a short per-process memory."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        ttl: float = STATUS_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_remembered: int = MAX_REMEMBERED,
    ) -> None:
        self._engine = engine
        self._ttl = ttl
        self._clock = clock
        self._max = max_remembered
        self._known: OrderedDict[UUID, tuple[float, bool]] = OrderedDict()

    async def is_active(self, user_id: UUID) -> bool:
        """Whether ``user_id`` is active (or unknown to the read model); see the module's notes."""
        now = self._clock()
        remembered = self._known.get(user_id)
        if remembered is not None and now - remembered[0] < self._ttl:
            return remembered[1]
        async with self._engine.connect() as conn:
            found = (await conn.execute(text(_IS_ACTIVE_SQL), {"user_id": user_id})).first()
        active = found is None or bool(found.is_active)
        self._known[user_id] = (now, active)
        self._known.move_to_end(user_id)
        while len(self._known) > self._max:
            self._known.popitem(last=False)
        return active
