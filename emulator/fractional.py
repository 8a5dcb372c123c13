"""Fractional mode: spec `number` fields served with fractions (issue 16, goal 3).

The official v2 OpenAPI types ``timeSpent``, ``duration``, ``validityPeriod`` (and v1's
equivalents ``globalTime``, ``courseDuration``, ``totalTimeSpentInSeconds``) as `number`, but a
generated company holds whole numbers only, so a pipeline that types those columns bigint
passes every test and fails on the first ``12.5`` a real tenant sends (the value goes to a
variant column, the contract column is NULL, totals silently drop it). In this mode every
second record gets a fraction, so a column's first value is still whole (what dlt would infer
a type from) and a later one is not. The model keeps the fractional values, so ground truth
(``Company.truth()``), v1 and v2 all serve the same numbers.

Integer fields of the spec (progress, score) stay whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .company import Company

COURSE_DURATION_FRACTION = 0.5  # minutes
ATTEMPT_TIME_FRACTION = 0.25  # milliseconds
PROGRAM_TIME_FRACTION = 0.5  # seconds
VALIDITY_FRACTION = 0.5  # months


def apply(company: Company) -> None:
    """Adds a fraction to every second course duration, attempt time and program time
    (deterministic: in the company's record order). Certificates are derived on read
    (``v2_data.certificate_of``): their validity period gets its fraction there."""
    company.fractional_numbers = True
    for i, course in enumerate(company.courses.values()):
        if i % 2:
            course.duration += COURSE_DURATION_FRACTION
    i = 0
    for by_user in company.attempts_by_course.values():
        for attempts in by_user.values():
            for attempt in attempts:
                if i % 2:
                    attempt.global_time += ATTEMPT_TIME_FRACTION
                i += 1
    for i, progress in enumerate(company.program_progress.values()):
        if i % 2 and progress.time_s:
            progress.time_s += PROGRAM_TIME_FRACTION


def validity(company: Company, months: int | None) -> float | int | None:
    """A certificate's validity period in months, with a fraction in this mode (certificates
    are few: every one gets it)."""
    if months and company.fractional_numbers:
        return months + VALIDITY_FRACTION
    return months
