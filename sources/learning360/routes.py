"""Route templates of both API versions (under ``<base_url>/api/<version>``, reference §1a/§1b),
the scope each v2 route needs and v2's version header."""

API_VERSION_HEADER = "360-api-version"
API_VERSION = "v2.0"

V1_ROUTES = {
    "courses": "courses",
    "course": "courses/{course_id}",
    "courses_stats": "courses/stats",
    "users": "users",
    "user": "users/{user_id}",
    "user_courses": "users/{user_id}/courses",
    "user_programs": "users/{user_id}/programs",
    "groups": "groups",
    "group": "groups/{group_id}",
    "group_catalog": "groups/{group_id}/catalog",
    "group_programs": "groups/{group_id}/programs",
    "program_sessions": "programs/sessions",
    "program_session_stats": "programs/sessions/{session_id}/stats",
    "paths": "paths",
    "path": "paths/{path_id}",  # only for paths quarantined by an earlier run
    "path_sessions": "paths/sessions",
    "path_session_user_stats": "paths/sessions/{session_id}/stats/users",
}
# v1 listings whose elements are records keyed by ``_id``: one without it cannot be stored
ID_KEYED_ROUTES = {t for t in V1_ROUTES.values() if "{" not in t} - {V1_ROUTES["courses_stats"]}

# v2: route key -> (template, the scope a credential needs for it: else 403 invalid_scope)
_V2 = {
    "courses": ("courses", "courses:read"),
    "course_stats": ("courses/stats", "courseStats:read"),
    "users": ("users", "users:read"),
    "user": ("users/{user_id}", "users:read"),
    "user_certificates": ("users/{user_id}/certificates", "users:read"),
    "user_custom_field_values": ("users/{user_id}/custom-fields/values", "users:read"),
    "groups": ("groups", "groups:read"),
    "group_roles": ("groups/{group_id}/roles", "groups:read"),
    "catalog_course_ids": ("groups/{group_id}/catalog/course-ids", "groups:read"),
    "catalog_path_session_ids": ("groups/{group_id}/catalog/path-session-ids", "groups:read"),
    "paths": ("paths", "paths:read"),
    "path_sessions": ("paths/sessions", "paths:read"),
    "path_stats": ("paths/stats", "pathStats:read"),
    "skills": ("skills", "skills:read"),
    "custom_fields": ("custom-fields", "customFields:read"),
    "classrooms": ("classrooms", "classrooms:read"),
    "classroom_slots": ("classrooms/{classroom_id}/slots", "classrooms:read"),
    "classroom_registrations": ("classrooms/{classroom_id}/registrations", "classrooms:read"),
    # the Webhook API, read by the change feed (change_feed.py)
    "webhook_subscriptions": ("webhooks/subscriptions", "webhooks:read"),
    "webhook_subscription": ("webhooks/subscriptions/{subscription_id}", "webhooks:read"),
    "webhook_events": ("webhooks/subscriptions/{subscription_id}/events", "webhooks:read"),
    "webhook_secret": ("webhooks/subscriptions/{subscription_id}/secrets", "webhookSecrets:read"),
}
V2_ROUTES = {key: template for key, (template, _) in _V2.items()}
SCOPES = {key: scope for key, (_, scope) in _V2.items()}
SCOPE_OF_TEMPLATE = dict(_V2.values())
