"""Every default the source, the client and ``doctor`` share (as config.toml documents them)."""

DEFAULT_BASE_URL = "https://app.360learning.com"
SUPPORTED_API_VERSIONS = ("v1", "v2")
STRATEGIES = ("bulk", "per_user")  # of user_courses and user_programs

# the API's documented limit (and 5 in any 100 ms); measured ~47.6/s with 0 429s
DEFAULT_MAX_REQUESTS_PER_SECOND = 50.0
DEFAULT_WORKERS = 16
DEFAULT_USER_DETAILS_REFRESH_DAYS = 30
# bounds.py: seconds to an answer's last byte, elements and pages of one listing
DEFAULT_RESPONSE_DEADLINE = 300.0
DEFAULT_MAX_LISTING_ELEMENTS = 5_000_000
DEFAULT_MAX_LISTING_PAGES = 100_000
# API v2 (docs/migration-v2.md)
DEFAULT_V2_USER_REFRESH_DAYS = 30.0
DEFAULT_V2_GROUP_REFRESH_DAYS = 7.0
DEFAULT_USER_COURSES_FULL_READ_HOURS = 0.0
DEFAULT_CHANGE_FEED_RECONCILE_HOURS = 24.0 * 7
DEFAULT_CHANGE_FEED_RETENTION_HOURS = 72.0  # conservative: the spec does not state it
