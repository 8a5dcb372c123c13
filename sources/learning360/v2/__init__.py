"""360Learning API v2 adapter (reference §1b-§8); its tables are ``..tables.V2_TABLES``.
``auth.py`` (OAuth2 client credentials + the version header, plugged into the
shared client), ``errors.py`` (one-line v2 errors), ``api.py`` (Link-header pagination over the
shared client), ``parsing.py`` (v2 DTOs -> the v1 raw-table columns), ``resources.py`` (the dlt
resources). The raw tables it loads are v1's (same names, keys and contract columns, so the
derived models run unchanged) plus the v2-only tables; docs/migration-v2.md lists the
differences. Nothing is imported here to keep imports one-way."""
