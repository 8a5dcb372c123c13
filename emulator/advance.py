"""One simulated day of company life. Everything that changes is stamped inside the day
(old now, new now], and content edits carry the new `now`, so incremental filters
(`modifiedAfter`, `lastActivityAtAfter`) see exactly what changed."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from .clock import DAY, HOUR, MINUTE
from .generate import (
    assign_groups,
    new_course,
    new_path_session,
    new_program_session,
    new_user,
    play,
    role_draw,
)
from .model import Enrolment

if TYPE_CHECKING:
    from .company import Company


def _some(rng: random.Random, base: float) -> int:
    """An integer count with mean ≈ base, so tiny companies still change now and then."""
    whole = int(base)
    return whole + (1 if rng.random() < base - whole else 0)


def simulate_day(c: Company, rng: random.Random) -> None:
    t0 = c.now
    t1 = t0 + DAY
    c.now = t1

    def when() -> int:
        return rng.randint(t0 + 1, t1)

    n_users = len(c.users)
    active = c.active_user_ids()
    people = [c.users[u] for u in active] or list(c.users.values())
    group_ids = list(c.groups)
    published = [x for x in c.courses.values() if x.status == "published"]

    # learner activity: ~1% of active users a day
    for user_id in rng.sample(active, min(len(active), max(1, round(len(active) * 0.01)))):
        _learn(c, rng, user_id, published, when)

    # arrivals and departures
    for _ in range(_some(rng, max(0.5, n_users * 0.001))):
        manager = rng.choice(active) if active and rng.random() < 0.75 else None
        user = new_user(c, rng, when(), manager)
        c.add_user(user)
        assign_groups(c, rng, user, group_ids)
        if c.program_sessions and rng.random() < 0.3:
            c.subscribe(rng.choice(list(c.program_sessions)), user.id)
    for _ in range(_some(rng, max(0.4, n_users * 0.0005))):
        candidates = c.active_user_ids()
        if len(candidates) > 1:
            c.delete_user(rng.choice(candidates), when())

    # membership joins and leaves
    for _ in range(_some(rng, max(1.0, n_users * 0.002))):
        user_id = rng.choice(c.active_user_ids() or [""])
        groups = c.memberships.get(user_id, {})
        if user_id and len(groups) < 3:
            free = [g for g in group_ids if g not in groups]
            if free:
                c.join(user_id, rng.choice(free), role_draw(rng))
    for _ in range(_some(rng, max(1.0, n_users * 0.002))):
        user_id = rng.choice(c.active_user_ids() or [""])
        user = c.users.get(user_id)
        groups = c.memberships.get(user_id, {})
        leavable = [g for g in groups if user is not None and g != user.primary_group_id]
        if leavable:
            c.leave(user_id, rng.choice(leavable))

    # catalog adds and removals
    for _ in range(_some(rng, 1 + len(group_ids) * 0.02)):
        entry = c.catalog[rng.choice(group_ids)]
        kind = rng.choice(("course", "course", "path", "program_session"))
        pool = (
            [x.id for x in published]
            if kind == "course"
            else list(c.paths if kind == "path" else c.program_sessions)
        )
        if pool:
            entry[kind][rng.choice(pool)] = None
    for _ in range(_some(rng, 0.5 + len(group_ids) * 0.02)):
        entry = c.catalog[rng.choice(group_ids)]
        kind = rng.choice(("course", "course", "path", "program_session"))
        if entry[kind]:
            entry[kind].pop(rng.choice(list(entry[kind])))

    # content edits: modified courses and paths carry the new now
    for _ in range(_some(rng, 1 + len(c.courses) * 0.005)):
        if not c.courses:
            break
        course = c.courses[rng.choice(list(c.courses))]
        r = rng.random()
        if course.status == "draft" and r < 0.5:
            course.status = "published"
        elif course.status == "published" and r < 0.1:
            course.status = "archived"  # archived, never deleted
        elif course.status == "archived" and r < 0.3:
            course.status = "published"
        else:
            course.duration = max(1, course.duration + rng.randint(-5, 10))
        course.modification = t1
    if rng.random() < 0.3 and c.users:
        created = when()
        course = new_course(
            c, rng, created, created, rng.choice(("draft", "published")), people, group_ids
        )
        c.courses[course.id] = course
    for _ in range(_some(rng, 0.5 + len(c.paths) * 0.01)):
        if not c.paths:
            break
        path = c.paths[rng.choice(list(c.paths))]
        if published and rng.random() < 0.5:
            extra = rng.choice(published)
            if all(step[0] != extra.id for step in path.steps):
                path.steps.append((extra.id, "course", extra.name))
        path.modified_at = t1
    if c.paths and rng.random() < 0.1:
        path = c.paths[rng.choice(list(c.paths))]
        new_path_session(c, rng, path, when(), people, group_ids)
        path.modified_at = t1

    # program sessions now and then; group invitations
    if c.courses and rng.random() < 0.15:
        start = when()
        session = new_program_session(c, rng, start, None, start, start, people)
        c.program_sessions[session.id] = session
        for user_id in rng.sample(active, min(len(active), rng.randint(0, max(2, n_users // 100)))):
            c.subscribe(session.id, user_id)
        if len(group_ids) > 1:
            c.invite_group(session.id, rng.choice(group_ids[1:]))
    if c.program_sessions and rng.random() < 0.2:
        c.invite_group(rng.choice(list(c.program_sessions)), rng.choice(group_ids))


def _learn(c: Company, rng: random.Random, user_id: str, published: list, when) -> None:  # noqa: ANN001
    """One learner's day: continue or start a course, move a program or a path forward."""
    by_course = c.attempts_by_user.get(user_id, {})
    open_attempts = [a for lst in by_course.values() for a in lst if a.completed_at is None]
    if open_attempts and rng.random() < 0.6:
        a = rng.choice(open_attempts)
        a.last_activity = when()
        a.global_time += rng.randint(MINUTE, HOUR)
        a.progress = min(100, a.progress + rng.randint(5, 60))
        if a.progress == 100:
            a.completed_at = a.last_activity
            a.score = rng.randint(0, 100) if rng.random() < 0.9 else None
    elif published:
        course = rng.choice(published)
        play(c, rng, user_id, course.id, when(), 1)

    if rng.random() < 0.3:
        pending = [
            s for s in c.user_program_ids(user_id) if c.progress_of(user_id, s).progress < 100
        ]
        if pending:
            p = c.progress_for_update(user_id, rng.choice(pending))
            p.started_at = p.started_at or when()
            p.progress = min(100, p.progress + rng.randint(10, 50))
            p.time_s += rng.randint(60, 3_600)
            if p.progress == 100:
                p.completed_at = max(p.started_at, when())
                p.score = rng.randint(30, 100)

    if rng.random() < 0.3:
        mine = [e for e in c.enrolments_by_user.get(user_id, {}).values() if e.progress < 100]
        if mine:
            e = rng.choice(mine)
            e.started_at = e.started_at or when()
            e.progress = min(100, e.progress + rng.randint(10, 50))
            e.time_s = round(e.time_s + rng.uniform(60, 3_600), 3)
            steps = [
                s[0] for s in c.paths[e.path_id].steps if s[1] == "course" and s[0] in c.courses
            ]
            if steps:
                play(c, rng, user_id, rng.choice(steps), when(), 1, e.path_id, e.session_id)
            if e.progress == 100:
                e.completed_at = max(e.started_at, when())
                e.score = rng.randint(40, 100)
        elif c.path_sessions and rng.random() < 0.3:
            session = c.path_sessions[rng.choice(list(c.path_sessions))]
            if session.id not in c.enrolments_by_user.get(user_id, {}):
                c.enrol(Enrolment(user_id, session.id, session.path_id, when()))
