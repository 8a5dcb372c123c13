"""360Learning API v2 adapter (reference §1b-§8); its tables are ``..tables.V2_TABLES`` and its
client credentials strategy ``..client.TokenAuth`` (``..errors.describe`` words its refusals);
``api.py`` pages the shared client by ``Link`` header, ``parsing.py`` maps v2 DTOs to v1's raw
columns, ``refresh.py`` holds v2's options and schedules, ``resources.py`` the dlt resources.
The raw tables are v1's (same names, keys and contract columns: the models run unchanged) plus
the v2-only tables; docs/migration-v2.md lists the differences."""
