"""Builds a company from a seed: people, groups, content, assignments, then learner activity.
Every draw comes from one seeded rng in a fixed order, and every collection iterated is an
insertion-ordered dict or list (never a set), so a seed always yields the same company."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from .clock import DAY, HOUR, MINUTE, YEAR
from .model import Attempt, Course, Enrolment, Group, Path, PathSession, ProgramSession, User
from .names import (
    COMPANY_NAMES,
    COURSE_PREFIXES,
    COURSE_TOPICS,
    DEPARTMENTS,
    FIRST_NAMES,
    LANGS,
    LAST_NAMES,
    LOCATIONS,
    PATH_KINDS,
    PROGRAM_KINDS,
    REGIONS,
    SEASONS,
    mail_local,
)

if TYPE_CHECKING:
    from .company import Company

SIZES: dict[str, dict[str, Any]] = {
    "small": {
        "users": 50,
        "groups": 8,
        "courses": 30,
        "program_sessions": 5,
        "paths": 6,
        "attempts_per_user": 6.0,
    },
    "medium": {
        "users": 2_000,
        "groups": 60,
        "courses": 400,
        "program_sessions": 40,
        "paths": 60,
        "attempts_per_user": 12.5,
    },
    "large": {
        "users": 20_000,
        "groups": 400,
        "courses": 3_000,
        "program_sessions": 300,
        "paths": 500,
        "attempts_per_user": 12.5,
    },
}
DELETED_FRACTION = 0.03


def resolve_sizes(size: str, overrides: dict[str, Any]) -> dict[str, Any]:
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, not {size!r}")
    sizes = dict(SIZES[size])
    unknown = set(overrides) - set(sizes)
    if unknown:
        raise TypeError(f"unknown size override(s): {sorted(unknown)}; known: {sorted(sizes)}")
    sizes.update({k: v for k, v in overrides.items() if v is not None})
    for key, value in sizes.items():
        if value < 0 or (key != "attempts_per_user" and int(value) != value):
            raise ValueError(f"{key} must be a non-negative integer")
    if sizes["users"] < 1 or sizes["groups"] < 1:
        raise ValueError("a company needs at least one user and one group")
    return sizes


def role_draw(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.85:
        return "learner"
    if r < 0.91:
        return "coach"
    if r < 0.97:
        return "author"
    return "admin"


def html_description(rng: random.Random, title: str) -> str:
    goal = rng.choice(("understand", "practise", "master", "review"))
    esc = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        f"<p><strong>{esc}</strong>: learn to {goal} the essentials.</p>"
        f"<ul><li>{rng.randint(2, 9)} short modules</li><li>Quiz &amp; wrap-up</li></ul>"
    )


def new_user(c: Company, rng: random.Random, created: int, manager_id: str | None) -> User:
    first = rng.choice(FIRST_NAMES)
    last = rng.choice(LAST_NAMES)
    n = len(c.users) + 1
    login = rng.randint(created, c.now) if rng.random() < 0.9 else None
    return User(
        id=c.ids.new(created),
        mail=c.unique_mail(mail_local(first, last)),
        first_name=first,
        last_name=last,
        primary_group_id=None,
        custom=f"EMP{n:05d}",
        created_at=created,
        last_login_at=login,
        manager_id=manager_id,
        department=rng.choice(DEPARTMENTS),
        location=rng.choice(LOCATIONS),
        lang=rng.choice(LANGS),
    )


def assign_groups(c: Company, rng: random.Random, user: User, group_ids: list[str]) -> None:
    """1–3 groups, one role each; sub-groups preferred, the root now and then."""
    k = rng.choice((1, 1, 1, 2, 2, 3))
    pool = group_ids[1:] if len(group_ids) > 1 else group_ids
    chosen = rng.sample(pool, min(k, len(pool)))
    if len(group_ids) > 1 and rng.random() < 0.05:
        chosen[-1] = group_ids[0]
        chosen = list(dict.fromkeys(chosen))
    for group_id in chosen:
        c.join(user.id, group_id, role_draw(rng))
    user.primary_group_id = chosen[0]


def new_course(
    c: Company,
    rng: random.Random,
    created: int,
    modified: int,
    status: str,
    users: list[User],
    group_ids: list[str],
) -> Course:
    author = rng.choice(users)
    name = f"{rng.choice(COURSE_PREFIXES)} {rng.choice(COURSE_TOPICS)}"
    name = f"{name} #{len(c.courses) + 1}"
    lang = rng.choice(LANGS)
    translations = tuple(
        (tl, rng.random() < 0.7, (rng.choice(users).mail,))
        for tl in rng.sample([x for x in LANGS if x != lang], rng.choice((0, 0, 1, 2)))
    )
    co_authors = tuple(
        dict.fromkeys(rng.choice(users).mail for _ in range(rng.choice((0, 0, 1, 2))))
    )
    skills = tuple(rng.sample(c.skills, rng.choice((0, 1, 2))))
    return Course(
        id=c.ids.new(created),
        name=name,
        author_mail=author.mail,
        description=html_description(rng, name),
        status=status,
        creation=created,
        modification=modified,
        group_id=rng.choice(group_ids),
        lang=lang,
        duration=rng.randint(5, 120),
        co_authors=co_authors,
        translations=translations,
        skills=skills,
    )


def new_program_session(
    c: Company,
    rng: random.Random,
    start: int,
    end: int | None,
    created: int,
    modified: int,
    users: list[User],
) -> ProgramSession:
    kind = rng.choice(PROGRAM_KINDS)
    year = 1970 + start // YEAR
    name = f"{kind} – {rng.choice(SEASONS)} {year} #{len(c.program_sessions) + 1}"
    playable = [x.id for x in c.courses.values() if x.status == "published"] or list(c.courses)
    modules: list[tuple[str, str]] = [
        (course_id, "course")
        for course_id in rng.sample(playable, min(len(playable), rng.randint(1, 4)))
    ]
    for _ in range(rng.choice((0, 0, 1, 2))):
        modules.insert(
            rng.randint(0, len(modules)), (c.ids.new(created), rng.choice(("webinar", "classroom")))
        )
    return ProgramSession(
        id=c.ids.new(created),
        name=name,
        author_mail=rng.choice(users).mail,
        description=html_description(rng, kind),
        template_id=rng.choice(c.templates),
        tutors=tuple(dict.fromkeys(rng.choice(users).mail for _ in range(rng.randint(1, 2)))),
        lang=rng.choice(LANGS),
        start=start,
        end=end,
        created_at=created,
        modified_at=modified,
        duration_hours=rng.choice((None, 4.0, 7.5, 12.0, 21.0, 42.0)),
        modules=tuple(modules),
        user_limit=rng.choice((None, None, 20, 50)),
    )


def new_path(
    c: Company,
    rng: random.Random,
    created: int,
    modified: int,
    active: list[User],
    group_ids: list[str],
) -> Path:
    playable = [x for x in c.courses.values() if x.status == "published"] or list(
        c.courses.values()
    )
    steps: list[tuple[str, str, str]] = [
        (x.id, "course", x.name)
        for x in rng.sample(playable, min(len(playable), rng.randint(2, 6)))
    ]
    if rng.random() < 0.25:
        steps.insert(
            rng.randint(0, len(steps)), (c.ids.new(created), "classroom", "Classroom session")
        )
    return Path(
        id=c.ids.new(created),
        name=f"{rng.choice(PATH_KINDS)} #{len(c.paths) + 1}",
        author_id=rng.choice(active).id,
        description=f"<p>{rng.choice(PATH_KINDS)} for {rng.choice(DEPARTMENTS)}.</p>",
        group_id=rng.choice(group_ids),
        created_at=created,
        modified_at=modified,
        lang=rng.choice(LANGS),
        steps=steps,
    )


def new_path_session(
    c: Company,
    rng: random.Random,
    path: Path,
    created: int,
    active: list[User],
    group_ids: list[str],
) -> PathSession:
    start = min(c.now, created + rng.randint(0, 14) * DAY)
    end = rng.randint(start, c.now) if rng.random() < 0.5 else None
    session = PathSession(
        id=c.ids.new(created),
        path_id=path.id,
        name=f"{path.name} – session {len(path.session_ids) + 1}",
        group_id=path.group_id if rng.random() < 0.7 else rng.choice(group_ids),
        instructor_ids=tuple(
            dict.fromkeys(rng.choice(active).id for _ in range(rng.randint(1, 2)))
        ),
        start=start,
        end=end,
        created_at=created,
        modified_at=rng.randint(created, c.now),
    )
    c.path_sessions[session.id] = session
    path.session_ids.append(session.id)
    return session


def play(
    c: Company,
    rng: random.Random,
    user_id: str,
    course_id: str,
    t0: int,
    n: int,
    path: str | None = None,
    path_session: str | None = None,
) -> None:
    """`n` successive attempts from t0: earlier ones completed, the last maybe in progress."""
    now = c.now
    t = t0
    for j in range(n):
        if t >= now:
            return
        first = t
        last = min(now, first + rng.randint(MINUTE, 10 * DAY))
        done = j < n - 1 or rng.random() < 0.55
        spent = min(rng.randint(30_000, 2 * HOUR), last - first + MINUTE)
        if done:
            a = Attempt(
                c.ids.new(first), user_id, course_id, 100,
                rng.randint(0, 100) if rng.random() < 0.9 else None, last, first, last, spent,
                path, path_session,
            )  # fmt: skip
        else:
            a = Attempt(
                c.ids.new(first), user_id, course_id, rng.randint(0, 99), None, None, first,
                last, spent, path, path_session,
            )  # fmt: skip
        c.add_attempt(a)
        t = last + rng.randint(MINUTE, 30 * DAY)


def build(c: Company) -> None:
    rng = random.Random(f"learning360-emulator:{c.seed}:generate")
    sizes = c.sizes
    now = c.now
    origin = now - 3 * YEAR

    c.name = rng.choice(COMPANY_NAMES)
    c.domain = mail_local("", c.name).strip(".") + ".example.com"
    c.skills = [c.ids.new(origin) for _ in range(12)]
    c.templates = [c.ids.new(origin) for _ in range(max(1, sizes["program_sessions"] // 3))]

    # groups: one root (no parent), sub-groups under the root or an earlier sub-group
    root = Group(c.ids.new(origin), c.name, None, False, "HQ", origin)
    c.add_group(root)
    c.root_group_id = root.id
    names: dict[str, None] = {root.name: None}
    for i in range(1, sizes["groups"]):
        name = f"{rng.choice(DEPARTMENTS)} – {rng.choice(REGIONS)}"
        if name in names:
            name = f"{name} {i}"
        names[name] = None
        ids = list(c.groups)
        parent = root.id if rng.random() < 0.5 else rng.choice(ids)
        created = rng.randint(origin, now - 30 * DAY)
        c.add_group(
            Group(c.ids.new(created), name, parent, rng.random() < 0.3, f"Unit {100 + i}", created)
        )
    group_ids = list(c.groups)

    # users, each managed (maybe) by an earlier one: no cycles
    user_ids: list[str] = []
    for i in range(sizes["users"]):
        manager = user_ids[rng.randrange(i)] if i and rng.random() < 0.75 else None
        user = new_user(c, rng, rng.randint(origin, now - 30 * DAY), manager)
        c.add_user(user)
        user_ids.append(user.id)
        assign_groups(c, rng, user, group_ids)

    # courses
    people = list(c.users.values())
    for _ in range(sizes["courses"]):
        created = rng.randint(origin, now - DAY)
        modified = created if rng.random() < 0.3 else rng.randint(created, now - HOUR)
        r = rng.random()
        status = "published" if r < 0.7 else "draft" if r < 0.9 else "archived"
        course = new_course(c, rng, created, modified, status, people, group_ids)
        c.courses[course.id] = course
    course_list = list(c.courses.values())

    # program sessions: direct subscriptions, invited groups, progress per assigned pair
    direct_avg = max(2, sizes["users"] // 100)
    for _ in range(sizes["program_sessions"]):
        start = rng.randint(origin + 60 * DAY, now - DAY)
        end = rng.randint(min(start + 7 * DAY, now), now) if rng.random() < 0.5 else None
        created = start - rng.randint(1, 30) * DAY
        session = new_program_session(
            c, rng, start, end, created, rng.randint(created, now), people
        )
        c.program_sessions[session.id] = session
        for user_id in rng.sample(user_ids, min(len(user_ids), rng.randint(0, 2 * direct_avg))):
            c.subscribe(session.id, user_id)
        for group_id in rng.sample(
            group_ids[1:] or group_ids, min(len(group_ids), rng.choice((0, 1, 1, 2)))
        ):
            c.invite_group(session.id, group_id)
        for user_id in c.program_user_ids(session.id):
            r = rng.random()
            if r < 0.25:
                continue  # not started: no progress record yet
            p = c.progress_for_update(user_id, session.id)
            p.started_at = rng.randint(start, now)
            if r < 0.6:
                p.progress = 100
                p.completed_at = rng.randint(p.started_at, now)
                p.score = rng.randint(30, 100)
            else:
                p.progress = rng.randint(1, 99)
            p.time_s = p.progress * rng.randint(20, 90)

    # paths, their sessions, enrolments (with attempts played inside the path)
    for _ in range(sizes["paths"]):
        created = rng.randint(origin, now - 10 * DAY)
        path = new_path(c, rng, created, rng.randint(created, now), people, group_ids)
        c.paths[path.id] = path
        for _ in range(rng.choice((1, 1, 2, 3))):
            new_path_session(c, rng, path, rng.randint(created, now - DAY), people, group_ids)
    n_sessions = max(1, len(c.path_sessions))
    per_session = max(2, int(sizes["users"] * 0.6 / n_sessions))
    for session in c.path_sessions.values():
        path = c.paths[session.path_id]
        steps = [s[0] for s in path.steps if s[1] == "course"]
        for user_id in rng.sample(user_ids, min(len(user_ids), rng.randint(0, 2 * per_session))):
            e = Enrolment(user_id, session.id, path.id, rng.randint(session.start, now))
            r = rng.random()
            if r < 0.7:
                e.started_at = rng.randint(e.enrolled_at, now)
                e.time_s = round(rng.uniform(30, 20_000), 3)
                if r < 0.35:
                    e.progress, e.score = 100, rng.randint(40, 100)
                    e.completed_at = rng.randint(e.started_at, now)
                else:
                    e.progress = rng.randint(1, 99)
                for course_id in steps:
                    if rng.random() < e.progress / 100 + 0.1:
                        play(
                            c,
                            rng,
                            user_id,
                            course_id,
                            rng.randint(e.started_at, now),
                            1,
                            path.id,
                            session.id,
                        )
            c.enrol(e)

    # free play: the rest of the attempt budget, spread over users
    budget = int(sizes["users"] * sizes["attempts_per_user"]) - c.n_attempts
    playable = [x for x in course_list if x.status != "draft"] or course_list
    if budget > 0 and playable:
        mean_courses = budget / len(user_ids) / 1.25
        hi = max(0, int(2 * mean_courses))
        frac = 2 * mean_courses - hi
        for user_id in user_ids:
            user = c.users[user_id]
            k = rng.randint(0, hi) + (1 if rng.random() < frac / 2 else 0)
            played = c.attempts_by_user.get(user_id, {})
            for _ in range(k):
                course = rng.choice(playable)
                if course.id in played:
                    continue
                t0 = rng.randint(max(course.creation, user.created_at), now - MINUTE)
                play(c, rng, user_id, course.id, t0, 2 if rng.random() < 0.25 else 1)

    # catalogs: courses, paths, program sessions per group
    path_ids = list(c.paths)
    session_ids = list(c.program_sessions)
    published = [x.id for x in course_list if x.status == "published"]
    for group_id in group_ids:
        entry = c.catalog[group_id]
        for course_id in rng.sample(
            published, min(len(published), rng.randint(1, max(2, min(40, len(published) // 5))))
        ):
            entry["course"][course_id] = None
        for path_id in rng.sample(
            path_ids, min(len(path_ids), rng.randint(0, max(1, min(10, len(path_ids) // 5))))
        ):
            entry["path"][path_id] = None
        for session_id in rng.sample(
            session_ids,
            min(len(session_ids), rng.randint(0, max(1, min(5, len(session_ids) // 5)))),
        ):
            entry["program_session"][session_id] = None

    # a few deleted users (they keep attempts and path enrolments)
    n_deleted = max(1, round(len(user_ids) * DELETED_FRACTION)) if len(user_ids) >= 5 else 0
    for user_id in rng.sample(user_ids[1:], n_deleted):
        user = c.users[user_id]
        c.delete_user(user_id, rng.randint(user.created_at, now))
