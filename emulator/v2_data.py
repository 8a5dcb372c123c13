"""Records only API v2 shows (skills, skill powers, certificate outlines, user certificates,
custom fields, classrooms, classroom slots, slot registrations), *derived* from the company's
state rather than stored: ids are hashes of what they stand for (a 4-byte time prefix plus 16
hex digits, so 24-hex like every ObjectId), and every value follows from the records v1 serves.
So v1 and v2 always describe one company, `advance()` needs no extra bookkeeping, and a seed
still yields the same company (no draw is taken from the generator's rng).

What each record is made of:
- skills: the company's skill ids (`company.skills`, the ids v1 courses list under `skills`),
  in one skill library; the last one of twelve is archived.
- skill powers: one per (user, skill of a course the user attempted); `validated` once an
  attempt on such a course was completed with a score ≥ 50, `pendingValidation` when completed
  otherwise, else `toAssess`.
- certificate outlines: one per path (v1's `certificatePDF` names it); user certificates: one
  per completed path enrolment, delivered at its completion, valid 12, 24 or unlimited months.
- custom fields: the users' `Department` and `Location` (string fields, the ids v1 getUser's
  `customFields` carry); values from the user record.
- classrooms: each `classroom` step of a path and each `classroom` module of a program session
  (same id); one slot per session of the path (context `path`) or per program session (context
  `program`); registrations: the session's enrolled users, or the program's assigned users.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import fractional
from .clock import DAY, HOUR, iso
from .model import Enrolment, Path, PathSession, ProgramSession
from .names import DEPARTMENTS, LOCATIONS

if TYPE_CHECKING:
    from .company import Company

V2_TRUTH_TABLES = (
    "skills",
    "skill_powers",
    "certificate_outlines",
    "user_certificates",
    "custom_fields",
    "user_custom_fields",
    "classrooms",
    "classroom_slots",
    "classroom_slot_registrations",
)
SKILL_NAMES = (
    "Active listening",
    "Negotiation",
    "Data literacy",
    "Public speaking",
    "Project management",
    "Customer empathy",
    "Time management",
    "Coaching",
    "Conflict resolution",
    "Critical thinking",
    "Workplace safety",
    "Legacy tooling",
)
#: (name, authorized values) of the users' custom fields, all of type `string`
CUSTOM_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Department", tuple(DEPARTMENTS)),
    ("Location", tuple(LOCATIONS)),
)
VALIDITY_MONTHS = (None, 12, 24)


def oid(at_ms: int, *parts: str) -> str:
    """A 24-hex id: seconds of `at_ms`, then 16 hex digits of a hash of `parts`."""
    digest = hashlib.md5(":".join(parts).encode()).hexdigest()[:16]
    return f"{max(0, at_ms) // 1000:08x}{digest}"


def _crc(*parts: str) -> int:
    return zlib.crc32(":".join(parts).encode())


def add_months(ms: int, months: int) -> int:
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    year, month = divmod(dt.month - 1 + months, 12)
    day = min(dt.day, 28)
    moved = dt.replace(year=dt.year + year, month=month + 1, day=day)
    return int(moved.timestamp() * 1000) // 1000 * 1000 + ms % 1000


def custom_field_id(company_id: str, name: str) -> str:
    """The id v1's getUser `customFields` uses for a field (v1_routes computes it the same way)."""
    return hashlib.md5(f"{company_id}:{name}".encode()).hexdigest()[:24]


def enrolment_id(c: Company, e: Enrolment) -> str:
    """The v2 enrolment `_id` (PathEnrollmentDTO and PathSessionUserStatDTO share it)."""
    return oid(e.enrolled_at, c.company_id, "enrolment", e.session_id, e.user_id)


def enrolment_status(c: Company, e: Enrolment) -> str:
    """The detailed status, as v1's path-session stats report it."""
    if e.progress == 100:
        return "successful"
    s = c.path_sessions[e.session_id]
    if s.start > c.now:
        return "sessionNotOpened"
    if s.end is not None and s.end < c.now:
        return "late"
    return "onTime" if e.started_at is not None else "notYetStarted"


def all_enrolments(c: Company) -> Iterator[Enrolment]:
    for by_user in c.enrolments.values():
        yield from by_user.values()


# ---------------------------------------------------------------------- skills
@dataclass(slots=True)
class Skill:
    id: str
    name: str
    status: str
    library_id: str
    created_at: int
    updated_at: int


@dataclass(slots=True)
class Power:
    id: str
    skill_id: str
    user_id: str
    status: str
    created_at: int
    updated_at: int


def skill_library_id(c: Company) -> str:
    first = c.skills[0] if c.skills else c.company_id
    return oid(int(first[:8], 16) * 1000, c.company_id, "skill-library")


def skills(c: Company) -> list[Skill]:
    library = skill_library_id(c)
    out = []
    for i, skill_id in enumerate(c.skills):
        at = int(skill_id[:8], 16) * 1000
        status = "archived" if i == len(SKILL_NAMES) - 1 else "published"
        name = SKILL_NAMES[i % len(SKILL_NAMES)] + (
            f" {i // len(SKILL_NAMES) + 1}" if i >= 12 else ""
        )
        out.append(Skill(skill_id, name, status, library, at, at))
    return out


def user_powers(c: Company, user_id: str) -> list[Power]:
    """A user's skill powers, sorted by skill id."""
    found: dict[str, list[int]] = {}  # skill -> [created, updated, status rank]
    for course_id, attempts in c.attempts_by_user.get(user_id, {}).items():
        course = c.courses.get(course_id)
        if course is None or not course.skills or not attempts:
            continue
        first = min(a.first_activity for a in attempts)
        last = max(a.last_activity for a in attempts)
        rank = 0
        for a in attempts:
            if a.completed_at is not None:
                rank = max(rank, 2 if (a.score or 0) >= 50 else 1)
        for skill_id in course.skills:
            rec = found.get(skill_id)
            if rec is None:
                found[skill_id] = [first, last, rank]
            else:
                rec[0], rec[1], rec[2] = (min(rec[0], first), max(rec[1], last), max(rec[2], rank))
    return [
        Power(
            oid(first, c.company_id, "power", user_id, skill_id),
            skill_id,
            user_id,
            ("toAssess", "pendingValidation", "validated")[rank],
            first,
            last,
        )
        for skill_id, (first, last, rank) in sorted(found.items())
    ]


def skill_powers(c: Company) -> list[Power]:
    return [p for user_id in c.attempts_by_user for p in user_powers(c, user_id)]


# ---------------------------------------------------------------------- certificates
@dataclass(slots=True)
class Outline:
    id: str
    title: str
    group_id: str
    created_at: int


@dataclass(slots=True)
class Certificate:
    id: str
    user_id: str
    path_id: str
    path_name: str
    path_session_id: str
    outline_id: str
    title: str
    delivered_at: int
    expires_at: int | None
    validity_months: float | None  # a fraction only in fractional mode


def outline_id(c: Company, path: Path) -> str:
    return oid(path.created_at, c.company_id, "certificate-outline", path.id)


def outline(c: Company, path: Path) -> Outline:
    return Outline(
        outline_id(c, path), f"Certificate – {path.name}", path.group_id, path.created_at
    )


def outlines(c: Company) -> list[Outline]:
    return [outline(c, p) for p in c.paths.values()]


def certificate_of(c: Company, e: Enrolment) -> Certificate | None:
    """The certificate a completed enrolment earned (None before completion)."""
    if e.completed_at is None or e.progress != 100:
        return None
    path = c.paths[e.path_id]
    months = VALIDITY_MONTHS[_crc(c.company_id, path.id) % len(VALIDITY_MONTHS)]
    return Certificate(
        id=oid(e.completed_at, c.company_id, "certificate", e.session_id, e.user_id),
        user_id=e.user_id,
        path_id=path.id,
        path_name=path.name,
        path_session_id=e.session_id,
        outline_id=outline_id(c, path),
        title=f"Certificate – {path.name}",
        delivered_at=e.completed_at,
        expires_at=add_months(e.completed_at, months) if months else None,
        validity_months=fractional.validity(c, months),
    )


def user_certificates(c: Company, user_id: str) -> list[Certificate]:
    out = []
    for e in c.enrolments_by_user.get(user_id, {}).values():
        cert = certificate_of(c, e)
        if cert is not None:
            out.append(cert)
    return out


# ---------------------------------------------------------------------- custom fields
@dataclass(slots=True)
class CustomField:
    id: str
    name: str
    target_type: str
    type: str
    values: tuple[str, ...]


def custom_fields(c: Company) -> list[CustomField]:
    return [
        CustomField(custom_field_id(c.company_id, name), name, "users", "string", values)
        for name, values in CUSTOM_FIELDS
    ]


def user_custom_values(c: Company, user_id: str) -> list[tuple[str, str, str]]:
    """(custom field id, type, value) of a user's custom fields."""
    u = c.users[user_id]
    values = {"Department": u.department, "Location": u.location}
    return [(f.id, f.type, values[f.name]) for f in custom_fields(c) if values.get(f.name)]


# ---------------------------------------------------------------------- classrooms
@dataclass(slots=True)
class Classroom:
    id: str
    name: str
    group_id: str
    created_at: int
    modified_at: int
    origin: str  # path | program
    origin_id: str


@dataclass(slots=True)
class Slot:
    id: str
    classroom_id: str
    name: str
    start: int
    end: int
    context_type: str  # path | program
    context_id: str
    trainer_ids: tuple[str, ...]
    virtual: bool
    location: str
    created_at: int
    modified_at: int


@dataclass(slots=True)
class Registration:
    id: str
    slot_id: str
    classroom_id: str
    user_id: str
    path_id: str | None
    created_at: int
    modified_at: int
    has_attended: bool


def classrooms(c: Company) -> list[Classroom]:
    out = []
    for path in c.paths.values():
        for step_id, kind, title in path.steps:
            if kind == "classroom":
                out.append(
                    Classroom(
                        step_id,
                        f"{path.name} – {title}",
                        path.group_id,
                        path.created_at,
                        path.created_at,
                        "path",
                        path.id,
                    )
                )
    for s in c.program_sessions.values():
        for module_id, kind in s.modules:
            if kind == "classroom":
                out.append(
                    Classroom(
                        module_id,
                        f"{s.name} – classroom",
                        c.root_group_id,
                        s.created_at,
                        s.created_at,
                        "program",
                        s.id,
                    )
                )
    return out


def find_classroom(c: Company, classroom_id: str) -> Classroom | None:
    for room in classrooms(c):
        if room.id == classroom_id:
            return room
    return None


def _slot(
    c: Company,
    room: Classroom,
    context_type: str,
    context: PathSession | ProgramSession,
    trainers: tuple[str, ...],
) -> Slot:
    h = _crc(room.id, context.id)
    start = (context.start // DAY + 1 + h % 14) * DAY + 9 * HOUR
    virtual = h % 3 == 0
    slot_id = oid(context.created_at, c.company_id, "classroom-slot", room.id, context.id)
    location = (
        f"https://meet.example.com/{slot_id}"
        if virtual
        else f"{LOCATIONS[h % len(LOCATIONS)]} office, room {h % 40 + 1}"
    )
    return Slot(
        id=slot_id,
        classroom_id=room.id,
        name=f"{context.name} – {room.name.rsplit(' – ', 1)[-1]}",
        start=start,
        end=start + 3 * HOUR,
        context_type=context_type,
        context_id=context.id,
        trainer_ids=trainers,
        virtual=virtual,
        location=location,
        created_at=context.created_at,
        modified_at=context.created_at,
    )


def slots_of(c: Company, room: Classroom) -> list[Slot]:
    if room.origin == "path":
        path = c.paths[room.origin_id]
        return [
            _slot(c, room, "path", s, s.instructor_ids)
            for s in (c.path_sessions[i] for i in path.session_ids)
        ]
    s = c.program_sessions[room.origin_id]
    tutors = tuple(u.id for u in (c.users_by_mail.get(m.lower()) for m in s.tutors) if u)
    return [_slot(c, room, "program", s, tutors)]


def all_slots(c: Company) -> list[Slot]:
    return [slot for room in classrooms(c) for slot in slots_of(c, room)]


def find_slot(c: Company, slot_id: str) -> Slot | None:
    for slot in all_slots(c):
        if slot.id == slot_id:
            return slot
    return None


def registrations_of(c: Company, slot: Slot) -> list[Registration]:
    out = []
    over = slot.end <= c.now
    if slot.context_type == "path":
        path_id = c.path_sessions[slot.context_id].path_id
        for e in c.enrolments.get(slot.context_id, {}).values():
            attended = over and e.started_at is not None and e.enrolled_at < slot.start
            out.append(
                Registration(
                    oid(e.enrolled_at, c.company_id, "registration", slot.id, e.user_id),
                    slot.id,
                    slot.classroom_id,
                    e.user_id,
                    path_id,
                    e.enrolled_at,
                    slot.end if attended else e.enrolled_at,
                    attended,
                )
            )
        return out
    session = c.program_sessions[slot.context_id]
    for user_id in c.program_user_ids(session.id):
        created = max(session.created_at, c.users[user_id].created_at)
        attended = over and c.progress_of(user_id, session.id).started_at is not None
        out.append(
            Registration(
                oid(created, c.company_id, "registration", slot.id, user_id),
                slot.id,
                slot.classroom_id,
                user_id,
                None,
                created,
                slot.end if attended else created,
                attended,
            )
        )
    return out


# ---------------------------------------------------------------------- truth
def truth_rows(c: Company, name: str) -> Iterator[dict[str, Any]]:
    """Rows of a v2-only truth table (column names: dlt's snake_case of the v2 fields)."""
    if name == "skills":
        for s in skills(c):
            yield {
                "_id": s.id,
                "name": s.name,
                "status": s.status,
                "library_id": s.library_id,
                "created_at": iso(s.created_at),
                "updated_at": iso(s.updated_at),
            }
    elif name == "skill_powers":
        for p in skill_powers(c):
            yield {
                "_id": p.id,
                "skill_id": p.skill_id,
                "user_id": p.user_id,
                "status": p.status,
                "created_at": iso(p.created_at),
                "updated_at": iso(p.updated_at),
            }
    elif name == "certificate_outlines":
        for o in outlines(c):
            yield {
                "_id": o.id,
                "title": o.title,
                "group_id": o.group_id,
                "created_at": iso(o.created_at),
            }
    elif name == "user_certificates":
        for e in all_enrolments(c):
            cert = certificate_of(c, e)
            if cert is not None:
                yield {
                    "_id": cert.id,
                    "user_id": cert.user_id,
                    "path_id": cert.path_id,
                    "path_session_id": cert.path_session_id,
                    "certificate_outline_id": cert.outline_id,
                    "delivery_date": iso(cert.delivered_at),
                    "expiration_date": iso(cert.expires_at),
                    "title": cert.title,
                    "type": "path",
                    "validity_period": cert.validity_months,
                }
    elif name == "custom_fields":
        for f in custom_fields(c):
            yield {"_id": f.id, "name": f.name, "target_type": f.target_type, "type": f.type}
    elif name == "user_custom_fields":
        for user_id in c.users:
            for field_id, kind, value in user_custom_values(c, user_id):
                yield {
                    "user_id": user_id,
                    "custom_field_id": field_id,
                    "type": kind,
                    "value": value,
                }
    elif name == "classrooms":
        for room in classrooms(c):
            yield {
                "_id": room.id,
                "name": room.name,
                "group_id": room.group_id,
                "created_at": iso(room.created_at),
                "modified_at": iso(room.modified_at),
            }
    elif name == "classroom_slots":
        for slot in all_slots(c):
            yield {
                "_id": slot.id,
                "classroom_id": slot.classroom_id,
                "name": slot.name,
                "start_date": iso(slot.start),
                "end_date": iso(slot.end),
                "context_type": slot.context_type,
                "context_id": slot.context_id,
                "virtual": slot.virtual,
                "created_at": iso(slot.created_at),
            }
    elif name == "classroom_slot_registrations":
        for slot in all_slots(c):
            for r in registrations_of(c, slot):
                yield {
                    "_id": r.id,
                    "classroom_slot_id": r.slot_id,
                    "classroom_id": r.classroom_id,
                    "user_id": r.user_id,
                    "path_id": r.path_id,
                    "created_at": iso(r.created_at),
                    "modified_at": iso(r.modified_at),
                    "has_attended": r.has_attended,
                    "status": "published",
                }
    else:
        raise KeyError(name)
