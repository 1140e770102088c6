"""Betfair Exchange stream recordings (mcm JSON lines) -> MarketUpdate events.

Parsing and order-book state are betfairlightweight's (the field's own parser);
this module only validates each line, maps market books to our contract, and
emits an update for a runner only when its prices, volume or status changed.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from schemas import MarketUpdate
from velo.data.report import LoadReport

_STATUS = {"OPEN": "OPEN", "SUSPENDED": "SUSPENDED", "CLOSED": "CLOSED", "INACTIVE": "SUSPENDED"}


def race_id_for(market_id: str) -> str:
    """``1.132153978`` -> ``bf-132153978`` (the ANZ files' race ids)."""
    return "bf-" + market_id.split(".", 1)[-1]


def race_id_from_definition(venue: str, start: datetime) -> str:
    """``Hamilton`` at 2017-06-14 18:55 UTC -> ``hamilton-20170614T1855Z``:
    the race a market belongs to, from what its definition says (for cards
    keyed by course and off time rather than by a Betfair id)."""
    slug = re.sub(r"[^a-z0-9]+", "-", venue.lower()).strip("-") or "venue"
    return f"{slug}-{start.astimezone(UTC):%Y%m%dT%H%M}Z"


def _open(path: Path):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt", encoding="utf-8") if gz else open(path, encoding="utf-8")


def _best(ladder: list) -> tuple[float | None, float | None]:
    if not ladder:
        return None, None
    return ladder[0].price, ladder[0].size


class RaceIds:
    """Which race a Betfair market belongs to: ``market`` (``bf-<id>``, the
    default), ``definition`` (venue and start time, see
    :func:`race_id_from_definition`), or a mapping file (CSV with columns
    ``market_id,race_id``; a market it does not name is skipped and
    reported). The converter and the feed take the same choice, so they
    produce the same updates."""

    def __init__(self, by: str = "market", mapping: dict[str, str] | None = None) -> None:
        if by not in ("market", "definition", "mapping"):
            raise ValueError(f"race ids by {by!r}: use market, definition or mapping")
        if by == "mapping" and not mapping:
            raise ValueError("race ids by mapping need a mapping with at least one market")
        self.by, self.mapping = by, mapping or {}

    @classmethod
    def from_file(cls, path: str | Path) -> RaceIds:
        """A mapping file; every problem is one ValueError line naming it."""
        path = Path(path)
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise ValueError(f"{path}: not a readable CSV ({exc})") from None
        missing = {"market_id", "race_id"} - set(table.columns)
        if missing:
            raise ValueError(f"{path}: needs columns market_id and race_id (missing {', '.join(sorted(missing))})")
        table = table[(table["market_id"].str.strip() != "") & (table["race_id"].str.strip() != "")]
        if table.empty:
            raise ValueError(f"{path}: no row has both a market_id and a race_id")
        return cls("mapping", dict(zip(table["market_id"].str.strip(), table["race_id"].str.strip(), strict=True)))

    def __call__(self, book: Any) -> str | None:
        """The race id of a market book, or None if it cannot be told."""
        if self.by == "market":
            return race_id_for(book.market_id)
        if self.by == "mapping":
            return self.mapping.get(book.market_id)
        md = book.market_definition
        if md is None or not md.venue or md.market_time is None:
            return None
        return race_id_from_definition(md.venue, md.market_time)


class BookReader:
    """Market books (betfairlightweight's) -> MarketUpdates, one per runner
    whose prices, volume or status changed since the last book, each carrying
    how many the book made (``moment_size``). The same for a recording and
    for the live stream."""

    def __init__(self, race_ids: RaceIds | None = None, report: LoadReport | None = None) -> None:
        self.race_ids = race_ids or RaceIds()
        self.report = report if report is not None else LoadReport(source="betfair stream")
        self.races: set[str] = set()
        self._last: dict[tuple[str, int], tuple] = {}
        self._unmapped: set[str] = set()

    def updates(self, books: list, where: str) -> list[MarketUpdate]:
        out = []
        for book in books:
            race_id = self.race_ids(book)
            if race_id is None:
                if book.market_id not in self._unmapped:  # one line per market, not per message
                    self._unmapped.add(book.market_id)
                    self.report.skip(
                        f"{where} market {book.market_id}",
                        f"no race id for this market (race ids by {self.race_ids.by})",
                    )
                continue
            self.races.add(race_id)
            status = _STATUS.get(book.status, "SUSPENDED")
            made = []
            for runner in book.runners:
                if runner.status != "ACTIVE":
                    continue
                back, back_size = _best(runner.ex.available_to_back)
                lay, lay_size = _best(runner.ex.available_to_lay)
                state = (
                    back,
                    back_size,
                    lay,
                    lay_size,
                    runner.last_price_traded,
                    runner.total_matched,
                    status,
                    book.inplay,
                )
                key = (book.market_id, runner.selection_id)
                if self._last.get(key) == state:
                    continue
                self._last[key] = state
                try:
                    made.append(
                        MarketUpdate(
                            race_id=race_id,
                            market_id=book.market_id,
                            runner_id=f"bf-{runner.selection_id}",
                            publish_time=book.publish_time,
                            back_price=back,
                            back_size=back_size,
                            lay_price=lay,
                            lay_size=lay_size,
                            last_traded_price=runner.last_price_traded,
                            traded_volume=runner.total_matched or None,
                            status=status,
                            in_play=book.inplay,
                        )
                    )
                except ValueError as exc:  # ContractError is one
                    self.report.skip(f"{where} runner {runner.selection_id}", str(exc))
            # one change message is one market moment: saying how many updates
            # it made lets the worker judge the moment when the last is in
            out += [u.model_copy(update={"moment_size": len(made)}) for u in made]
        return out


def update_listener(reader: BookReader, sink: Callable[[list[MarketUpdate]], None]) -> Any:
    """A betfairlightweight StreamListener that hands the updates each market
    change message makes to ``sink``: what the live socket talks to, and what
    a recording is read through, so both take one path."""
    from betfairlightweight import StreamListener

    class UpdateListener(StreamListener):
        where = "live"

        def _on_change_message(self, data: dict, unique_id: int) -> None:
            super()._on_change_message(data, unique_id)
            sink(reader.updates(self.snap(), self.where))

    return UpdateListener(max_latency=None, lightweight=False)


class Lines:
    """Recorded stream lines (one JSON message a line) -> MarketUpdates,
    through :func:`update_listener` and betfairlightweight's order books."""

    def __init__(self, race_ids: RaceIds | None = None, report: LoadReport | None = None) -> None:
        self.report = report if report is not None else LoadReport(source="betfair stream")
        self.reader = BookReader(race_ids, self.report)
        self._out: list[MarketUpdate] = []
        self.listener = update_listener(self.reader, self._out.extend)
        self.listener.register_stream(0, "marketSubscription")  # a recording's messages carry no stream id

    def updates(self, line: str, where: str) -> list[MarketUpdate]:
        """The updates one line makes; a line that is not a market change is
        reported and skipped."""
        report = self.report
        report.rows_read += 1
        try:
            msg = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            report.skip(where, f"not valid JSON: {exc}")
            return []
        if not isinstance(msg, dict) or msg.get("op") != "mcm":
            report.skip(where, "not a market change message (op != 'mcm')")
            return []
        self.listener.where = where
        try:
            self.listener.on_data(line)
        except Exception as exc:  # the parser's errors are many; report them all
            self._out.clear()
            report.skip(where, f"stream parser refused it: {exc!r}")
            return []
        report.rows_kept += 1
        got = list(self._out)
        self._out.clear()
        return got


def iter_updates(
    path: str | Path, report: LoadReport | None = None, race_ids: RaceIds | None = None
) -> Iterator[MarketUpdate]:
    """MarketUpdates from one recording; malformed lines are reported and skipped."""
    path = Path(path)
    lines = Lines(race_ids, report if report is not None else LoadReport(source=f"stream {path}"))
    lineno = 0
    try:
        with _open(path) as f:
            for lineno, line in enumerate(f, 1):
                yield from lines.updates(line, f"{path.name} line {lineno}")
    except (OSError, EOFError, UnicodeDecodeError) as exc:  # a truncated gzip, not text, unreadable
        lines.report.skip(f"{path.name} after line {lineno}", f"the rest could not be read ({exc})")
    lines.report.races += len(lines.reader.races)


def recordings(paths: Sequence[str | Path]) -> list[Path]:
    """The recording files among ``paths``: files as given, folders' files
    (not their notes or subfolders), in name order within a folder."""
    files: list[Path] = []
    for p in map(Path, paths):
        files += [p] if p.is_file() else sorted(f for f in p.iterdir() if f.is_file() and f.suffix != ".md")
    return files


def load(
    path: str | Path | Sequence[str | Path], race_ids: RaceIds | None = None
) -> tuple[list[MarketUpdate], LoadReport]:
    """All updates of one file, of every recording in a folder, or of several."""
    paths = [path] if isinstance(path, str | Path) else list(path)
    report = LoadReport(source="stream " + ", ".join(map(str, paths)))
    updates: list[MarketUpdate] = []
    for f in recordings(paths):
        updates.extend(iter_updates(f, report, race_ids))
    return updates, report
