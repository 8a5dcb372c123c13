"""Classrooms, their slots and registrations."""

from __future__ import annotations

from typing import Any

from .. import v2_data as d2
from ..clock import iso
from ..responses import Reply, json_reply
from .core import DATE, IDS, Ctx, F, Getters, V2Core, routes


class Classrooms(V2Core):
    @staticmethod
    def _classroom(r: d2.Classroom) -> dict[str, Any]:
        return {
            "_id": r.id,
            "name": r.name,
            "groupId": r.group_id,
            "mediaIds": [],
            "createdAt": iso(r.created_at),
            "modifiedAt": iso(r.modified_at),
        }

    def get_classrooms(self, ctx: Ctx) -> Reply:
        getters: Getters = {
            "groupId": "group_id",
            "createdAt": "created_at",
            "modifiedAt": "modified_at",
        }
        with self.company.lock:
            return self._all(ctx, d2.classrooms(self.company), self._classroom, getters)

    def _room(self, ctx: Ctx) -> d2.Classroom:
        return self.lookup(ctx, "classroomId", lambda i: d2.find_classroom(self.company, i))

    def get_classroom(self, ctx: Ctx) -> Reply:
        with self.company.lock:
            return json_reply(self._classroom(self._room(ctx)))

    @staticmethod
    def _slot(s: d2.Slot) -> dict[str, Any]:
        return {
            "_id": s.id,
            "classroomId": s.classroom_id,
            "name": s.name,
            "startDate": iso(s.start),
            "endDate": iso(s.end),
            "reportedDuration": (s.end - s.start) / 3_600_000,
            "selfRegistration": {"enabled": False},
            "virtual": s.virtual,
            "location": s.location,
            "trainerIds": list(s.trainer_ids),
            "mediaIds": [],
            "createdAt": iso(s.created_at),
            "modifiedAt": iso(s.modified_at),
            "timezone": "Europe/Paris",
            "context": {"_id": s.context_id, "type": s.context_type},
        }

    def get_slots(self, ctx: Ctx) -> Reply:
        getters: Getters = {"createdAt": "created_at", "modifiedAt": "modified_at"}
        with self.company.lock:
            room = self._room(ctx)
            slots = d2.slots_of(self.company, room)
            return self._all(ctx, slots, self._slot, getters)

    @staticmethod
    def _registration(r: d2.Registration, with_slot: bool) -> dict[str, Any]:
        d: dict[str, Any] = {
            "_id": r.id,
            "userId": r.user_id,
            "createdAt": iso(r.created_at),
            "modifiedAt": iso(r.modified_at),
            "hasAttended": r.has_attended,
        }
        if r.path_id is not None:
            d["pathId"] = r.path_id
        d["status"] = "published"
        if with_slot:
            d["classroomSlotId"] = r.slot_id
        return d

    def get_classroom_registrations(self, ctx: Ctx) -> Reply:
        company = self.company
        with company.lock:
            room = self._room(ctx)
            regs = [r for s in d2.slots_of(company, room) for r in d2.registrations_of(company, s)]
            return self._all(ctx, regs, lambda r: self._registration(r, with_slot=True))

    def get_slot_registrations(self, ctx: Ctx) -> Reply:
        company = self.company
        getters: Getters = {
            "createdAt": "created_at",
            "modifiedAt": "modified_at",
            "hasAttended": "has_attended",
            "userId": "user_id",
            "status": lambda r: "published",
        }
        with company.lock:
            slot = self.lookup(ctx, "classroomSlotId", lambda i: d2.find_slot(company, i))
            regs = d2.registrations_of(company, slot)
            return self._all(ctx, regs, lambda r: self._registration(r, False), getters)


ROUTES = routes(
    ("/classrooms", "classrooms:read", Classrooms.get_classrooms, {
        "groupId": IDS, "createdAt": DATE, "modifiedAt": DATE,
    }),
    ("/classrooms/{classroomId}", "classrooms:read", Classrooms.get_classroom, {}),
    ("/classrooms/{classroomId}/slots", "classrooms:read", Classrooms.get_slots, {
        "createdAt": DATE, "modifiedAt": DATE,
    }),
    ("/classrooms/{classroomId}/registrations", "classrooms:read",
     Classrooms.get_classroom_registrations, {}),
    ("/classroom-slots/{classroomSlotId}/registrations", "classrooms:read",
     Classrooms.get_slot_registrations, {
         "createdAt": DATE, "modifiedAt": DATE, "hasAttended": F("bool", ("eq",)),
         "userId": IDS, "status": F("enum", ("eq",), ("archived", "published")),
     }),
)  # fmt: skip
