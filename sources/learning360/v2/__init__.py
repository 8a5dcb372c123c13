"""360Learning API v2 adapter (reference §1b-§8): ``settings.py`` (routes, scopes, the v2
resource table), ``errors.py`` (v2's wording of what the API refused; the client credentials
strategy is ``..auth.TokenAuth``), ``api.py`` (Link-header pagination over the
shared client), ``parsing.py`` (v2 DTOs -> the v1 raw-table columns), ``resources.py`` (the dlt
resources). The raw tables it loads are v1's (same names, keys and contract columns, so the
derived models run unchanged) plus the v2-only tables; docs/migration-v2.md lists the
differences. Nothing is imported here to keep imports one-way."""
