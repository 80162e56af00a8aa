"""Sitemap entries and child sitemaps left out of a run: counted, the first few kept.

One dead child sitemap or one `javascript:` `<loc>` among good ones must not sink the run
(Scrapy crawls the rest, and so does crawlmap): each becomes a problem here, reported in
RunInfo.source_problems, the run summary and the notification.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lambdas.common.models import SourceProblem, SourceProblems, truncated

MAX_PROBLEM_SAMPLES = 10
MAX_SOURCE_CHARS = 300
MAX_REASON_CHARS = 300
MAX_VALUE_CHARS = 80  # how much of a bad <loc> the reason quotes


def quoted(value: str) -> str:
    """A bad value, short enough to quote in a reason."""
    return repr(truncated(value, MAX_VALUE_CHARS))


def describe_exception(exc: BaseException) -> str:
    """An unexpected exception as a short reason (its type says what kind of bug it was)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass
class ProblemLog:
    """Collects the problems of one run's source, in the order they are found."""

    count: int = 0
    first: list[SourceProblem] = field(default_factory=list)

    def add(self, source: str, reason: str) -> None:
        self.count += 1
        if len(self.first) < MAX_PROBLEM_SAMPLES:
            self.first.append(
                SourceProblem(
                    source=truncated(source, MAX_SOURCE_CHARS),
                    reason=truncated(reason, MAX_REASON_CHARS),
                )
            )

    def report(self) -> SourceProblems | None:
        """What RunInfo.source_problems carries; None when nothing was left out."""
        if self.count == 0:
            return None
        return SourceProblems(count=self.count, first=list(self.first))

    def summary_text(self) -> str:
        """e.g. "3 problems; first: <source>: <reason>" for an error message."""
        if not self.first:
            return "no problems recorded"
        sample = self.first[0]
        noun = "problem" if self.count == 1 else "problems"
        return f"{self.count} {noun}; first: {sample['source']}: {sample['reason']}"
