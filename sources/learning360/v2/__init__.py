"""360Learning API v2 adapter: api.py (pages by Link header), parsing.py (v2 DTOs -> v1's raw
columns), resources.py (``..tables.V2_TABLES``: v1's tables plus v2-only ones)."""
