"""360Learning API v1 adapter: ``api.py`` (routes -> raw elements), ``parsing.py`` (elements ->
rows, tolerant of the §12 variants), ``resources.py`` (the dlt resources)."""
