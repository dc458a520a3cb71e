"""The gateway's Starlette application: registry API routes, metrics, health.

To distribution the gateway is an anonymous, read-only registry. `GET /v2/`
is answered locally with 200, so distribution starts, and serves its cache,
while the upstream is down (distribution 2.8 panics at start-up when the
`GET /v2/` of its remote fails: distribution/distribution#4038).

An exception while serving a request fails that request alone, with a 500
registry error, and is logged once with the request's path.
"""

from __future__ import annotations

import logging
import re

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from main.gateway.answers import API_VERSION_HEADER, error_response
from main.gateway.metrics import CONTENT_TYPE
from main.gateway.service import Gateway
from main.gateway.spool import SpoolError
from main.reference import digest_problem

__all__ = ["HEALTH_PATH", "METRICS_PATH", "create_app", "normalize_accept"]

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"

# Repository names and tags as the OCI distribution specification defines them.
_NAME = re.compile(
    r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
)
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def create_app(gateway: Gateway) -> Starlette:
    """Build the ASGI application that serves `gateway`."""

    async def ping(request: Request) -> Response:
        return Response(
            b"{}", 200, {"Content-Type": "application/json", **API_VERSION_HEADER}
        )

    async def manifests(request: Request) -> Response:
        name = request.path_params["name"]
        reference = request.path_params["reference"]
        problem = _name_problem(name) or _reference_problem(reference)
        if problem is not None:
            return problem
        accept = normalize_accept(request.headers.getlist("accept"))
        return await gateway.manifest(request.method, name, reference, accept)

    async def blobs(request: Request) -> Response:
        name = request.path_params["name"]
        digest = request.path_params["digest"]
        problem = _name_problem(name)
        if problem is not None:
            return problem
        if digest_problem(digest) is not None:
            message = f"invalid digest {digest[:80]!r}: {digest_problem(digest)}"
            return error_response(400, "DIGEST_INVALID", message)
        return await gateway.blob(request.method, name, digest)

    async def tag_list(request: Request) -> Response:
        name = request.path_params["name"]
        problem = _name_problem(name)
        if problem is not None:
            return problem
        return await gateway.tag_list(name, request.url.query)

    async def metrics(request: Request) -> Response:
        gateway.metrics.spool_bytes.set(gateway.table.spool_bytes)
        return Response(gateway.metrics.render(), 200, {"Content-Type": CONTENT_TYPE})

    async def health(request: Request) -> Response:
        # Liveness and readiness do not depend on the upstream: the mirror must
        # keep serving its cache while the upstream is down.
        return PlainTextResponse("ok\n")

    return Starlette(
        routes=[
            Route("/v2/", ping, methods=["GET", "HEAD"]),
            Route(
                "/v2/{name:path}/manifests/{reference}",
                manifests,
                methods=["GET", "HEAD"],
            ),
            Route("/v2/{name:path}/blobs/{digest}", blobs, methods=["GET", "HEAD"]),
            Route("/v2/{name:path}/tags/list", tag_list, methods=["GET"]),
            Route(METRICS_PATH, metrics, methods=["GET"]),
            Route(HEALTH_PATH, health, methods=["GET", "HEAD"]),
        ],
        middleware=[Middleware(RequestErrorMiddleware)],
    )


class RequestErrorMiddleware:
    """Answer a request whose handler raised with a 500 registry error.

    Without it, Starlette answers with a plain-text 500 and uvicorn logs the
    traceback a second time. When the response has already started, the
    connection is closed instead, so the client sees a truncated body.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request and contain any exception it raises."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_and_track(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_and_track)
        except SpoolError as exc:
            logger.error("failed %s %s: %s", scope["method"], scope["path"], exc)
            if not started:
                await error_response(500, "UNKNOWN", str(exc))(scope, receive, send)
        except Exception:
            logger.exception(
                "failed %s %s: unexpected error", scope["method"], scope["path"]
            )
            if not started:
                message = "unexpected error in the gateway; its log has the details"
                await error_response(500, "UNKNOWN", message)(scope, receive, send)


def normalize_accept(values: list[str]) -> str:
    """Join Accept header values into one sorted, de-duplicated list.

    Distribution sends one Accept header per media type; the order of types
    does not change what a registry returns, so it does not split flights.
    """
    entries = {entry.strip() for value in values for entry in value.split(",")}
    return ", ".join(sorted(entry for entry in entries if entry))


def _name_problem(name: str) -> Response | None:
    if len(name) <= 255 and _NAME.fullmatch(name):
        return None
    message = f"invalid repository name {name[:80]!r}"
    return error_response(400, "NAME_INVALID", message)


def _reference_problem(reference: str) -> Response | None:
    if _TAG.fullmatch(reference) or digest_problem(reference) is None:
        return None
    message = f"invalid tag or digest {reference[:80]!r}"
    return error_response(400, "MANIFEST_INVALID", message)
