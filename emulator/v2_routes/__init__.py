"""The v2 routes (reference §1b, §3, §4, §6, §7; shapes from the Core API OpenAPI): the same
company v1 serves, rendered as v2 DTOs. Authentication, the version header and scopes are
checked before a handler runs (v2_auth.py); the rate limit too (server.py).

Pagination: every list is a bare JSON array, sorted by a stable key (the record's `_id`; the
group id for `/users/{id}/roles`, the user id for `/groups/{id}/roles`, the id itself for
catalog id lists, (userId, skillId) for `/skills/powers`) and cut into pages of the route's
size (PAGE_SIZES, from the OpenAPI; a server may force one size everywhere or per route). When another page exists the response has
`Link: <http://HOST/api/v2/...?next=TOKEN>; rel="next"` (absolute, built from the request's Host
header). TOKEN is opaque (base64url JSON + HMAC): it holds the route path, the filters of the
first request and the last key served, so the next page continues *after* that key (keyset
paging: while the company does not change, pages never skip or repeat a record; records added
meanwhile show up if their key sorts later). With `next`, other query parameters are ignored; a
tampered or foreign token → 400 `invalidNextToken`. No Link on the last page.

Filters: `field[op]=value` with the fields and ops each route's OpenAPI operation lists (see the
FILTERS tables below); anything else in the query → 400 `{"error":{"code":"invalidParameter",
"message"}}`, as is a value of the wrong form. Ops: `eq, ne, in, nin` (ids, strings, enums,
booleans `true|false`), `lt, gte` (dates). `in`/`nin` take a comma-separated list, and may be
repeated (`courseId[in]=a,b&courseId[in]=c` = a, b or c). Dates: `YYYY-MM-DDThh:mm:ss.sssZ` or
`YYYY-MM-DD` (UTC midnight); as the OpenAPI says, the milliseconds of a filter date are set to 0.
A record whose field is absent never matches `lt`/`gte`/`eq`/`in`, and always matches `ne`/`nin`.

Decisions where v1 and v2 differ (the company is one; only the rendering changes):
- Roles: admin → `admin`, author → `editor`, coach → `coach`, learner → `learner` (v2's enum
  also has analyst, contributor, owner, userAdmin, which this company never uses).
- Courses: v2's status enum has no `draft`; draft courses (never played, in no catalog, path or
  program) are not served by v2 (`/courses` skips them, `/courses/{id}` → 404) until published.
  Every course is `type: native`, `collaborativeLearning: false`; people are ids, not mails.
- Users: `/users` lists deleted users too (`status: deleted`, `deletedAt: [when]`); filter
  with `status[eq]=active`.
- Catalogs: v2 lists course ids and path-*session* ids. v1's catalog `paths` lists paths; v2's
  `path-session-ids` lists every session of each of those paths.
- Time: `timeSpent` is in milliseconds (v1 `globalTime` for attempts; v1 path stats'
  `totalTimeSpentInSeconds` × 1000).
- Path enrolments have a derived `_id` (v2_data.enrolment_id), shared by `/paths/{id}/
  enrollments` and the path stats; enrolments are never archived (status `published`).
Program sessions have no v2 route.

The package: core.py (filters, paging, dispatch, the lookup-or-404), one module per resource
family with its handlers and its rows of the route table.
"""

from __future__ import annotations

from . import classrooms, courses, groups, paths, skills, users
from .core import PAGE_SIZES, ROLE_NAMES, Route

__all__ = ["PAGE_SIZES", "ROLE_NAMES", "V2Routes"]


class V2Routes(
    courses.Courses,
    users.Users,
    groups.Groups,
    paths.Paths,
    skills.Skills,
    classrooms.Classrooms,
):
    """Every v2 route over one company (server.py matches, checks auth, then calls)."""

    routes: list[Route] = [
        *courses.ROUTES,
        *users.ROUTES,
        *groups.ROUTES,
        *paths.ROUTES,
        *skills.ROUTES,
        *classrooms.ROUTES,
    ]
