"""The worker's HTTP API: the views, who may call them, and how often.

- ``POST /predict``, ``GET /models/champion`` and ``GET /models/challenger``
  need an API key when ``VELO_API_KEYS`` is set (401 without one, or with a
  wrong one: :mod:`velo.serving.access`), and each caller has a token bucket
  (429 with ``Retry-After`` past it: :mod:`velo.serving.ratelimit`).
- ``/predict`` answers 503 at once while the circuit breaker is open, that
  is while the background probe finds Redis or the broker down
  (:mod:`velo.serving.breaker`), rather than holding the client until a
  socket times out.
- ``/health``, ``/ready`` and ``/metrics`` stay open for the cluster's
  probes and Prometheus. With ``VELO_OPS_PORT`` they move to a port of their
  own, so the API's port can face clients and the ops port only the cluster.

Each view is a function from a request to a :class:`Reply`, served by
Faust's web server on the web port and by a bare aiohttp site on the ops
port, so both ports answer the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from schemas import ContractError, RaceCard
from streams import metrics
from velo.config import Settings
from velo.serving.access import ApiKeys, presented_key
from velo.serving.breaker import CircuitBreaker
from velo.serving.faults import describe, is_transient
from velo.serving.ratelimit import RateLimiter, retry_after

if TYPE_CHECKING:
    from streams.app import Worker

log = logging.getLogger("velo.web")

#: Loopback addresses, where an API without keys is expected (development).
LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass
class Reply:
    """A response, before it is given to one web server or the other."""

    status: int
    body: Any  # JSON-able, or bytes with ``content_type``
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None


Handler = Callable[[Any], Awaitable[Reply]]


class Gate:
    """API keys, rate limits and the circuit breaker, from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.keys = ApiKeys.parse(settings.api_keys.get_secret_value())
        self.limiter = RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
        self.breaker = CircuitBreaker()
        if not self.keys.required and settings.web_host not in LOOPBACK:
            log.warning(
                "the API on %s answers anyone: set VELO_API_KEYS to require keys for /predict and /models",
                settings.web_host,
            )

    def admit(self, request: Any) -> Reply | None:
        """None if the request may go on; else the 401 or 429 to answer."""
        caller = None
        if self.keys.required:
            caller = self.keys.identify(presented_key(request.headers))
            if caller is None:
                metrics.HTTP_REFUSED.labels("401").inc()
                return Reply(
                    401,
                    {"error": "an API key is required: send it in X-API-Key (or Authorization: Bearer)"},
                    {"WWW-Authenticate": 'Bearer realm="velo"'},
                )
        wait = self.limiter.take(caller or f"addr:{request.remote}")
        if wait > 0:
            metrics.HTTP_REFUSED.labels("429").inc()
            after = retry_after(wait)
            return Reply(429, {"error": f"rate limit exceeded: retry after {after} s"}, {"Retry-After": after})
        return None


def _guarded(gate: Gate, handler: Handler) -> Handler:
    async def run(request: Any) -> Reply:
        refused = gate.admit(request)
        return refused if refused is not None else await handler(request)

    return run


def handlers(worker: Worker, gate: Gate) -> tuple[dict[str, Handler], dict[str, Handler]]:
    """The API's views (path -> handler, behind the gate) and the ops views."""

    async def predict(request: Any) -> Reply:
        if gate.breaker.open:
            return Reply(503, {"error": "unavailable", "reasons": gate.breaker.reasons}, {"Retry-After": "1"})
        try:
            card = RaceCard.validate_obj(orjson.loads(await request.read()))
        except orjson.JSONDecodeError as exc:
            return Reply(422, {"errors": [{"field": "(body)", "reason": f"not valid JSON: {exc}"}]})
        except ContractError as exc:
            return Reply(422, exc.as_dict())
        try:
            pred = await worker.predict(card)
        except Exception as exc:
            if not is_transient(exc):
                log.exception("POST /predict failed")
                return Reply(422, {"error": f"scoring failed: {describe(exc)}"})
            gate.breaker.trip(describe(exc))
            return Reply(503, {"error": describe(exc)}, {"Retry-After": "1"})
        return Reply(200, pred.to_dict())

    def record(loaded: Any) -> Reply:
        return Reply(404, {"error": "none loaded"}) if loaded is None else Reply(200, loaded.record.model_dump())

    async def champion(request: Any) -> Reply:
        return record(worker.holder.champion)

    async def challenger(request: Any) -> Reply:
        return record(worker.holder.challenger)

    async def health(request: Any) -> Reply:
        reasons = await worker.problems()
        return Reply(200 if not reasons else 503, worker.status_body(reasons))

    async def ready(request: Any) -> Reply:
        reasons = await worker.not_ready()
        return Reply(200 if not reasons else 503, worker.status_body(reasons))

    async def prometheus(request: Any) -> Reply:
        # aiohttp wants the charset apart from the content type
        return Reply(200, generate_latest(metrics.REGISTRY), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    api = {"/predict": predict, "/models/champion": champion, "/models/challenger": challenger}
    ops: dict[str, Handler] = {"/health": health, "/ready": ready, "/metrics": prometheus}
    return {path: _guarded(gate, h) for path, h in api.items()}, ops


def _faust_view(handler: Handler, method: str) -> type[View]:
    async def respond(self: View, request: Request) -> Response:
        r = await handler(request)
        if isinstance(r.body, bytes):
            return self.bytes(r.body, content_type=r.content_type, status=r.status, headers=r.headers)
        return self.json(r.body, status=r.status, headers=r.headers)

    return type(f"View_{handler.__name__}", (View,), {method: respond})


def install(worker: Worker, gate: Gate) -> Callable[[], Awaitable[None]] | None:
    """Serve the views on the Faust app's web port, the ops views there too
    unless ``VELO_OPS_PORT`` is set; then returns the coroutine function
    that serves them on that port (run it as a task)."""
    api, ops = handlers(worker, gate)
    for path, h in api.items():
        worker.app.page(path)(_faust_view(h, "post" if path == "/predict" else "get"))
    port = worker.settings.ops_port
    if port is None:
        for path, h in ops.items():
            worker.app.page(path)(_faust_view(h, "get"))
        return None

    async def serve_ops() -> None:
        site_app = web.Application()
        for path, h in ops.items():
            site_app.router.add_get(path, _aiohttp_handler(h))
        runner = web.AppRunner(site_app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, worker.settings.web_host, port).start()
        log.info("ops views (/health, /ready, /metrics) on %s:%d", worker.settings.web_host, port)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    return serve_ops


def _aiohttp_handler(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def respond(request: web.Request) -> web.Response:
        r = await handler(request)
        if isinstance(r.body, bytes):
            return web.Response(body=r.body, status=r.status, headers=r.headers, content_type=r.content_type)
        return web.Response(
            body=orjson.dumps(r.body), status=r.status, headers=r.headers, content_type="application/json"
        )

    return respond


async def probe(worker: Worker, gate: Gate, every_s: float) -> None:
    """Keep the breaker current: Redis and the broker, every ``every_s``."""
    while True:
        try:
            reasons = await worker.dependencies()
        except Exception as exc:  # a probe that cannot run says so, and tries again
            reasons = [f"probe failed: {describe(exc)}"]
        gate.breaker.record(reasons)
        metrics.BREAKER_OPEN.set(1 if reasons else 0)
        await asyncio.sleep(every_s)
