"""Keep secrets out of messages and logs.

``requests`` and ``urllib3`` put the full URL, query string included, into exception messages
and DEBUG logs; with ``auth_method=query`` that URL holds ``apiKey``. Everything the source
formats goes through :func:`redact`, which masks known secret parameters, headers and JSON
fields by pattern, and also any literal registered with :func:`register_secret` (the API key
and the OAuth tokens), wherever it appears.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # query strings and form bodies: apiKey=..., client_secret=..., access_token=...
    (
        re.compile(r"(?i)\b(apikey|api_key|client_secret|access_token|token)=[^&\s'\"#]+"),
        rf"\1={MASK}",
    ),
    # headers as printed in dicts or raw: 'X-apiKey': '...', Authorization: Bearer ...
    (
        re.compile(
            r"(?i)(['\"]?(?:x-apikey|authorization)['\"]?\s*[:=]\s*['\"]?)(?:bearer\s+)?[^'\"\s,}]+"
        ),
        rf"\1{MASK}",
    ),
    # JSON bodies: "client_secret": "...", "access_token": "...", "apiKey": "..."
    (re.compile(r"(?i)(\"(?:client_secret|access_token|api_?key)\"\s*:\s*\")[^\"]*"), rf"\1{MASK}"),
    # a bare bearer token anywhere
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9\-_\.=]+"), rf"\1{MASK}"),
)

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret literal so :func:`redact` masks it even outside known patterns."""
    if value and len(value) >= 6:  # masking tiny strings would shred ordinary text
        with _lock:
            _secrets.add(value)


def redact(text: object) -> str:
    """Return ``str(text)`` with every known secret masked."""
    result = str(text)
    for pattern, replacement in _RULES:
        result = pattern.sub(replacement, result)
    with _lock:
        literals = sorted(_secrets, key=len, reverse=True)
    for literal in literals:
        result = result.replace(literal, MASK)
    return result


class RedactingFilter(logging.Filter):
    """Logging filter that redacts the formatted message (urllib3 logs full URLs at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_filter() -> None:
    """Attach the filter to the loggers that print request URLs (idempotent)."""
    for name in ("urllib3.connectionpool", "urllib3.util.retry", "requests"):
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(RedactingFilter())


def enable_http_debug_log(stream: object = None) -> None:
    """Print urllib3's request lines (method, URL with its query string, status) to stderr,
    redacted: ``learning360 sync --log-level DEBUG`` turns this on. The filter sits on the
    handler too, so a record from any urllib3 logger is masked before it is written."""
    import sys

    install_log_filter()
    target = logging.getLogger("urllib3")
    if any(getattr(h, "_learning360", False) for h in target.handlers):
        return
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(
        logging.Formatter("%(asctime)s|[%(levelname)s]|%(process)d|%(name)s|%(message)s")
    )
    handler.addFilter(RedactingFilter())
    handler._learning360 = True  # type: ignore[attr-defined]
    target.addHandler(handler)
    target.setLevel(logging.DEBUG)
