"""360Learning API v1 adapter: api.py (routes -> elements), parsing.py (-> rows), resources.py."""
