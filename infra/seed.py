"""`sceneledger seed`: realistic, overlapping, bilingual test data generated through the real command path.

Like the design's ``generate_test_scenes`` but every row comes from a command dispatched on the
command bus (so every rule is checked and every event is in the log), scenes have random starts
and lengths so they overlap and nest, and the dialogue lines are varied Japanese and English
sentences built from word lists, so text-search figures mean something.

Everything is derived from ``--seed``: ids, command ids and content. Re-running with the same
seed and sizes dispatches the same commands, which the event store recognises: nothing is
appended twice.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Annotated, NoReturn
from uuid import NAMESPACE_URL, UUID, uuid5

import structlog
import typer
from pydantic import SecretStr
from tqdm import tqdm

from commands.actor import AddFilmographyEntry, RegisterActor
from commands.authorization import SYSTEM_ROLE
from commands.base import Command
from commands.errors import DomainError
from commands.movie import GENRES, AssignMovieGenres, RegisterMovie
from commands.review import PostReview
from commands.scene import AddDialogue, AddSceneActor, CreateScene
from commands.user import RegisterUser
from events.base import EventMetadata
from infra.bootstrap import open_system, prepare
from infra.config import load_settings

if TYPE_CHECKING:
    from commands.handlers import CommandBus

log = structlog.get_logger(__name__)

seed_app = typer.Typer()

SHOWN = (
    "movies",
    "private movies",
    "actors",
    "filmography entries",
    "users",
    "scenes",
    "nested scenes",
    "scene cast entries",
    "dialogue lines",
    "dialogue lines (ja)",
    "dialogue lines (en)",
    "reviews",
)
"""What the command prints, in this order."""
AS_SYSTEM = EventMetadata(user_role=SYSTEM_ROLE)
PRIVATE_SHARE = 0.1
"""Share of movies registered as not public."""
NESTED_SHARE = 0.1
"""Share of a movie's scenes created as nested scenes inside an earlier one."""
CAST_PER_MOVIE = 6
REVIEWS_PER_USER = 2
LEADS = 2
"""Billing positions credited as leads in the filmographies."""
MIN_PARENT_SECONDS = 30
"""Shortest scene that gets nested scenes."""
SHORT_SCENES, MEDIUM_SCENES = 0.6, 0.3
"""Shares of scenes of 10-90 s and 90-300 s; the rest last 5-15 minutes."""
JAPANESE_SHARE = 0.7
"""Share of dialogue lines in Japanese; the rest are in English."""
LOG_EVERY_SECONDS = 5
SEED_PASSWORD = "seed-password-0000"  # noqa: S105  test data: every seeded user shares it

# --- Word lists --------------------------------------------------------------------------------

SURNAMES = (
    ("佐藤", "Sato"),
    ("鈴木", "Suzuki"),
    ("高橋", "Takahashi"),
    ("田中", "Tanaka"),
    ("伊藤", "Ito"),
    ("渡辺", "Watanabe"),
    ("山本", "Yamamoto"),
    ("中村", "Nakamura"),
    ("小林", "Kobayashi"),
    ("加藤", "Kato"),
    ("吉田", "Yoshida"),
    ("山田", "Yamada"),
    ("松本", "Matsumoto"),
    ("井上", "Inoue"),
    ("木村", "Kimura"),
)
GIVEN_NAMES = (
    ("花子", "Hanako"),
    ("太郎", "Taro"),
    ("美咲", "Misaki"),
    ("翔太", "Shota"),
    ("結衣", "Yui"),
    ("蓮", "Ren"),
    ("陽菜", "Hina"),
    ("大翔", "Hiroto"),
    ("葵", "Aoi"),
    ("悠真", "Yuma"),
    ("さくら", "Sakura"),
    ("健太", "Kenta"),
)
PEOPLE_JA = ("私", "僕", "君", "彼", "彼女", "先生", "母さん", "父さん", "みんな", "あなた")
THINGS_JA = (
    "猫", "犬", "海", "空", "桜", "夏", "雨", "夢", "音楽", "映画", "約束", "手紙", "星", "花",
    "学校", "東京", "電車", "写真", "秘密", "未来",
)  # fmt: skip
PLACES_JA = ("駅", "屋上", "海辺", "教室", "病院", "喫茶店", "神社", "公園", "台所", "橋の上")
FEELINGS_JA = ("好き", "大好き", "嫌い", "怖い", "寂しい", "嬉しい", "懐かしい", "悔しい")
JA_TEMPLATES: tuple[Callable[[random.Random], str], ...] = (
    lambda r: f"{r.choice(PEOPLE_JA)}は{r.choice(THINGS_JA)}が{r.choice(FEELINGS_JA)}だ。",
    lambda r: "君が好きだ。" + r.choice(("", "ずっと前から。", "本当だよ。", "信じて。")),
    lambda r: f"{r.choice(THINGS_JA)}を見に{r.choice(PLACES_JA)}へ行こう。",
    lambda r: f"もう一度{r.choice(PEOPLE_JA)}に会いたい。",
    lambda r: (
        f"{r.choice(PLACES_JA)}で待っているから、{r.choice(('早く来て', '忘れないで', '泣かないで'))}。"
    ),
    lambda r: f"どうして{r.choice(THINGS_JA)}のことを黙っていたの？",  # noqa: RUF001  Japanese punctuation
    lambda r: f"ありがとう、{r.choice(PEOPLE_JA)}。{r.choice(THINGS_JA)}は大切にするね。",
    lambda r: f"今夜は{r.choice(('雨', '雪', '月', '星'))}がきれいだね。",
    lambda r: f"{r.choice(THINGS_JA)}なんて{r.choice(FEELINGS_JA)}じゃない！",  # noqa: RUF001  Japanese punctuation
    lambda r: f"うちの猫が{r.choice(('いなくなった', '帰ってきた', '寝ている', '鳴いている'))}。",
)
EN_SUBJECTS = ("I", "You", "We", "They", "My brother", "The old man", "Nobody", "Everyone")
EN_VERBS = ("remember", "lost", "found", "love", "hate", "need", "miss", "promised")
EN_OBJECTS = (
    "the letter", "that summer", "the cat", "the last train", "your song", "the key",
    "the secret", "this town", "the photograph", "the rain",
)  # fmt: skip
EN_TITLE_NOUNS = ("Letter", "Summer", "Cat", "Last Train", "Song", "Key", "Secret", "Rain", "Bridge")
EN_TEMPLATES: tuple[Callable[[random.Random], str], ...] = (
    lambda r: f"{r.choice(EN_SUBJECTS)} {r.choice(EN_VERBS)} {r.choice(EN_OBJECTS)}.",
    lambda r: "I love you. " + r.choice(("I always have.", "Don't go.", "Is that enough?", "")),
    lambda r: f"Where did you hide {r.choice(EN_OBJECTS)}?",
    lambda r: f"Meet me at the {r.choice(('station', 'bridge', 'harbour', 'cafe'))} before midnight.",
    lambda r: f"Don't tell anyone about {r.choice(EN_OBJECTS)}.",
    lambda r: f"The cat is sleeping on {r.choice(('the roof', 'my bed', 'the piano', 'the stairs'))}.",
    lambda r: f"{r.choice(EN_SUBJECTS)} never came back for {r.choice(EN_OBJECTS)}.",
)
SCENE_EVENTS_JA = (
    "再会する", "別れを告げる", "喧嘩する", "恋愛の悩みを打ち明ける", "追いかける", "秘密を知る",
    "食事をする", "手紙を読む", "逃げ出す", "告白する",
)  # fmt: skip
SCENE_TAGS = ("romantic", "action", "comedy", "night", "rain", "chase", "family", "dialogue", "music")
EMOTIONAL_TAGS = ("sad", "happy", "tense", "nostalgic", "angry", "tender")
DIRECTORS = ("是枝 一郎", "黒沢 明子", "宮崎 駿介", "北野 武史", "新海 誠司", "細田 守人")
REVIEW_JA = (
    "映像が美しく、{thing}の場面が忘れられない。",
    "{thing}が好きな人にはおすすめ。後半は少し長い。",
    "期待していたほどではなかったが、{thing}の描き方は良かった。",
)
REVIEW_EN = (
    "Beautifully shot; the scene with {thing} stayed with me.",
    "Slow in the middle, but the ending with {thing} works.",
    "Not for everyone. I loved {thing} though.",
)


def _clock(seconds: int) -> str:
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _chance(rng: random.Random, share: float) -> bool:
    return rng.random() < share


def ja_line(rng: random.Random) -> str:
    """Return a Japanese dialogue line from the word lists."""
    return rng.choice(JA_TEMPLATES)(rng)


def en_line(rng: random.Random) -> str:
    """Return an English dialogue line from the word lists."""
    return rng.choice(EN_TEMPLATES)(rng)


# --- The plan ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeedSizes:
    """How much to generate."""

    movies: int
    scenes_per_movie: int
    actors: int
    users: int

    @classmethod
    def for_movies(cls, movies: int, scenes_per_movie: int) -> SeedSizes:
        """Sizes of the other entities that go with ``movies`` (enough to cast and review them)."""
        return cls(
            movies=movies,
            scenes_per_movie=scenes_per_movie,
            actors=max(CAST_PER_MOVIE, movies * 3),
            users=max(2, min(100, movies // 4)),
        )


@dataclass(slots=True)
class SeedReport:
    """What a seed run dispatched, appended and created, with the ids of what it created."""

    commands: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    created: dict[str, int] = field(default_factory=dict)
    movie_ids: list[UUID] = field(default_factory=list)
    scene_ids: list[UUID] = field(default_factory=list)
    actor_ids: list[UUID] = field(default_factory=list)
    user_ids: list[UUID] = field(default_factory=list)
    review_ids: list[UUID] = field(default_factory=list)

    def count(self, what: str, n: int = 1) -> None:
        """Add ``n`` to the number of ``what`` created."""
        self.created[what] = self.created.get(what, 0) + n

    @property
    def rate(self) -> float:
        """Commands handled per second."""
        return self.commands / self.seconds if self.seconds else 0.0


Chain = list[tuple[Command, EventMetadata]]
"""Commands dispatched one after the other (they touch the same stream or depend on each other)."""


class Plan:
    """Deterministic ids and commands of one seed: ``uuid5`` of the seed and a name."""

    def __init__(self, seed: int, sizes: SeedSizes) -> None:
        self.seed = seed
        self.sizes = sizes
        self._ns = uuid5(NAMESPACE_URL, f"sceneledger:seed:{seed}")
        rng = self.rng("movies")
        self.private = [_chance(rng, PRIVATE_SHARE) for _ in range(sizes.movies)]
        self.durations = [rng.randrange(90, 151) * 60 for _ in range(sizes.movies)]

    def uid(self, *name: object) -> UUID:
        """Return the id of the named thing (stable for a seed)."""
        return uuid5(self._ns, ":".join(str(n) for n in name))

    def rng(self, *name: object) -> random.Random:
        """Return a random generator of its own for the named part (stable for a seed)."""
        return random.Random(f"{self.seed}:" + ":".join(str(n) for n in name))  # noqa: S311  test data

    def _cmd_id(self, *name: object) -> UUID:
        return self.uid("command", *name)

    # Phase 1: movies, actors, users.

    def movie_chains(self, report: SeedReport) -> Iterator[Chain]:
        """Register every movie (some private) and assign its genres."""
        genres = sorted(GENRES.values(), key=lambda g: g.name_en)
        for i in range(self.sizes.movies):
            rng = self.rng("movie", i)
            movie_id = self.uid("movie", i)
            thing, place = rng.choice(THINGS_JA), rng.choice(PLACES_JA)
            chosen = rng.sample(genres, 2)
            report.movie_ids.append(movie_id)
            report.count("movies")
            if self.private[i]:
                report.count("private movies")
            yield [
                (
                    RegisterMovie(
                        command_id=self._cmd_id("movie", i),
                        movie_id=movie_id,
                        title=f"{place}の{thing} {i + 1}",
                        original_title=f"The {rng.choice(EN_TITLE_NOUNS)} {i + 1}",
                        release_year=rng.randrange(1960, 2026),
                        duration_minutes=self.durations[i] // 60,
                        country="JP",
                        director=rng.choice(DIRECTORS),
                        is_public=not self.private[i],
                    ),
                    AS_SYSTEM,
                ),
                (
                    AssignMovieGenres(
                        command_id=self._cmd_id("genres", i),
                        movie_id=movie_id,
                        genre_ids=tuple(g.id for g in chosen),
                        primary_genre_id=chosen[0].id,
                    ),
                    AS_SYSTEM,
                ),
            ]

    def actor_chains(self, report: SeedReport) -> Iterator[Chain]:
        """Register every actor (name + birth date unique within the seed)."""
        born = date(1940, 1, 1)
        offset = self.seed * 7919  # another seed gets other birth dates, so its actors are new
        for i in range(self.sizes.actors):
            rng = self.rng("actor", i)
            (sur, sur_en), (given, given_en) = rng.choice(SURNAMES), rng.choice(GIVEN_NAMES)
            actor_id = self.uid("actor", i)
            birth = born + timedelta(days=(offset + i) % 25_000)
            report.actor_ids.append(actor_id)
            report.count("actors")
            yield [
                (
                    RegisterActor(
                        command_id=self._cmd_id("actor", i),
                        actor_id=actor_id,
                        name=f"{sur} {given}",
                        name_en=f"{given_en} {sur_en}",
                        birth_date=birth,
                        gender=rng.choice(("female", "male")),
                        debut_year=min(2025, birth.year + rng.randrange(5, 40)),
                    ),
                    AS_SYSTEM,
                )
            ]

    def user_chains(self, report: SeedReport) -> Iterator[Chain]:
        """Register the reviewing users."""
        for i in range(self.sizes.users):
            user_id = self.uid("user", i)
            report.user_ids.append(user_id)
            report.count("users")
            yield [
                (
                    RegisterUser(
                        command_id=self._cmd_id("user", i),
                        user_id=user_id,
                        email=f"seed{self.seed}.user{i}@example.com",
                        password=SecretStr(SEED_PASSWORD),
                        display_name=f"{self.rng('user', i).choice(GIVEN_NAMES)[0]}{i}",
                    ),
                    AS_SYSTEM,
                )
            ]

    # Phase 2: cast in filmographies, primary scenes with their cast and lines.

    def cast_of(self, movie: int) -> list[int]:
        """Return the actor numbers cast in ``movie``."""
        return self.rng("cast", movie).sample(range(self.sizes.actors), CAST_PER_MOVIE)

    def filmography_chains(self, report: SeedReport) -> Iterator[Chain]:
        """Add each movie to its cast's filmographies (one chain per actor: one stream)."""
        roles: dict[int, list[tuple[int, int]]] = {}
        for movie in range(self.sizes.movies):
            for billing, actor in enumerate(self.cast_of(movie), start=1):
                roles.setdefault(actor, []).append((movie, billing))
        for actor, entries in sorted(roles.items()):
            chain: Chain = []
            for movie, billing in entries:
                rng = self.rng("role", movie, actor)
                report.count("filmography entries")
                chain.append(
                    (
                        AddFilmographyEntry(
                            command_id=self._cmd_id("filmography", movie, actor),
                            actor_id=self.uid("actor", actor),
                            movie_id=self.uid("movie", movie),
                            character_name=rng.choice(GIVEN_NAMES)[0],
                            role_type="lead" if billing <= LEADS else rng.choice(("supporting", "cameo")),
                            billing_order=billing,
                        ),
                        AS_SYSTEM,
                    )
                )
            yield chain

    def scene_spans(self, movie: int) -> list[tuple[int, int, int | None]]:
        """(start, end, parent scene number or None) of each scene of ``movie``, in number order."""
        rng = self.rng("timeline", movie)
        duration = self.durations[movie]
        spans: list[tuple[int, int, int | None]] = []
        for _ in range(self.sizes.scenes_per_movie):
            parents = [k for k, (s, e, p) in enumerate(spans) if p is None and e - s >= MIN_PARENT_SECONDS]
            if parents and _chance(rng, NESTED_SHARE):
                parent = rng.choice(parents)
                p_start, p_end, _ = spans[parent]
                start = rng.randrange(p_start, p_end - 10)
                spans.append((start, rng.randrange(start + 5, min(p_end, start + 300) + 1), parent))
                continue
            kind = rng.random()
            length = (
                rng.randrange(10, 90)
                if kind < SHORT_SCENES
                else rng.randrange(90, 300)
                if kind < SHORT_SCENES + MEDIUM_SCENES
                else rng.randrange(300, 900)
            )
            start = rng.randrange(0, max(1, duration - length))
            spans.append((start, start + length, None))
        return spans

    def scene_chains(self, report: SeedReport, *, nested: bool) -> Iterator[Chain]:
        """One chain per scene: create it, cast it, add its lines (primary or nested scenes only)."""
        for movie in range(self.sizes.movies):
            cast = self.cast_of(movie)
            for n, (start, end, parent) in enumerate(self.scene_spans(movie)):
                if (parent is not None) != nested:
                    continue
                yield self._scene_chain(report, movie, n, (start, end), parent, cast)

    def _scene_chain(
        self,
        report: SeedReport,
        movie: int,
        n: int,
        span: tuple[int, int],
        parent: int | None,
        cast: list[int],
    ) -> Chain:
        rng = self.rng("scene", movie, n)
        scene_id = self.uid("scene", movie, n)
        start, end = span
        length = end - start
        level1 = rng.choice("ARCSDLO")
        level2 = rng.randrange(1, 6)
        classification = f"{level1}{level2}" + (f"-{rng.randrange(1, 6)}" if _chance(rng, 0.5) else "")
        tags = tuple(rng.sample(SCENE_TAGS, rng.randrange(1, 4)))
        description = (
            f"{rng.choice(PLACES_JA)}で{rng.choice(PEOPLE_JA)}と{rng.choice(PEOPLE_JA)}が"
            f"{rng.choice(SCENE_EVENTS_JA)}。{rng.choice(THINGS_JA)}が鍵になる。"
        )
        report.scene_ids.append(scene_id)
        report.count("scenes")
        if parent is not None:
            report.count("nested scenes")
        chain: Chain = [
            (
                CreateScene(
                    command_id=self._cmd_id("scene", movie, n),
                    scene_id=scene_id,
                    movie_id=self.uid("movie", movie),
                    start=_clock(start),
                    end="+" + _clock(length),
                    classification=classification,
                    scene_number=n + 1,
                    scene_type="primary" if parent is None else "nested",
                    parent_scene_id=None if parent is None else self.uid("scene", movie, parent),
                    tags=tags,
                    description=description,
                    emotional_tags=tuple(rng.sample(EMOTIONAL_TAGS, rng.randrange(0, 3))),
                ),
                AS_SYSTEM,
            )
        ]
        in_scene = rng.sample(cast, rng.randrange(1, 4))
        for actor in in_scene:
            report.count("scene cast entries")
            chain.append(
                (
                    AddSceneActor(
                        command_id=self._cmd_id("scene-actor", movie, n, actor),
                        scene_id=scene_id,
                        actor_id=self.uid("actor", actor),
                        character_name=self.rng("role", movie, actor).choice(GIVEN_NAMES)[0],
                        role_type=rng.choice(("primary", "supporting", "cameo")),
                        screen_time_seconds=rng.randrange(0, length + 1),
                    ),
                    AS_SYSTEM,
                )
            )
        for k in range(rng.randrange(0, 4)):
            japanese = _chance(rng, JAPANESE_SHARE)
            text = ja_line(rng) if japanese else en_line(rng)
            offset = rng.randrange(0, length)
            report.count("dialogue lines")
            report.count("dialogue lines (ja)" if japanese else "dialogue lines (en)")
            chain.append(
                (
                    AddDialogue(
                        command_id=self._cmd_id("dialogue", movie, n, k),
                        scene_id=scene_id,
                        dialogue_id=self.uid("dialogue", movie, n, k),
                        actor_id=self.uid("actor", rng.choice(in_scene)),
                        dialogue_text=text,
                        start_time_offset=offset,
                        duration_seconds=min(length - offset, rng.randrange(1, 12)),
                        is_memorable_quote=_chance(rng, 0.05),
                        dialogue_type=rng.choice(("monologue", "conversation", "narration")),
                        language="ja" if japanese else "en",
                        subtitle_text=en_line(rng) if japanese and _chance(rng, 0.3) else None,
                    ),
                    AS_SYSTEM,
                )
            )
        return chain

    # Phase 3: nested scenes (inside phase 2's) and reviews.

    def review_chains(self, report: SeedReport) -> Iterator[Chain]:
        """Each user reviews a few public movies, in Japanese or English."""
        public = [m for m in range(self.sizes.movies) if not self.private[m]]
        for u in range(self.sizes.users):
            rng = self.rng("reviews", u)
            user_id = self.uid("user", u)
            for movie in rng.sample(public, min(REVIEWS_PER_USER, len(public))):
                thing = rng.choice(THINGS_JA)
                template = rng.choice(REVIEW_JA + REVIEW_EN)
                review_id = self.uid("review", u, movie)
                report.review_ids.append(review_id)
                report.count("reviews")
                yield [
                    (
                        PostReview(
                            command_id=self._cmd_id("review", u, movie),
                            review_id=review_id,
                            user_id=user_id,
                            movie_id=self.uid("movie", movie),
                            title=f"{thing}の映画" if template in REVIEW_JA else f"About {thing}",
                            content=template.format(thing=thing),
                            rating=rng.randrange(1, 6),
                            is_spoiler=_chance(rng, 0.1),
                        ),
                        AS_SYSTEM.model_copy(update={"user_id": user_id}),
                    )
                ]

    def phases(self, report: SeedReport) -> list[tuple[str, Iterable[Chain]]]:
        """Return the phases in dependency order; the chains of one phase run concurrently."""
        return [
            (
                "movies, actors, users",
                _chain(self.movie_chains(report), self.actor_chains(report), self.user_chains(report)),
            ),
            (
                "filmographies, scenes",
                _chain(self.filmography_chains(report), self.scene_chains(report, nested=False)),
            ),
            (
                "nested scenes, reviews",
                _chain(self.scene_chains(report, nested=True), self.review_chains(report)),
            ),
        ]


def _chain(*parts: Iterable[Chain]) -> Iterator[Chain]:
    for part in parts:
        yield from part


# --- Running it --------------------------------------------------------------------------------


class _Progress:
    """A tqdm bar on a terminal, otherwise a log line every few seconds."""

    def __init__(self, *, bar: bool) -> None:
        self._bar: tqdm[NoReturn] | None = tqdm(unit="cmd", unit_scale=True, desc="seed") if bar else None
        self._done = 0
        self._logged = time.monotonic()
        self._started = time.monotonic()

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more commands handled."""
        self._done += n
        if self._bar is not None:
            self._bar.update(n)
        elif time.monotonic() - self._logged >= LOG_EVERY_SECONDS:
            self._logged = time.monotonic()
            rate = self._done / (self._logged - self._started)
            log.info("seed.progress", commands=self._done, per_second=round(rate))

    def close(self) -> None:
        """Close the bar."""
        if self._bar is not None:
            self._bar.close()


async def run_seed(
    bus: CommandBus,
    *,
    seed: int,
    sizes: SeedSizes,
    concurrency: int = 16,
    progress: bool = False,
) -> SeedReport:
    """Dispatch the seed's commands, ``concurrency`` chains at a time, and report what happened."""
    report = SeedReport()
    plan = Plan(seed, sizes)
    bar = _Progress(bar=progress)
    started = time.perf_counter()
    try:
        for name, chains in plan.phases(report):
            log.debug("seed.phase", phase=name)
            pending = iter(chains)

            async def worker(pending: Iterator[Chain] = pending) -> None:
                for chain in pending:  # one shared iterator: each chain is taken by one worker
                    for cmd, metadata in chain:
                        result = await bus.dispatch(cmd, metadata)
                        report.commands += 1
                        report.duplicates += result.duplicate
                        bar.advance()

            await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        bar.close()
    report.seconds = time.perf_counter() - started
    return report


@seed_app.command("seed")
def seed_command(
    movies: Annotated[int, typer.Option("--movies", min=1, help="movies to register")] = 10,
    scenes_per_movie: Annotated[
        int, typer.Option("--scenes-per-movie", min=1, help="scenes of each movie")
    ] = 100,
    seed: Annotated[int, typer.Option("--seed", help="same seed, same data (a re-run appends nothing)")] = 1,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="commands in flight")] = 16,
) -> None:
    """Generate movies, actors, users, overlapping scenes with cast and bilingual lines, and reviews.

    Every row goes through the real command path (the command bus). Prints what was created
    and the rate; the read models follow as the projectors catch up.
    """
    settings = load_settings(start_stack=True)
    sizes = SeedSizes.for_movies(movies, scenes_per_movie)

    async def go() -> SeedReport:
        await prepare(settings)
        system = await open_system(settings)
        try:
            return await run_seed(
                system.bus, seed=seed, sizes=sizes, concurrency=concurrency, progress=sys.stderr.isatty()
            )
        finally:
            await system.close()

    try:
        report = asyncio.run(go())
    except DomainError as exc:  # a seed that clashes with data already there (another seed's)
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"seed {seed}:")
    for what in SHOWN:
        typer.echo(f"  {what}: {report.created.get(what, 0):,}")
    appended = report.commands - report.duplicates
    typer.echo(
        f"{report.commands:,} commands in {report.seconds:.1f} s ({report.rate:,.0f}/s): "
        f"{appended:,} appended, {report.duplicates:,} already there (same seed)"
    )
