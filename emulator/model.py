"""The company's records. Slotted dataclasses keep the large company (≈250k attempts) lean;
instants are integer milliseconds (see clock.py), people are referenced by id."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

ROLES = ("admin", "author", "coach", "learner")


class ObjectIds:
    """24-hex MongoDB-style ids (4-byte seconds, 5-byte 'machine', 3-byte counter): the counter
    makes them unique without bookkeeping, the rng makes them deterministic for a seed."""

    __slots__ = ("machine", "counter")

    def __init__(self, rng: random.Random) -> None:
        self.machine = f"{rng.getrandbits(40):010x}"
        self.counter = rng.getrandbits(23)

    def new(self, at_ms: int) -> str:
        c = self.counter
        self.counter = (c + 1) & 0xFFFFFF
        return f"{at_ms // 1000:08x}{self.machine}{c:06x}"


@dataclass(slots=True)
class User:
    id: str
    mail: str
    first_name: str
    last_name: str
    primary_group_id: str | None
    custom: str
    created_at: int
    last_login_at: int | None
    manager_id: str | None
    department: str
    location: str
    lang: str
    deleted: bool = False
    deleted_at: int | None = None
    # gone from v1's getUsers?deleted=true and getUser (a hard delete); truth: deleted
    hard_deleted: bool = False


@dataclass(slots=True)
class Group:
    id: str
    name: str
    parent: str | None
    public: bool
    custom: str
    created_at: int


@dataclass(slots=True)
class Course:
    id: str
    name: str
    author_mail: str
    description: str
    status: str  # draft | published | archived
    creation: int
    modification: int
    group_id: str
    lang: str
    duration: float  # minutes (whole unless the company is fractional: fractional.py)
    co_authors: tuple[str, ...]
    translations: tuple[tuple[str, bool, tuple[str, ...]], ...]  # (lang, published, translators)
    skills: tuple[str, ...]


@dataclass(slots=True)
class ProgramSession:
    id: str
    name: str
    author_mail: str
    description: str
    template_id: str
    tutors: tuple[str, ...]
    lang: str
    start: int
    end: int | None
    created_at: int
    modified_at: int
    duration_hours: float | None
    modules: tuple[tuple[str, str], ...]  # (id, course | webinar | classroom)
    user_limit: int | None
    #: individually subscribed users (an ordered set)
    users: dict[str, None] = field(default_factory=dict)


@dataclass(slots=True)
class Path:
    id: str
    name: str
    author_id: str
    description: str
    group_id: str
    created_at: int
    modified_at: int
    lang: str
    steps: list[tuple[str, str, str]]  # (id, type, title)
    session_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PathSession:
    id: str
    path_id: str
    name: str
    group_id: str
    instructor_ids: tuple[str, ...]
    start: int
    end: int | None
    created_at: int
    modified_at: int


@dataclass(slots=True)
class Attempt:
    id: str
    user_id: str
    course_id: str
    progress: int
    score: int | None
    completed_at: int | None
    first_activity: int
    last_activity: int
    global_time: float  # ms (whole unless the company is fractional)
    path: str | None = None
    path_session: str | None = None


@dataclass(slots=True)
class ProgramProgress:
    """Progress of one (user, program session) pair; kept when the assignment lapses."""

    progress: int = 0
    time_s: float = 0
    score: int | None = None
    completed_at: int | None = None
    started_at: int | None = None


@dataclass(slots=True)
class Enrolment:
    user_id: str
    session_id: str
    path_id: str
    enrolled_at: int
    progress: int = 0
    score: int | None = None
    completed_at: int | None = None
    time_s: float = 0.0
    started_at: int | None = None
