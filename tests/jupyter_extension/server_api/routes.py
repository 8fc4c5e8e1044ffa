"""Every route the running server has under ``/orchestrate/``, read from tornado's routers.

Read from the application rather than from a list in the tests, so a route
added later cannot escape the authentication tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tornado.routing import Router
from tornado.web import Application, RequestHandler

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>[^)]*)\)")


@dataclass(frozen=True)
class Route:
    pattern: str
    handler: type[RequestHandler]

    @property
    def methods(self) -> list[str]:
        """The HTTP methods the handler implements (the others answer 405 without running any code)."""
        return [
            method
            for method in METHODS
            if getattr(self.handler, method.lower()) is not getattr(RequestHandler, method.lower())
        ]

    def sample_path(self, values: dict[str, str] | None = None) -> str:
        """A concrete path for the pattern: each group gets ``values[name]``, its first alternative, or 'sample'."""
        values = values or {}

        def fill(match: re.Match[str]) -> str:
            if match["name"] in values:
                return values[match["name"]]
            body = match["body"]
            return body.split("|")[0] if re.fullmatch(r"[\w|]+", body) else "sample"

        return re.sub(r"\\(.)", r"\1", _GROUP.sub(fill, self.pattern).rstrip("$"))  # `output\.html` -> `output.html`


def orchestrate_routes(app: Application) -> list[Route]:
    found: dict[str, Route] = {}

    def walk(router: Router) -> None:
        for rule in getattr(router, "rules", []):
            target = rule.target
            if isinstance(target, type) and issubclass(target, RequestHandler):
                regex = getattr(rule.matcher, "regex", None)
                if regex is not None and "/orchestrate/" in regex.pattern:
                    found.setdefault(regex.pattern, Route(regex.pattern, target))
            elif isinstance(target, Router):
                walk(target)

    walk(app.default_router)
    return sorted(found.values(), key=lambda route: route.pattern)
