"""Groups, their members' roles and their catalogs (course ids, path-session ids)."""

from __future__ import annotations

from typing import Any

from ..model import Group
from ..responses import Reply, json_reply
from .core import Ctx, V2Core, routes


class Groups(V2Core):
    @staticmethod
    def _group(g: Group) -> dict[str, Any]:
        d: dict[str, Any] = {"_id": g.id, "name": g.name, "public": g.public}
        if g.parent is not None:
            d["parentId"] = g.parent
        d["custom"] = g.custom
        return d

    def get_groups(self, ctx: Ctx) -> Reply:
        with self.company.lock:
            return self._listing(ctx, "groups", self.company.groups, self._group)

    def get_group(self, ctx: Ctx) -> Reply:
        with self.company.lock:
            return json_reply(self._group(self.lookup(ctx, "groupId", self.company.groups)))

    def get_group_roles(self, ctx: Ctx) -> Reply:
        company = self.company
        with company.lock:
            g = self.lookup(ctx, "groupId", company.groups)
            return self._roles(ctx, company.members.get(g.id, {}), "userId")

    def get_catalog_courses(self, ctx: Ctx) -> Reply:
        company = self.company
        with company.lock:
            entry = self.lookup(ctx, "groupId", company.catalog)
            return self._all(ctx, list(entry["course"]), str, key=str)

    def get_catalog_path_sessions(self, ctx: Ctx) -> Reply:
        """Every session of every path in the group's catalog (v1 lists the paths)."""
        company = self.company
        with company.lock:
            entry = self.lookup(ctx, "groupId", company.catalog)
            ids: dict[str, None] = {}
            for path_id in entry["path"]:
                path = company.paths.get(path_id)
                if path is not None:
                    ids.update(dict.fromkeys(path.session_ids))
            return self._all(ctx, list(ids), str, key=str)


ROUTES = routes(
    ("/groups", "groups:read", Groups.get_groups, {}),
    ("/groups/{groupId}", "groups:read", Groups.get_group, {}),
    ("/groups/{groupId}/roles", "groups:read", Groups.get_group_roles, {}),
    ("/groups/{groupId}/catalog/course-ids", "groups:read", Groups.get_catalog_courses, {}),
    ("/groups/{groupId}/catalog/path-session-ids", "groups:read",
     Groups.get_catalog_path_sessions, {}),
)  # fmt: skip
