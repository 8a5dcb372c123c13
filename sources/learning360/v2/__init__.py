"""360Learning API v2 adapter (reference §1b-§8): ``api.py`` pages the shared client by ``Link``
header, ``parsing.py`` maps v2 DTOs to v1's raw columns, ``resources.py`` builds the resources of
``..tables.V2_TABLES`` (v1's tables plus v2-only ones: docs/migration-v2.md)."""
