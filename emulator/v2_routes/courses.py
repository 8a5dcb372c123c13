"""Courses and their attempts (`/courses/stats`); draft courses are not served."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..clock import iso
from ..model import Attempt, Course
from ..responses import Reply, json_reply
from .core import DATE, ID_EQ, IDS, Ctx, F, Getters, V2Core, routes


class Courses(V2Core):
    def _course(self, c: Course) -> dict[str, Any]:
        return {
            "_id": c.id,
            "name": c.name,
            "description": c.description,
            "duration": c.duration,
            "authorId": self._uid(c.author_mail),
            "coAuthorIds": self._uids(c.co_authors),
            "groupId": c.group_id,
            "createdAt": iso(c.creation),
            "modifiedAt": iso(c.modification),
            "defaultLang": c.lang,
            "sourceLang": c.lang,
            "status": c.status,
            "type": "native",
            "translations": [
                {
                    "lang": lang,
                    "published": published,
                    "translatorIds": self._uids(translators),
                    "translatedFields": {"name": c.name},
                }
                for lang, published, translators in c.translations
            ],
            "collaborativeLearning": False,
        }

    def get_courses(self, ctx: Ctx) -> Reply:
        author: Callable[[Course], Any] = lambda c: self._uid(c.author_mail)  # noqa: E731
        getters: Getters = {
            "createdAt": "creation",
            "modifiedAt": "modification",
            "status": "status",
            "type": lambda c: "native",
            "authorId": author,
            "originalAuthorId": author,
            "groupId": "group_id",
            "tagIds": lambda c: (),
            "coAuthorIds": lambda c: self._uids(c.co_authors),
            "sourceLang": "lang",
            "collaborativeLearning": lambda c: False,
        }
        with self.company.lock:
            courses = self.company.courses
            visible = lambda c: c.status != "draft"  # noqa: E731
            return self._listing(ctx, "courses", courses, self._course, getters, visible)

    def get_course(self, ctx: Ctx) -> Reply:
        with self.company.lock:
            c = self.lookup(ctx, "courseId", self._published)
            return json_reply(self._course(c))

    def _published(self, course_id: str) -> Course | None:
        c = self.company.courses.get(course_id)
        return None if c is None or c.status == "draft" else c

    def _attempt(self, a: Attempt) -> dict[str, Any]:
        d: dict[str, Any] = {
            "_id": a.id,
            "courseId": a.course_id,
            "userId": a.user_id,
            "progress": a.progress,
        }
        if a.score is not None:
            d["score"] = a.score
        d["timeSpent"] = a.global_time
        if a.completed_at is not None:
            d["completedAt"] = iso(a.completed_at)
        d["firstActivityAt"] = iso(a.first_activity)
        d["lastActivityAt"] = iso(a.last_activity)
        d["lang"] = self.company.courses[a.course_id].lang
        if a.path is not None:
            d["pathId"] = a.path
            d["pathSessionId"] = a.path_session
        return d

    def get_course_stats(self, ctx: Ctx) -> Reply:
        company = self.company

        def build() -> Iterable[Attempt]:
            for by_user in company.attempts_by_course.values():
                for attempts in by_user.values():
                    yield from attempts

        getters: Getters = {
            "completedAt": "completed_at",
            "courseId": "course_id",
            "userId": "user_id",
        }
        with company.lock:
            # an attempt added after one was hard-deleted keeps n_attempts: both make a version
            version = (company.n_attempts, len(company.hard_deleted_attempts))
            items, keys = self._sorted("attempts", version, build)
            return self._page(ctx, items, keys, self._attempt, getters)


ROUTES = routes(
    ("/courses", "courses:read", Courses.get_courses, {
        "createdAt": DATE, "modifiedAt": DATE,
        "status": F("enum", ("eq",), ("archived", "deleted", "published")),
        "type": F("enum", ("eq",), ("elearning standard", "external", "native")),
        "authorId": ID_EQ, "groupId": ID_EQ, "originalAuthorId": ID_EQ,
        "tagIds": F("id", ("in",)), "coAuthorIds": F("id", ("in",)),
        "sourceLang": F("str", ("eq", "in")), "collaborativeLearning": F("bool", ("eq",)),
    }),
    ("/courses/stats", "courseStats:read", Courses.get_course_stats, {
        "completedAt": DATE, "courseId": IDS, "userId": IDS,
    }),
    ("/courses/{courseId}", "courses:read", Courses.get_course, {}),
)  # fmt: skip
