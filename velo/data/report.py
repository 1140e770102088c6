"""What a load did: counts, and every skipped row with where it was."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

MAX_KEPT_PROBLEMS = 1000


@dataclass
class LoadReport:
    """Counts and problems from one load; malformed input is reported, not fatal."""

    source: str
    rows_read: int = 0
    rows_kept: int = 0
    rows_skipped: int = 0
    values_cleared: int = 0
    races: int = 0
    problems: list[str] = field(default_factory=list)
    #: reason -> count, complete even when ``problems`` is capped
    reasons: Counter[str] = field(default_factory=Counter)

    def skip(self, location: str, reason: str, rows: int = 1) -> None:
        self.rows_skipped += rows
        self.reasons[reason] += rows
        if len(self.problems) < MAX_KEPT_PROBLEMS:
            self.problems.append(f"{location}: {reason}")

    def clear(self, location: str, reason: str) -> None:
        """A bad optional value was blanked; the row itself was kept."""
        self.values_cleared += 1
        self.reasons[f"{reason.split(' ', 1)[0]} cleared"] += 1
        if len(self.problems) < MAX_KEPT_PROBLEMS:
            self.problems.append(f"{location}: {reason} (value cleared, row kept)")

    def summary(self) -> str:
        text = (
            f"{self.source}: read {self.rows_read:,} rows, kept {self.rows_kept:,} in {self.races:,} races, "
            f"skipped {self.rows_skipped:,}, cleared {self.values_cleared:,} bad values"
        )
        if self.reasons:
            text += "\n  by reason: " + "; ".join(f"{r} x{n:,}" for r, n in self.reasons.most_common(10))
        if self.problems:
            shown = "\n  ".join(self.problems[:20])
            more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
            text += f"\n  {shown}{more}"
        return text
