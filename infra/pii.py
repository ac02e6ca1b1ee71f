"""Crypto-shredding of personal data: per-person AES-GCM keys for the personal fields of the log.

The boundary. Events stay plain: a class only *marks* its personal fields (``personal_fields``:
field name -> the value it reads as once erased), whose person they are
(``personal_data_subject``: the field holding that person's user id) and whether it erases that
person (``erases_personal_data``); see :class:`events.user.UserEvent`. Aggregates, handlers and
projections always see clear values. This module works only at the adapter boundary:

* **Append** (:func:`seal_events`, called by :class:`infra.pg_event_store.PostgresEventStore`):
  the marked fields leave the payload and travel encrypted, together, under the key
  ``"$pii"``: ``{"subject": <user id>, "fields": [...], "data": base64(nonce | AES-GCM
  ciphertext)}``, with the event id and type as associated data (a sealed block cannot be
  moved to another event). Each person has one random 256-bit data key in the event store's
  ``personal_data_keys`` table, created on their first sealed event. An erasing event is stored
  with ``"$shred": <user id>``: a trigger on ``saga_events`` then deletes that key in the same
  transaction as the append (tombstone: ``data_key`` NULL, ``erased_at`` set; a tombstoned
  person never gets a key again).
* **Read** (:func:`open_rows` for log rows, :func:`open_values` for Kafka records): the block
  is decrypted with the person's key and the fields put back. When the key is gone (erased, or
  never existed) each field reads as its class's erased value (:data:`events.user.ERASED_EMAIL`,
  ``None``, ``[]``, ...), so loading, replay and rebuilds keep working and show the person erased.

Kafka carries the stored payload, so the topics hold ciphertext too and Kafka's retention keeps
no readable personal data once the key is gone. A payload without ``"$pii"``/``"$shred"`` is
untouched: the fast path for every other event costs no key look-up.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Protocol, cast
from uuid import UUID

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import JsonValue

from commands.errors import DomainError
from events.base import DomainEvent
from events.registry import EventRegistry, UnknownEventTypeError

SEALED: Final = "$pii"
"""Payload key of an event's encrypted personal fields."""
SHRED: Final = "$shred"
"""Payload key naming the person whose data key the event deletes (read by the trigger)."""
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12

_MARKERS: Final = (f'"{SEALED}"'.encode(), f'"{SHRED}"'.encode())

_ENSURE_KEYS = """
WITH new AS (
    INSERT INTO personal_data_keys (subject_id, data_key)
    SELECT * FROM unnest($1::uuid[], $2::bytea[])
    ON CONFLICT (subject_id) DO NOTHING
    RETURNING subject_id, data_key
)
SELECT subject_id, data_key FROM new
UNION ALL
SELECT subject_id, data_key FROM personal_data_keys WHERE subject_id = ANY($1::uuid[])
"""

_FETCH_KEYS = "SELECT subject_id, data_key FROM personal_data_keys WHERE subject_id = ANY($1::uuid[])"


class PersonalDataErasedError(DomainError):
    """Personal data of an erased person was about to be written: it never is again."""

    def __init__(self, subject: UUID) -> None:
        super().__init__("user_id", f"the personal data of user {subject} was erased")
        self.subject = subject


class SealedPayloadError(ValueError):
    """A sealed block is malformed or does not authenticate (tampered with, or moved)."""


# --- What an event class declares ---------------------------------------------------------------


def personal_fields(cls: type[DomainEvent]) -> Mapping[str, JsonValue]:
    """Return the personal fields ``cls`` declares, each with the value it reads as once erased."""
    return cast("Mapping[str, JsonValue]", getattr(cls, "personal_fields", {}))


def erases_personal_data(cls: type[DomainEvent]) -> bool:
    """Whether appending an event of ``cls`` deletes its subject's data key."""
    return bool(getattr(cls, "erases_personal_data", False))


def subject_of(event: DomainEvent) -> UUID | None:
    """Return the person whose data ``event`` carries or erases, or ``None`` when it has none."""
    cls = type(event)
    if not personal_fields(cls) and not erases_personal_data(cls):
        return None
    field = cast("str", getattr(cls, "personal_data_subject", "stream_id"))
    return UUID(str(getattr(event, field)))


def carries_personal_data(event: DomainEvent) -> bool:
    """Whether storing ``event`` involves this module: personal fields to seal, or an erasure to mark."""
    cls = type(event)
    return bool(personal_fields(cls)) or erases_personal_data(cls)


# --- Pure sealing and opening -------------------------------------------------------------------


def _aad(event_id: UUID | str, event_type: str, subject: UUID) -> bytes:
    return f"{event_id}|{event_type}|{subject}".encode()


def seal(event: DomainEvent, key: bytes | None) -> dict[str, Any]:
    """Return the payload to store for ``event``: personal fields sealed with ``key``, erasure marked.

    ``key`` may be ``None`` only for an event without personal fields.
    """
    payload = event.payload()
    cls = type(event)
    fields = sorted(personal_fields(cls))
    subject = subject_of(event)
    if subject is None:
        return payload
    if erases_personal_data(cls):
        payload[SHRED] = str(subject)
    if not fields:
        return payload
    if key is None:
        raise ValueError(f"{cls.__name__} carries personal data: a key is needed to store it")
    clear = {name: payload.pop(name) for name in fields}
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(
        nonce,
        json.dumps(clear, ensure_ascii=False, separators=(",", ":")).encode(),
        _aad(event.event_id, event.event_type, subject),
    )
    payload[SEALED] = {
        "subject": str(subject),
        "fields": fields,
        "data": base64.b64encode(nonce + sealed).decode("ascii"),
    }
    return payload


def sealed_subject(payload: Mapping[str, Any]) -> UUID | None:
    """Return the person whose key opens ``payload``, or ``None`` when nothing in it is sealed."""
    block = payload.get(SEALED)
    if not isinstance(block, Mapping):
        return None
    try:
        return UUID(str(block["subject"]))
    except (KeyError, ValueError) as exc:
        raise SealedPayloadError(f"sealed block without a valid subject: {exc}") from None


def open_payload(
    payload: Mapping[str, Any],
    *,
    event_id: UUID | str,
    event_type: str,
    keys: Mapping[UUID, bytes | None],
    erased_values: Mapping[str, JsonValue] | None = None,
) -> dict[str, Any]:
    """Return ``payload`` as the event class reads it: sealed fields decrypted, markers removed.

    When the subject's key is not in ``keys`` (or is ``None``) the person was erased: each
    sealed field reads as its ``erased_values`` entry (``None`` when it has none).
    Raises :class:`SealedPayloadError` when the block is malformed or fails to authenticate.
    """
    data = dict(payload)
    data.pop(SHRED, None)
    subject = sealed_subject(data)
    if subject is None:
        return data
    block = data.pop(SEALED)
    fields = [str(f) for f in block.get("fields", ())]
    key = keys.get(subject)
    if key is None:
        erased = erased_values or {}
        data.update({name: erased.get(name) for name in fields})
        return data
    try:
        raw = base64.b64decode(str(block["data"]), validate=True)
        clear = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(event_id, event_type, subject))
    except (KeyError, binascii.Error, InvalidTag, ValueError) as exc:
        raise SealedPayloadError(f"sealed block of event {event_id} does not open: {exc!r}") from None
    data.update(json.loads(clear))
    return data


def _erased_values(registry: EventRegistry, event_type: str) -> Mapping[str, JsonValue]:
    try:
        return personal_fields(registry.event_class(event_type))
    except UnknownEventTypeError:
        return {}  # the registry reports the unknown type itself when the event is loaded


# --- The key store ------------------------------------------------------------------------------


class KeyStore(Protocol):
    """Where the data keys live: created on first use, gone once their person is erased."""

    async def for_sealing(self, subjects: Iterable[UUID]) -> dict[UUID, bytes]:
        """Return each subject's key, creating missing ones; raise for an erased subject."""
        ...

    async def for_opening(self, subjects: Iterable[UUID]) -> dict[UUID, bytes | None]:
        """Return the keys there are for ``subjects`` (none for an erased one)."""
        ...


class PersonalDataKeys:
    """The data keys in the event store's ``personal_data_keys`` table (never cached: erasure wins)."""

    def __init__(self, pool: asyncpg.Pool | asyncpg.Connection) -> None:
        # A connection too: an operator's transaction (dead-letter retry) reads keys through it.
        self._pool = pool

    async def for_sealing(self, subjects: Iterable[UUID]) -> dict[UUID, bytes]:
        """Return each subject's key, creating missing ones; refuse an erased subject."""
        wanted = sorted(set(subjects))
        if not wanted:
            return {}
        found: dict[UUID, bytes | None] = {}
        # A key inserted concurrently by another append is invisible to this statement's
        # snapshot: one more read sees it.
        for _ in range(2):
            fresh = [secrets.token_bytes(KEY_BYTES) for _ in wanted]
            rows = await self._pool.fetch(_ENSURE_KEYS, wanted, fresh)
            found.update({r["subject_id"]: r["data_key"] for r in rows})
            if all(s in found for s in wanted):
                break
        keys: dict[UUID, bytes] = {}
        for subject in wanted:
            if subject not in found:  # pragma: no cover  the second read sees every committed key
                raise RuntimeError(f"no data key could be created for {subject}")
            key = found[subject]
            if key is None:
                raise PersonalDataErasedError(subject)
            keys[subject] = bytes(key)
        return keys

    async def for_opening(self, subjects: Iterable[UUID]) -> dict[UUID, bytes | None]:
        """Return the keys there are for ``subjects``; an erased (or unknown) subject has none."""
        wanted = sorted(set(subjects))
        if not wanted:
            return {}
        rows = await self._pool.fetch(_FETCH_KEYS, wanted)
        return {r["subject_id"]: bytes(r["data_key"]) if r["data_key"] is not None else None for r in rows}


# --- Batch helpers for the adapters -------------------------------------------------------------


async def seal_events(keys: KeyStore, events: Sequence[DomainEvent]) -> list[dict[str, Any]]:
    """Return the payloads to store for ``events`` (one key round trip, only when one is needed)."""
    subjects = [subject_of(e) if personal_fields(type(e)) else None for e in events]
    wanted = {s for s in subjects if s is not None}
    found = await keys.for_sealing(wanted) if wanted else {}
    return [seal(e, found[s] if s is not None else None) for e, s in zip(events, subjects, strict=True)]


async def open_rows(
    keys: KeyStore,
    rows: Sequence[asyncpg.Record],
    registry: EventRegistry,
) -> list[asyncpg.Record | dict[str, Any]]:
    """Return ``saga_events`` rows with their ``event_data`` opened; untouched rows stay as they are."""
    subjects = {s for r in rows if (s := sealed_subject(r["event_data"])) is not None}
    found = await keys.for_opening(subjects) if subjects else {}
    opened: list[asyncpg.Record | dict[str, Any]] = []
    for row in rows:
        data = row["event_data"]
        if SEALED not in data and SHRED not in data:
            opened.append(row)
            continue
        item = dict(row.items())
        item["event_data"] = open_payload(
            data,
            event_id=row["id"],
            event_type=row["event_type"],
            keys=found,
            erased_values=_erased_values(registry, row["event_type"]),
        )
        opened.append(item)
    return opened


def _header(headers: Iterable[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return bytes(value).decode(errors="replace")
    return None


def _parse_sealed(value: bytes) -> dict[str, Any] | None:
    """Return the JSON object of a value that carries sealed data or an erasure, else ``None``."""
    if not any(marker in value for marker in _MARKERS):
        return None
    try:
        payload = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def _subject_or_none(payload: Mapping[str, Any]) -> UUID | None:
    try:
        return sealed_subject(payload)
    except SealedPayloadError:
        return None  # left sealed: decoding rejects it and says why


async def open_values(
    keys: KeyStore,
    records: Sequence[tuple[Sequence[tuple[str, bytes]], bytes]],
    registry: EventRegistry,
) -> list[bytes]:
    """Return the values of Kafka records ``(headers, value)`` with their personal fields opened.

    A value without sealed data, or one that cannot be parsed or opened, comes back as it was
    (decoding then reports what is wrong with it). The opened values are for decoding only:
    never publish or store them.
    """
    parsed = [_parse_sealed(value) for _, value in records]
    subjects = {s for p in parsed if p is not None and (s := _subject_or_none(p)) is not None}
    found = await keys.for_opening(subjects) if subjects else {}
    values: list[bytes] = []
    for (headers, value), payload in zip(records, parsed, strict=True):
        if payload is None:  # most records: no sealed data, so no header to look up
            values.append(value)
            continue
        event_id = _header(headers, "ce_id")
        event_type = (_header(headers, "ce_type") or "").rsplit(".", 1)[-1]
        if event_id is None:
            values.append(value)
            continue
        try:
            data = open_payload(
                payload,
                event_id=event_id,
                event_type=event_type,
                keys=found,
                erased_values=_erased_values(registry, event_type),
            )
        except SealedPayloadError:
            values.append(value)
            continue
        values.append(json.dumps(data, ensure_ascii=False).encode())
    return values
