"""A Docker Hub stand-in that reverse-proxies to a local upstream registry.

The stand-in behaves towards registry clients the way Docker Hub does:

- `GET /v2/` and every repository path without a valid bearer token get 401
  with `WWW-Authenticate: Bearer realm="<base>/token",service=
  "registry.docker.io"` and, on repository paths, `scope="repository:NAME:pull"`.
- `GET /token?service=...&scope=repository:NAME:pull` returns a token. Basic
  credentials are checked when configured and anonymous clients are allowed
  by default.
- A manifest GET is a pull and uses one unit of the quota, a HEAD does not.
  Manifest responses carry `ratelimit-limit: N;w=21600` and
  `ratelimit-remaining: M;w=21600`, and once the quota is spent manifest GETs
  get 429 with a `TOOMANYREQUESTS` error.
- Only GET and HEAD are served, so pushes go straight to the upstream.

WAN emulation (round-trip time per request, shared bandwidth for bodies) sits
in front of all of this. Two paths exist for the benchmark and tests and are
not part of Docker Hub's API, so they skip auth, WAN delay and counters:

- `GET /_standin/stats` returns the counters as JSON (see `HubStats.to_json`).
- `POST /_standin/reset` zeroes the counters and refills the quota; a JSON
  body `{"limit": N}` sets a new limit.
- `POST /_standin/fault` with `{"mode": "normal" | "refuse" | "hang" |
  "error500" | "ratelimit"}` switches fault injection (see `FaultMode`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from main.stack.asgi_server import bind_socket, dropping_protocol, serve_asgi
from main.stack.hub_auth import (
    DOCKER_HUB_SERVICE,
    BasicCredentials,
    TokenCheck,
    TokenIssuer,
    bearer_challenge,
    repository_scope,
)
from main.stack.hub_proxy import RegistryProxy, registry_error
from main.stack.hub_state import (
    RATE_LIMIT_WINDOW_SECONDS,
    FaultMode,
    HubState,
    HubStats,
    classify_path,
)
from main.stack.wan import WanMeter, WanMiddleware, WanProfile

__all__ = ["CONTROL_PREFIX", "HubSettings", "HubStandin", "create_hub_app", "run_hub"]

logger = logging.getLogger(__name__)

CONTROL_PREFIX = "/_standin/"

_NAME = "Docker Hub stand-in"


@dataclass(frozen=True)
class HubSettings:
    """Behaviour of the stand-in: quota, WAN figures, credentials and timeouts.

    `pull_limit` is the quota of counted pulls until the next reset.
    `max_hang_seconds` bounds how long the `hang` fault keeps a request open.
    """

    pull_limit: int = 100
    wan: WanProfile = field(default_factory=WanProfile)
    credentials: BasicCredentials | None = None
    allow_anonymous: bool = True
    token_lifetime_seconds: int = 300
    max_hang_seconds: float = 300.0
    upstream_timeout_seconds: float = 60.0


class HubStandin:
    """A running stand-in: its URL, counters and controls for tests."""

    def __init__(self, base_url: str, state: HubState, wan: WanMeter) -> None:
        self.base_url = base_url
        self.state = state
        self.wan = wan

    def stats(self) -> HubStats:
        """Return a snapshot of the counters."""
        return self.state.snapshot()

    def reset(self, limit: int | None = None) -> None:
        """Zero the counters and refill the quota, to `limit` when given."""
        self.state.reset(limit)

    def set_fault(self, mode: FaultMode) -> None:
        """Switch the injected fault."""
        self.state.set_fault(mode)


def create_hub_app(
    base_url: str,
    proxy: RegistryProxy,
    state: HubState,
    settings: HubSettings,
    wan: WanMeter,
) -> ASGIApp:
    """Build the stand-in's ASGI app on top of `proxy` and `state`."""
    issuer = TokenIssuer(
        credentials=settings.credentials,
        allow_anonymous=settings.allow_anonymous,
        lifetime_seconds=settings.token_lifetime_seconds,
    )
    handlers = _Handlers(base_url, proxy, state, settings, issuer)
    routes = [
        Route("/token", handlers.token, methods=["GET"]),
        Route("/v2/{path:path}", handlers.registry, methods=_ALL_METHODS),
        Route(f"{CONTROL_PREFIX}stats", handlers.stats, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}reset", handlers.reset, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}fault", handlers.fault, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    paced = WanMiddleware(
        app, settings.wan, meter=wan, exempt_prefixes=(CONTROL_PREFIX,)
    )
    return _CountingMiddleware(paced, state)


_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


class _Handlers:
    def __init__(
        self,
        base_url: str,
        proxy: RegistryProxy,
        state: HubState,
        settings: HubSettings,
        issuer: TokenIssuer,
    ) -> None:
        self.realm = f"{base_url}/token"
        self.proxy = proxy
        self.state = state
        self.settings = settings
        self.issuer = issuer

    async def token(self, request: Request) -> Response:
        fault_response = await self._fault_response(request, "token")
        if fault_response is not None:
            return fault_response
        if not self.issuer.authenticate(request.headers.get("authorization")):
            logger.info("rejected token request: invalid or missing credentials")
            body = {"details": "incorrect username or password"}
            return JSONResponse(body, status_code=401)
        scopes = request.query_params.getlist("scope")
        return JSONResponse(self.issuer.issue(scopes))

    async def registry(self, request: Request) -> Response:
        kind, repository = classify_path(request.url.path)
        fault_response = await self._fault_response(request, kind)
        if fault_response is not None:
            return fault_response
        if request.method not in ("GET", "HEAD"):
            message = "the Docker Hub stand-in serves pulls only"
            return registry_error(405, "UNSUPPORTED", message)
        challenge = self._challenge(request, repository)
        if challenge is not None:
            return challenge
        if request.url.path == "/v2/":
            return JSONResponse({}, headers=_API_VERSION_HEADER)
        if kind == "manifest" and request.method == "GET":
            return await self._pull(request)
        if kind == "manifest":
            return await self.proxy.forward(request, _rate_limit_headers(self.state))
        return await self.proxy.forward(request)

    def _challenge(self, request: Request, repository: str | None) -> Response | None:
        """Return a 401 response unless the request has a fitting token."""
        check = self.issuer.check(request.headers.get("authorization"), repository)
        if check is TokenCheck.VALID:
            return None
        scope = repository_scope(repository) if repository is not None else None
        error = None if check is TokenCheck.MISSING else check.value
        header = bearer_challenge(self.realm, DOCKER_HUB_SERVICE, scope, error)
        response = registry_error(401, "UNAUTHORIZED", "authentication required")
        response.headers["www-authenticate"] = header
        return response

    async def _pull(self, request: Request) -> Response:
        """Forward a manifest GET, charging it to the pull quota on success."""
        if not self.state.reserve_pull():
            logger.info("rejected pull %s: pull limit reached", request.url.path)
            return _too_many(self.state)
        upstream = await self.proxy.open(request)
        if not isinstance(upstream, httpx.Response):
            self.state.release_pull()
            return upstream
        if upstream.is_success:
            self.state.confirm_pull()
        else:
            self.state.release_pull()
        return self.proxy.relay(upstream, _rate_limit_headers(self.state))

    async def stats(self, request: Request) -> Response:
        return JSONResponse(self.state.snapshot().to_json())

    async def reset(self, request: Request) -> Response:
        limit = None
        body = await request.body()
        if body:
            try:
                limit = json.loads(body).get("limit")
            except (json.JSONDecodeError, AttributeError):
                return _bad_control_request(
                    'expected a JSON object like {"limit": 100}'
                )
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            return _bad_control_request(f"invalid limit {limit!r}; use 0 or more")
        self.state.reset(limit)
        logger.info("reset counters, pull limit %s", self.state.limit)
        return JSONResponse(self.state.snapshot().to_json())

    async def fault(self, request: Request) -> Response:
        modes = ", ".join(mode.value for mode in FaultMode)
        try:
            mode = FaultMode(json.loads(await request.body())["mode"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            return _bad_control_request(f'expected {{"mode": M}} with M one of {modes}')
        self.state.set_fault(mode)
        logger.info("fault mode set to %s", mode.value)
        return JSONResponse({"mode": mode.value})

    async def _fault_response(self, request: Request, kind: str) -> Response | None:
        """Return the response that the injected fault demands, if any."""
        if self.state.fault is FaultMode.HANG:
            with anyio.move_on_after(self.settings.max_hang_seconds):
                while self.state.fault is FaultMode.HANG and not self.state.closing:
                    await self.state.wait_fault_change()
        fault = self.state.fault
        if fault is FaultMode.HANG:
            return registry_error(503, "UNAVAILABLE", "fault injected: request held")
        if fault is FaultMode.ERROR500:
            return registry_error(500, "UNKNOWN", "fault injected: internal error")
        is_pull = kind == "manifest" and request.method == "GET"
        if fault is FaultMode.RATELIMIT and is_pull:
            self.state.reject_pull()
            return _too_many(self.state)
        return None


_API_VERSION_HEADER = {"docker-distribution-api-version": "registry/2.0"}


def _rate_limit_headers(state: HubState) -> dict[str, str]:
    window = RATE_LIMIT_WINDOW_SECONDS
    return {
        "ratelimit-limit": f"{state.limit};w={window}",
        "ratelimit-remaining": f"{state.remaining};w={window}",
    }


def _too_many(state: HubState) -> Response:
    message = (
        f"pull rate limit of {state.limit} per {RATE_LIMIT_WINDOW_SECONDS} s "
        f"reached; POST {CONTROL_PREFIX}reset refills it"
    )
    response = registry_error(429, "TOOMANYREQUESTS", message)
    response.headers.update(_rate_limit_headers(state))
    return response


def _bad_control_request(message: str) -> Response:
    return JSONResponse({"error": message}, status_code=400)


class _CountingMiddleware:
    """Count requests by method and kind and response body bytes."""

    def __init__(self, app: ASGIApp, state: HubState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        kind, _ = classify_path(scope["path"])
        self.state.record_request(scope["method"], kind)

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.body":
                self.state.record_bytes(len(message.get("body", b"")))
            await send(message)

        await self.app(scope, receive, counting_send)


@asynccontextmanager
async def run_hub(
    upstream_url: str,
    settings: HubSettings | None = None,
    *,
    port: int | None = None,
    port_option: str = "--hub-port",
) -> AsyncIterator[HubStandin]:
    """Run the stand-in on 127.0.0.1 in front of `upstream_url` until exit.

    `port` None picks a free port, and a taken port raises `StackError`
    naming `port_option`.
    """
    settings = settings or HubSettings()
    state = HubState(settings.pull_limit)
    wan = WanMeter()
    sock = bind_socket(port, port_option)
    host, bound_port = sock.getsockname()
    base_url = f"http://{host}:{bound_port}"
    proxy = RegistryProxy(upstream_url, settings.upstream_timeout_seconds)
    protocol = dropping_protocol(
        lambda: state.fault is FaultMode.REFUSE, CONTROL_PREFIX.encode()
    )
    try:
        async with proxy:
            app = create_hub_app(base_url, proxy, state, settings, wan)
            async with serve_asgi(app, sock, name=_NAME, protocol=protocol):
                try:
                    yield HubStandin(base_url, state, wan)
                finally:
                    state.release_held()
    finally:
        sock.close()
