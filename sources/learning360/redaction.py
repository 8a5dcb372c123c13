"""Keep secrets out of messages and logs: ``requests`` and ``urllib3`` print whole URLs (with
``apiKey`` under ``auth_method=query``); :func:`redact` masks secrets by pattern and literal."""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"

_RULES = (
    # query strings and form bodies: apiKey=..., client_secret=..., access_token=...
    (r"(?i)\b(apikey|api_key|client_secret|access_token|token)=[^&\s'\"#]+", rf"\1={MASK}"),
    # headers as printed in dicts or raw: 'X-apiKey': '...', Authorization: Bearer ...
    (
        r"(?i)(['\"]?(?:x-apikey|authorization)['\"]?\s*[:=]\s*['\"]?)(?:bearer\s+)?[^'\"\s,}]+",
        rf"\1{MASK}",
    ),
    # JSON bodies: "client_secret": "...", "access_token": "...", "apiKey": "..."
    (r"(?i)(\"(?:client_secret|access_token|api_?key)\"\s*:\s*\")[^\"]*", rf"\1{MASK}"),
    (r"(?i)(\bbearer\s+)[A-Za-z0-9\-_\.=]+", rf"\1{MASK}"),  # a bare bearer token
)
_PATTERNS = tuple((re.compile(pattern), replacement) for pattern, replacement in _RULES)
_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask this literal everywhere from now on (tiny strings would shred ordinary text)."""
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


def redact(text: object) -> str:
    result = str(text)
    for pattern, replacement in _PATTERNS:
        result = pattern.sub(replacement, result)
    with _lock:
        literals = sorted(_secrets, key=len, reverse=True)
    for literal in literals:
        result = result.replace(literal, MASK)
    return result


class RedactingFilter(logging.Filter):
    """Redacts the formatted message of a log record (urllib3 logs full URLs at DEBUG)."""

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
