"""The synthetic company: its state, the indexes the routes read, the mutations `advance`
makes, and `truth()`, the canonical form tests compare the warehouse with
(docs/architecture.md)."""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Iterator
from typing import Any

from . import v2_data
from .clock import START_NOW, iso
from .model import (
    Attempt,
    Course,
    Enrolment,
    Group,
    ObjectIds,
    Path,
    PathSession,
    ProgramProgress,
    ProgramSession,
    User,
)

TRUTH_TABLES = (
    "courses",
    "users",
    "groups",
    "user_groups",
    "group_catalog",
    "group_programs",
    "program_sessions",
    "paths",
    "path_sessions",
    "user_path_sessions",
    "user_courses",
    "user_programs",
)
CATALOG_TYPES = ("course", "path", "program_session")
_NO_PROGRESS = ProgramProgress()


class Company:
    """One tenant. Every read and write happens under `lock` (one re-entrant lock), so
    `advance()` is safe while the server serves; routes take it per batch of records."""

    def __init__(self, seed: int, sizes: dict[str, Any]) -> None:
        self.seed = seed
        self.sizes = dict(sizes)
        self.lock = threading.RLock()
        self.now = START_NOW
        self.advances = 0  # simulated days so far: advance's rng is seeded by (seed, this)
        rng = random.Random(f"learning360-emulator:{seed}:ids")
        self.ids = ObjectIds(rng)
        self.company_id = self.ids.new(START_NOW - 5 * 365 * 86_400_000)
        self.api_key = hashlib.sha256(f"learning360-emulator:{seed}:api-key".encode()).hexdigest()[
            :32
        ]
        # the API v2 credential (v1 and v2 credentials are not interchangeable)
        self.client_id = hashlib.sha256(
            f"learning360-emulator:{seed}:v2-client-id".encode()
        ).hexdigest()[:32]
        self.client_secret = hashlib.sha256(
            f"learning360-emulator:{seed}:v2-client-secret".encode()
        ).hexdigest()
        self.name = ""
        self.domain = ""
        self.fractional_numbers = False  # emulator/fractional.py
        self.skills: list[str] = []
        self.templates: list[str] = []

        self.users: dict[str, User] = {}
        self.users_by_mail: dict[str, User] = {}
        self.subordinates: dict[str, list[str]] = {}
        self.groups: dict[str, Group] = {}
        self.root_group_id = ""
        # membership, both ways: user -> group -> role and group -> user -> role
        self.memberships: dict[str, dict[str, str]] = {}
        self.members: dict[str, dict[str, str]] = {}
        self.courses: dict[str, Course] = {}
        # attempts, both ways (same objects): course -> user -> [attempt], user -> course -> [...]
        self.attempts_by_course: dict[str, dict[str, list[Attempt]]] = {}
        self.attempts_by_user: dict[str, dict[str, list[Attempt]]] = {}
        self.n_attempts = 0
        # attempts the platform dropped without a trace (hard_delete_attempt): in truth() only
        self.hard_deleted_attempts: dict[str, Attempt] = {}
        self.program_sessions: dict[str, ProgramSession] = {}
        self.direct_programs: dict[str, dict[str, None]] = {}  # user -> program sessions
        self.group_programs: dict[str, dict[str, None]] = {}  # group -> program sessions
        self.program_groups: dict[str, dict[str, None]] = {}  # program session -> groups
        self.program_progress: dict[tuple[str, str], ProgramProgress] = {}
        self.paths: dict[str, Path] = {}
        self.path_sessions: dict[str, PathSession] = {}
        self.enrolments: dict[str, dict[str, Enrolment]] = {}  # path session -> user -> e
        self.enrolments_by_user: dict[str, dict[str, Enrolment]] = {}
        # group -> item type -> ordered set of ids
        self.catalog: dict[str, dict[str, dict[str, None]]] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def generate(
        cls,
        seed: int = 0,
        size: str = "small",
        *,
        fractional_numbers: bool = False,
        **overrides: Any,
    ) -> Company:
        """A company deterministic for (seed, size, overrides). Overrides set sizes one by one:
        users, groups, courses, program_sessions, paths, attempts_per_user.
        ``fractional_numbers``: spec `number` fields get fractions (emulator/fractional.py)."""
        from . import fractional
        from .generate import build, resolve_sizes

        company = cls(seed, resolve_sizes(size, overrides))
        with company.lock:
            build(company)
            if fractional_numbers:
                fractional.apply(company)
        return company

    def advance(self, days: int = 1) -> None:
        """Moves the clock by `days`, simulating each day; deterministic for (seed, number of
        days simulated so far)."""
        from .advance import simulate_day

        if int(days) != days or days < 0:
            raise ValueError("days must be a non-negative integer")
        with self.lock:
            for _ in range(int(days)):
                rng = random.Random(f"learning360-emulator:{self.seed}:advance:{self.advances}")
                simulate_day(self, rng)
                self.advances += 1

    def change_mail(self, user_id: str, mail: str) -> None:
        """A user's mail changes (an admin edit): every record that names the user by mail
        (course and program-session authors, co-authors, tutors) follows, as the platform's
        own references are ids; the courses themselves are not modified (no new
        modification date), which is what makes a copied mail go stale downstream."""
        with self.lock:
            user = self.users[user_id]
            old = user.mail
            if mail.lower() in self.users_by_mail and mail.lower() != old.lower():
                raise ValueError(f"mail {mail} belongs to another user")
            del self.users_by_mail[old.lower()]
            user.mail = mail
            self.users_by_mail[mail.lower()] = user

            def swap(value: str) -> str:
                return mail if value.lower() == old.lower() else value

            for course in self.courses.values():
                course.author_mail = swap(course.author_mail)
                course.co_authors = tuple(map(swap, course.co_authors))
            for session in self.program_sessions.values():
                session.author_mail = swap(session.author_mail)
                session.tutors = tuple(map(swap, session.tutors))

    def _author_id(self, mail: str) -> str | None:
        user = self.users_by_mail.get(mail.lower())
        return user.id if user is not None else None

    # ------------------------------------------------------------------ lookups
    def find_user(self, key: str) -> User | None:
        """getUser accepts an id or a mail address (case-insensitive)."""
        user = self.users.get(key)
        if user is None and "@" in key:
            user = self.users_by_mail.get(key.lower())
        return user

    def user_program_ids(self, user_id: str) -> list[str]:
        """Program sessions assigned to a user: direct subscriptions ∪ its groups' programs."""
        out = dict(self.direct_programs.get(user_id, {}))
        for group_id in self.memberships.get(user_id, {}):
            out.update(self.group_programs.get(group_id, {}))
        return list(out)

    def program_user_ids(self, session_id: str) -> list[str]:
        """Users assigned to a program session, directly or through an invited group."""
        session = self.program_sessions[session_id]
        out = dict(session.users)
        for group_id in self.program_groups.get(session_id, {}):
            for user_id in self.members.get(group_id, {}):
                out[user_id] = None
        return list(out)

    def progress_of(self, user_id: str, session_id: str) -> ProgramProgress:
        return self.program_progress.get((user_id, session_id), _NO_PROGRESS)

    def progress_for_update(self, user_id: str, session_id: str) -> ProgramProgress:
        key = (user_id, session_id)
        rec = self.program_progress.get(key)
        if rec is None:
            rec = self.program_progress[key] = ProgramProgress()
        return rec

    def active_user_ids(self) -> list[str]:
        return [u.id for u in self.users.values() if not u.deleted]

    # ------------------------------------------------------------------ mutations
    def add_user(self, user: User) -> None:
        self.users[user.id] = user
        self.users_by_mail[user.mail.lower()] = user
        if user.manager_id:
            self.subordinates.setdefault(user.manager_id, []).append(user.id)

    def unique_mail(self, local: str) -> str:
        mail = f"{local}@{self.domain}"
        n = 1
        while mail in self.users_by_mail:
            n += 1
            mail = f"{local}{n}@{self.domain}"
        return mail

    def add_group(self, group: Group) -> None:
        self.groups[group.id] = group
        self.members.setdefault(group.id, {})
        self.catalog.setdefault(group.id, {t: {} for t in CATALOG_TYPES})

    def join(self, user_id: str, group_id: str, role: str) -> None:
        """Adds or re-roles a membership: a user has exactly one role per group."""
        self.memberships.setdefault(user_id, {})[group_id] = role
        self.members.setdefault(group_id, {})[user_id] = role

    def leave(self, user_id: str, group_id: str) -> None:
        self.memberships.get(user_id, {}).pop(group_id, None)
        self.members.get(group_id, {}).pop(user_id, None)

    def delete_user(self, user_id: str, at: int) -> None:
        """Soft delete: the user stays readable (deleted=true) and keeps attempts and path
        enrolments, but leaves every group and individual program subscription."""
        user = self.users[user_id]
        user.deleted = True
        user.deleted_at = at
        for group_id in list(self.memberships.get(user_id, {})):
            self.leave(user_id, group_id)
        for session_id in self.direct_programs.pop(user_id, {}):
            self.program_sessions[session_id].users.pop(user_id, None)

    def hard_delete_user(self, user_id: str, at: int | None = None) -> None:
        """A delete the v1 API does not report: the user vanishes from getUsers (even with
        ``deleted=true``) and getUser answers not found. What a correct pipeline holds is the
        soft-deleted user (``deleted = true``), so ``truth()`` shows exactly that."""
        with self.lock:
            self.delete_user(user_id, self.now if at is None else at)
            self.users[user_id].hard_deleted = True

    def subscribe(self, session_id: str, user_id: str) -> None:
        self.program_sessions[session_id].users[user_id] = None
        self.direct_programs.setdefault(user_id, {})[session_id] = None

    def invite_group(self, session_id: str, group_id: str) -> None:
        self.group_programs.setdefault(group_id, {})[session_id] = None
        self.program_groups.setdefault(session_id, {})[group_id] = None

    def add_attempt(self, attempt: Attempt) -> None:
        """Indexes an attempt by course and by user; both indexes share one list per pair."""
        by_user = self.attempts_by_course.setdefault(attempt.course_id, {})
        attempts = by_user.get(attempt.user_id)
        if attempts is None:
            attempts = by_user[attempt.user_id] = []
            self.attempts_by_user.setdefault(attempt.user_id, {})[attempt.course_id] = attempts
        attempts.append(attempt)
        self.n_attempts += 1

    def hard_delete_attempt(self, attempt_id: str) -> Attempt:
        """An attempt dropped without a trace: no route returns it any more (v2's
        ``/courses/stats`` included, so a full read notices). What a correct v2 warehouse holds
        is the attempt flagged deleted, so ``truth()`` keeps it with ``deleted: true`` (v1
        reads attempts incrementally and cannot notice). KeyError if there is no such attempt."""
        with self.lock:
            for course_id, by_user in self.attempts_by_course.items():
                for user_id, attempts in by_user.items():
                    found = next((a for a in attempts if a.id == attempt_id), None)
                    if found is None:
                        continue
                    attempts.remove(found)  # the list both indexes share
                    if not attempts:  # the pair has no attempt left: v1 lists no stats for it
                        del by_user[user_id]
                        del self.attempts_by_user[user_id][course_id]
                        if not by_user:
                            del self.attempts_by_course[course_id]
                        if not self.attempts_by_user[user_id]:
                            del self.attempts_by_user[user_id]
                    self.n_attempts -= 1
                    self.hard_deleted_attempts[found.id] = found
                    return found
        raise KeyError(attempt_id)

    def enrol(self, enrolment: Enrolment) -> None:
        self.enrolments.setdefault(enrolment.session_id, {})[enrolment.user_id] = enrolment
        self.enrolments_by_user.setdefault(enrolment.user_id, {})[enrolment.session_id] = enrolment

    # ------------------------------------------------------------------ truth
    def truth(self) -> dict[str, Any]:
        """The company's true current state in the canonical form of docs/architecture.md."""
        with self.lock:
            out: dict[str, Any] = {name: list(rows) for name, rows in self.truth_tables()}
            out["company_id"] = self.company_id
            out["now"] = iso(self.now)
        return out

    def truth_tables(self) -> Iterator[tuple[str, Iterator[dict[str, Any]]]]:
        """(table, rows) pairs; the caller holds `lock` while consuming them. The v1 tables
        first, then the tables only API v2 serves (v2_data.V2_TRUTH_TABLES)."""
        for name in TRUTH_TABLES:
            yield name, getattr(self, f"_truth_{name}")()
        for name in v2_data.V2_TRUTH_TABLES:
            yield name, v2_data.truth_rows(self, name)

    def _truth_courses(self) -> Iterator[dict[str, Any]]:
        for c in self.courses.values():
            yield {
                "_id": c.id,
                "name": c.name,
                "status": c.status,
                "author": c.author_mail,
                "author_id": self._author_id(c.author_mail),
                "creation_date": iso(c.creation),
                "modification_date": iso(c.modification),
                "group": c.group_id,
                "lang": c.lang,
                "course_duration": c.duration,
            }

    def _truth_users(self) -> Iterator[dict[str, Any]]:
        for u in self.users.values():
            yield {
                "_id": u.id,
                "mail": u.mail,
                "first_name": u.first_name,
                "last_name": u.last_name,
                "primary_group_id": u.primary_group_id,
                "deleted": u.deleted,
            }

    def _truth_groups(self) -> Iterator[dict[str, Any]]:
        for g in self.groups.values():
            yield {"_id": g.id, "name": g.name, "parent": g.parent, "public": g.public}

    def _truth_user_groups(self) -> Iterator[dict[str, Any]]:
        for group_id, members in self.members.items():
            for user_id, role in members.items():
                yield {"user_id": user_id, "group_id": group_id, "role": role}

    def _truth_group_catalog(self) -> Iterator[dict[str, Any]]:
        for group_id, by_type in self.catalog.items():
            for item_type in CATALOG_TYPES:
                for item_id in by_type[item_type]:
                    yield {"group_id": group_id, "item_type": item_type, "item_id": item_id}

    def _truth_group_programs(self) -> Iterator[dict[str, Any]]:
        for group_id, sessions in self.group_programs.items():
            for session_id in sessions:
                yield {"group_id": group_id, "program_session_id": session_id}

    def _truth_program_sessions(self) -> Iterator[dict[str, Any]]:
        for s in self.program_sessions.values():
            yield {
                "_id": s.id,
                "name": s.name,
                "start_date": iso(s.start),
                "end_date": iso(s.end),
                "program_template": s.template_id,
                "modified_at": iso(s.modified_at),
            }

    def _truth_paths(self) -> Iterator[dict[str, Any]]:
        for p in self.paths.values():
            yield {
                "_id": p.id,
                "name": p.name,
                "author_id": p.author_id,
                "group_id": p.group_id,
                "created_at": iso(p.created_at),
                "modified_at": iso(p.modified_at),
            }

    def _truth_path_sessions(self) -> Iterator[dict[str, Any]]:
        for s in self.path_sessions.values():
            yield {
                "_id": s.id,
                "path_id": s.path_id,
                "name": s.name,
                "group_id": s.group_id,
                "start_date": iso(s.start),
                "end_date": iso(s.end),
                "created_at": iso(s.created_at),
                "modified_at": iso(s.modified_at),
            }

    def _truth_user_path_sessions(self) -> Iterator[dict[str, Any]]:
        for by_user in self.enrolments.values():
            for e in by_user.values():
                yield {
                    "user_id": e.user_id,
                    "path_id": e.path_id,
                    "path_session_id": e.session_id,
                    "progress": e.progress,
                    "score": e.score,
                    "completed_at": iso(e.completed_at),
                    "total_time_spent_in_seconds": e.time_s,
                }

    def _truth_user_courses(self) -> Iterator[dict[str, Any]]:
        for by_user in self.attempts_by_course.values():
            for attempts in by_user.values():
                for a in attempts:
                    yield self._truth_attempt(a)
        for a in self.hard_deleted_attempts.values():
            # gone from the API; a correct warehouse keeps the row, flagged deleted (only these
            # rows carry the key: the truth of a company without hard deletes keeps its shape)
            yield {**self._truth_attempt(a), "deleted": True}

    @staticmethod
    def _truth_attempt(a: Attempt) -> dict[str, Any]:
        return {
            "_id": a.id,
            "user_id": a.user_id,
            "course_id": a.course_id,
            "progress": a.progress,
            "score": a.score,
            "completed_at": iso(a.completed_at),
            "first_activity": iso(a.first_activity),
            "last_activity": iso(a.last_activity),
            "global_time": a.global_time,
            "path": a.path,
            "path_session": a.path_session,
        }

    def _truth_user_programs(self) -> Iterator[dict[str, Any]]:
        for user_id in self.users:
            for session_id in self.user_program_ids(user_id):
                p = self.progress_of(user_id, session_id)
                yield {
                    "user_id": user_id,
                    "program_session_id": session_id,
                    "progress": p.progress,
                    "total_time_spent_in_seconds": p.time_s,
                    "score": p.score,
                    "completed_at": iso(p.completed_at),
                }

    def counts(self) -> dict[str, int]:
        """Sizes at a glance (CLI banner, bench)."""
        with self.lock:
            return {
                "users": len(self.users),
                "groups": len(self.groups),
                "courses": len(self.courses),
                "program_sessions": len(self.program_sessions),
                "paths": len(self.paths),
                "path_sessions": len(self.path_sessions),
                "attempts": self.n_attempts,
            }
