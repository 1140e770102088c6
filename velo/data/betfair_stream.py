"""Betfair Exchange stream recordings (mcm JSON lines) -> MarketUpdate events.

Parsing and order-book state are betfairlightweight's (the field's own parser);
this module only validates each line, maps market books to our contract, and
emits an update for a runner only when its prices, volume or status changed.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import orjson

from schemas import ContractError, MarketUpdate
from velo.data.report import LoadReport

_STATUS = {"OPEN": "OPEN", "SUSPENDED": "SUSPENDED", "CLOSED": "CLOSED", "INACTIVE": "SUSPENDED"}


def race_id_for(market_id: str) -> str:
    """``1.132153978`` -> ``bf-132153978`` (the ANZ files' race ids)."""
    return "bf-" + market_id.split(".", 1)[-1]


def _open(path: Path):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt", encoding="utf-8") if gz else open(path, encoding="utf-8")


def _best(ladder: list) -> tuple[float | None, float | None]:
    if not ladder:
        return None, None
    return ladder[0].price, ladder[0].size


def iter_updates(path: str | Path, report: LoadReport | None = None) -> Iterator[MarketUpdate]:
    """MarketUpdates from one recording; malformed lines are reported and skipped."""
    from betfairlightweight import StreamListener

    path = Path(path)
    report = report if report is not None else LoadReport(source=f"stream {path}")
    listener = StreamListener(max_latency=None, lightweight=False)
    listener.register_stream(0, "marketSubscription")
    last: dict[tuple[str, int], tuple] = {}
    races: set[str] = set()
    with _open(path) as f:
        for lineno, line in enumerate(f, 1):
            report.rows_read += 1
            try:
                msg = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                report.skip(f"{path.name} line {lineno}", f"not valid JSON: {exc}")
                continue
            if not isinstance(msg, dict) or msg.get("op") != "mcm":
                report.skip(f"{path.name} line {lineno}", "not a market change message (op != 'mcm')")
                continue
            try:
                listener.on_data(line)
                books = listener.snap()
            except Exception as exc:  # the parser's errors are many; report them all
                report.skip(f"{path.name} line {lineno}", f"stream parser refused it: {exc!r}")
                continue
            report.rows_kept += 1
            for book in books:
                race_id = race_id_for(book.market_id)
                races.add(race_id)
                status = _STATUS.get(book.status, "SUSPENDED")
                for runner in book.runners:
                    if runner.status != "ACTIVE":
                        continue
                    back, back_size = _best(runner.ex.available_to_back)
                    lay, lay_size = _best(runner.ex.available_to_lay)
                    state = (back, back_size, lay, lay_size, runner.last_price_traded, runner.total_matched,
                             status, book.inplay)  # fmt: skip
                    key = (book.market_id, runner.selection_id)
                    if last.get(key) == state:
                        continue
                    last[key] = state
                    try:
                        yield MarketUpdate(
                            race_id=race_id, market_id=book.market_id, runner_id=f"bf-{runner.selection_id}",
                            publish_time=book.publish_time, back_price=back, back_size=back_size, lay_price=lay,
                            lay_size=lay_size, last_traded_price=runner.last_price_traded,
                            traded_volume=runner.total_matched or None, status=status, in_play=book.inplay,
                        )  # fmt: skip
                    except ContractError as exc:
                        report.skip(f"{path.name} line {lineno} runner {runner.selection_id}", str(exc))
                    except ValueError as exc:
                        report.skip(f"{path.name} line {lineno} runner {runner.selection_id}", str(exc))
    report.races += len(races)


def load(path: str | Path) -> tuple[list[MarketUpdate], LoadReport]:
    """All updates of one file, or of every recording in a folder."""
    path = Path(path)
    report = LoadReport(source=f"stream {path}")
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file() and p.suffix != ".md")
    updates: list[MarketUpdate] = []
    for f in files:
        updates.extend(iter_updates(f, report))
    return updates, report
