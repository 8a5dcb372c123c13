"""Route templates of both API versions, the scope each v2 route needs and v2's version
header: what the client, the API wrappers and the table registry name a request by."""

API_VERSION_HEADER = "360-api-version"
API_VERSION = "v2.0"

# v1 route templates, relative to <base_url>/api/v1 (reference §1a). Request stats use them.
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

# v2 route templates, relative to <base_url>/api/v2 (reference §1b); request stats use them.
V2_ROUTES = {
    "courses": "courses",
    "course_stats": "courses/stats",
    "users": "users",
    "user": "users/{user_id}",
    "user_certificates": "users/{user_id}/certificates",
    "user_custom_field_values": "users/{user_id}/custom-fields/values",
    "groups": "groups",
    "group_roles": "groups/{group_id}/roles",
    "catalog_course_ids": "groups/{group_id}/catalog/course-ids",
    "catalog_path_session_ids": "groups/{group_id}/catalog/path-session-ids",
    "paths": "paths",
    "path_sessions": "paths/sessions",
    "path_stats": "paths/stats",
    "skills": "skills",
    "custom_fields": "custom-fields",
    "classrooms": "classrooms",
    "classroom_slots": "classrooms/{classroom_id}/slots",
    "classroom_registrations": "classrooms/{classroom_id}/registrations",
    # the Webhook API, read by the change feed (../change_feed.py)
    "webhook_subscriptions": "webhooks/subscriptions",
    "webhook_subscription": "webhooks/subscriptions/{subscription_id}",
    "webhook_events": "webhooks/subscriptions/{subscription_id}/events",
    "webhook_secret": "webhooks/subscriptions/{subscription_id}/secrets",
}

# the scope each route needs (OpenAPI); a credential without it gets 403 invalid_scope
SCOPES = {
    "courses": "courses:read",
    "course_stats": "courseStats:read",
    "users": "users:read",
    "user": "users:read",
    "user_certificates": "users:read",
    "user_custom_field_values": "users:read",
    "groups": "groups:read",
    "group_roles": "groups:read",
    "catalog_course_ids": "groups:read",
    "catalog_path_session_ids": "groups:read",
    "paths": "paths:read",
    "path_sessions": "paths:read",
    "path_stats": "pathStats:read",
    "skills": "skills:read",
    "custom_fields": "customFields:read",
    "classrooms": "classrooms:read",
    "classroom_slots": "classrooms:read",
    "classroom_registrations": "classrooms:read",
    "webhook_subscriptions": "webhooks:read",
    "webhook_subscription": "webhooks:read",
    "webhook_events": "webhooks:read",
    "webhook_secret": "webhookSecrets:read",
}
SCOPE_OF_TEMPLATE = {V2_ROUTES[key]: scope for key, scope in SCOPES.items()}
