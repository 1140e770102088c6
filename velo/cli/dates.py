"""Dates on the command line: ISO 8601 only.

``pandas.Timestamp("01/09/2004")`` is 9 January to an American and 1
September to everyone else, and pandas picks silently. Every date option
goes through :func:`iso_date`, which takes ``YYYY-MM-DD`` (or an ISO date and
time, with or without an offset) and refuses anything else in one line.
"""

from __future__ import annotations

import re
from datetime import datetime

import click
import pandas as pd

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


def iso_date(value: str | None, option: str) -> pd.Timestamp | None:
    """``value`` as a UTC timestamp (naive means UTC); None stays None."""
    if value is None:
        return None
    text = value.strip()
    try:
        if not _ISO.match(text):
            raise ValueError
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date: use YYYY-MM-DD (e.g. 2004-09-01)", param_hint=option
        ) from None
    ts = pd.Timestamp(when)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
