"""Users with their roles, certificates and custom-field values; certificate outlines; custom
fields."""

from __future__ import annotations

from typing import Any

from .. import v2_data as d2
from ..clock import iso
from ..model import User
from ..responses import Reply, json_reply
from .core import DATE, EQ_IN, IDS, Ctx, F, Getters, V2Core, _matcher, routes


class Users(V2Core):
    @staticmethod
    def _user(u: User) -> dict[str, Any]:
        d: dict[str, Any] = {
            "_id": u.id,
            "mail": u.mail,
            "status": "deleted" if u.deleted else "active",
            "lang": u.lang,
            "firstName": u.first_name,
            "lastName": u.last_name,
            "custom": u.custom,
        }
        if u.primary_group_id:
            d["primaryGroupId"] = u.primary_group_id
        if u.deleted and u.deleted_at is not None:
            d["deletedAt"] = [iso(u.deleted_at)]
        if u.last_login_at is not None:
            d["lastLoginDate"] = iso(u.last_login_at)
        return d

    def get_users(self, ctx: Ctx) -> Reply:
        getters: Getters = {
            "mail": lambda u: u.mail.lower(),
            "username": lambda u: None,
            "status": lambda u: "deleted" if u.deleted else "active",
        }
        with self.company.lock:
            return self._listing(ctx, "users", self.company.users, self._user, getters)

    def get_user(self, ctx: Ctx) -> Reply:
        with self.company.lock:
            return json_reply(self._user(self.lookup(ctx, "userId", self.company.users)))

    def get_user_roles(self, ctx: Ctx) -> Reply:
        company = self.company
        with company.lock:
            u = self.lookup(ctx, "userId", company.users)
            return self._roles(ctx, company.memberships.get(u.id, {}), "groupId")

    def get_user_certificates(self, ctx: Ctx) -> Reply:
        company = self.company
        getters: Getters = {"deliveryDate": "delivered_at", "expirationDate": "expires_at"}
        with company.lock:
            u = self.lookup(ctx, "userId", company.users)
            certs = d2.user_certificates(company, u.id)
            return self._all(ctx, certs, self._certificate, getters)

    @staticmethod
    def _certificate(c: d2.Certificate) -> dict[str, Any]:
        d: dict[str, Any] = {
            "_id": c.id,
            "type": "path",
            "title": c.title,
            "deliveryDate": iso(c.delivered_at),
        }
        if c.expires_at is not None:
            d["expirationDate"] = iso(c.expires_at)
        if c.validity_months is not None:
            d["validityPeriod"] = c.validity_months
        d.update(
            {
                "certificateOutlineId": c.outline_id,
                "pathId": c.path_id,
                "pathName": c.path_name,
                "pathSessionId": c.path_session_id,
            }
        )
        return d

    def get_user_custom_values(self, ctx: Ctx) -> Reply:
        company = self.company
        with company.lock:
            u = self.lookup(ctx, "userId", company.users)
            return json_reply(
                [
                    {"customFieldId": fid, "type": kind, "value": value}
                    for fid, kind, value in d2.user_custom_values(company, u.id)
                ]
            )

    # ------------------------------------------------------------------ certificates
    def get_outlines(self, ctx: Ctx) -> Reply:
        """Not paginated in the OpenAPI: all outlines at once, filtered."""
        keep = _matcher(ctx, {"createdAt": "created_at", "groupId": "group_id"})
        with self.company.lock:
            return json_reply(
                [
                    {
                        "_id": o.id,
                        "title": o.title,
                        "groupId": o.group_id,
                        "createdAt": iso(o.created_at),
                    }
                    for o in sorted(d2.outlines(self.company), key=lambda o: o.id)
                    if keep(o)
                ]
            )

    # ------------------------------------------------------------------ custom fields
    def get_custom_fields(self, ctx: Ctx) -> Reply:
        getters: Getters = {"name": "name", "targetType": "target_type", "type": "type"}

        def render(f: d2.CustomField) -> dict[str, Any]:
            return {"_id": f.id, "name": f.name, "targetType": f.target_type, "type": f.type}

        with self.company.lock:
            fields = d2.custom_fields(self.company)
            return self._all(ctx, fields, render, getters)

    def get_authorized_values(self, ctx: Ctx) -> Reply:
        with self.company.lock:
            fields = {f.id: f for f in d2.custom_fields(self.company)}
            return json_reply(list(self.lookup(ctx, "customFieldId", fields).values))


ROUTES = routes(
    ("/users", "users:read", Users.get_users, {
        "mail": F("mail", EQ_IN), "username": F("str", EQ_IN),
        "status": F("enum", ("eq", "ne"), ("active", "invited", "deleted")),
    }),
    ("/users/{userId}", "users:read", Users.get_user, {}),
    ("/users/{userId}/roles", "users:read", Users.get_user_roles, {}),
    ("/users/{userId}/certificates", "users:read", Users.get_user_certificates, {
        "deliveryDate": DATE, "expirationDate": DATE,
    }),
    ("/users/{userId}/custom-fields/values", "users:read", Users.get_user_custom_values, {}),
    ("/certificate-outlines", "certificateOutlines:read", Users.get_outlines, {
        "createdAt": DATE, "groupId": IDS,
    }),
    ("/custom-fields", "customFields:read", Users.get_custom_fields, {
        "name": F("str", EQ_IN),
        "targetType": F("enum", EQ_IN, ("users", "contents")),
        "type": F("enum", EQ_IN, ("string", "date")),
    }),
    ("/custom-fields/{customFieldId}/authorized-values", "customFields:read",
     Users.get_authorized_values, {}),
)  # fmt: skip
