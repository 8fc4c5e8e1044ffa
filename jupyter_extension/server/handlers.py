"""The REST API's handlers: thin, each one a call into :class:`Backend` on a worker thread.

Every method is wrapped by :func:`endpoint`, which requires Jupyter's
authentication and authorization (resource ``orchestrate``; ``read`` for GET,
``write`` for changing schedules, ``execute`` for starting or stopping work)
and turns errors into statuses through :mod:`jupyter_extension.server.errors`.
Request bodies are read by the engine's safe loader (size, depth, integer and
UTF-8 limits: 400, never a 500); every response document and error message
passes through the project's redactor, so no secret value leaves the server.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from jupyter_extension.server import history
from jupyter_extension.server.backend import Backend
from jupyter_extension.server.errors import ApiError, FieldError, to_http_error
from jupyter_extension.server.schedules import check_parameters
from orchestrate_ext.clock import parse_datetime
from orchestrate_ext.errors import BadInput
from orchestrate_ext.safe_load import REQUEST_LIMITS, load_json
from orchestrate_ext.store.records import SQL_INT_MAX

AUTH_RESOURCE = "orchestrate"
BACKEND_SETTING = "orchestrate_backend"
T = TypeVar("T")
Method = Callable[..., Awaitable[None]]


def endpoint(action: str) -> Callable[[Method], Method]:
    """Authenticate, authorize ``action`` on ``orchestrate``, and map errors in one place."""

    def decorate(method: Method) -> Method:
        @functools.wraps(method)
        async def mapped(self: OrchestrateHandler, *args: Any, **kwargs: Any) -> None:
            try:
                await method(self, *args, **kwargs)
            except Exception as exc:
                error = to_http_error(exc)
                if error is exc:
                    raise
                raise error from exc

        return web.authenticated(authorized(action)(mapped))  # type: ignore[return-value]

    return decorate


class OrchestrateHandler(APIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def backend(self) -> Backend:
        backend: Backend = self.settings[BACKEND_SETTING]
        return backend

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` on a worker thread, its result redacted there."""
        return await asyncio.to_thread(self._redacted, function, *args)

    def _redacted(self, function: Callable[..., T], *args: Any) -> T:
        result = function(*args)
        redacted: T = self.backend.redactor().document(result)
        return redacted

    def reply(self, document: object, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(document))

    def body(self, keys: tuple[str, ...] | None = None) -> dict[str, Any]:
        """The request's JSON object, read by the engine's safe loader; NaN and Infinity are refused (not JSON).

        Args:
            keys: the keys the route takes; any other is refused (``None``: the route checks them itself).
        """
        value = load_json(self.request.body or b"{}", "the request body", REQUEST_LIMITS, constants=False)
        if not isinstance(value, dict):
            raise BadInput(f"the request body must be a JSON object, not {type(value).__name__}")
        unknown = sorted(set(value) - set(keys)) if keys is not None else []
        if unknown:
            known = " and ".join(f"'{key}'" for key in keys or ())
            raise BadInput(f"request body: unknown key '{unknown[0][:100]}'; this route takes only {known}")
        return value

    def text_arg(self, name: str, default: str | None = None) -> str | None:
        value = self.get_query_argument(name, default)
        return default if value is None or value == "" else value

    def required_arg(self, name: str) -> str:
        value = self.text_arg(name)
        if value is None:
            raise BadInput(f"the query parameter '{name}' is missing")
        return value

    def int_arg(self, name: str, default: int | None) -> int | None:
        value = self.text_arg(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise BadInput(f"the query parameter '{name}' must be a whole number, not '{value}'") from None
        if not -SQL_INT_MAX - 1 <= number <= SQL_INT_MAX:
            raise BadInput(
                f"the query parameter '{name}' is {value}, beyond what the store can hold "
                f"(±{SQL_INT_MAX}); use a smaller number"
            )
        return number

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        if isinstance(exc, ApiError):
            self.set_header("Content-Type", "application/json")
            document = {"message": self.backend.last_redactor(exc.message), "reason": exc.reason, "error": exc.kind}
            if exc.field is not None:
                document.update(field=exc.field, detail=self.backend.last_redactor(exc.detail or ""))
            self.finish(json.dumps(document))
            return
        super().write_error(status_code, **kwargs)


class InfoHandler(OrchestrateHandler):
    @endpoint("read")
    async def get(self) -> None:
        self.reply(await self.call(self.backend.info))


class GraphHandler(OrchestrateHandler):
    @endpoint("read")
    async def get(self) -> None:
        self.reply(await self.call(self.backend.graph, self.text_arg("select")))


class NodesHandler(OrchestrateHandler):
    @endpoint("read")
    async def get(self) -> None:
        self.reply(await self.call(self.backend.nodes))


class NodeHistoryHandler(OrchestrateHandler):
    """``GET /nodes/history?node=ID``: the node's status in its last 10 runs."""

    @endpoint("read")
    async def get(self) -> None:
        self.reply(await self.call(self.backend.node_recent, self.required_arg("node")))


class NotebookHandler(OrchestrateHandler):
    @endpoint("read")
    async def get(self) -> None:
        self.reply(await self.call(self.backend.notebook_form, self.required_arg("path")))


class CronHandler(OrchestrateHandler):
    @endpoint("read")
    async def get(self) -> None:
        expression = self.required_arg("cron")
        timezone = self.text_arg("timezone", "UTC")
        count = self.int_arg("count", 3)
        self.reply(await self.call(self.backend.cron_preview, expression, timezone, count))


class SchedulesHandler(OrchestrateHandler):
    @endpoint("read")
    async def get(self) -> None:
        self.reply(await self.call(self.backend.schedules))

    @endpoint("write")
    async def post(self) -> None:
        self.reply(await self.call(self.backend.save_schedule, self.body()))

    @endpoint("write")
    async def delete(self) -> None:
        self.reply(await self.call(self.backend.remove_schedule, self.required_arg("notebook")))


class RunsHandler(OrchestrateHandler):
    @endpoint("read")
    async def get(self) -> None:
        run_filter = history.RunFilter.parse(
            self.get_query_arguments("status"),
            self.get_query_arguments("trigger"),
            self.get_query_arguments("schedule"),
        )
        limit = self.int_arg("limit", 50) or 0
        offset = self.int_arg("offset", 0) or 0
        self.reply(await self.call(self.backend.runs, run_filter, limit, offset))

    @endpoint("execute")
    async def post(self) -> None:
        body = self.body()
        keys = ("select", "logical_date", "parameters", "only_changed")
        unknown = sorted(set(body) - set(keys))
        if unknown:
            known = ", ".join(f"'{key}'" for key in keys[:-1])
            raise BadInput(f"request body: unknown key '{unknown[0]}'; use {known} and '{keys[-1]}'")
        selection = body.get("select")
        logical = body.get("logical_date")
        parameters = body.get("parameters")
        if parameters is not None:
            if not isinstance(parameters, dict):
                raise BadInput(
                    "request body: 'parameters' must be an object of names to JSON values, e.g. {\"top_n\": 3}"
                )
            check_parameters(parameters)
        if selection is not None and not isinstance(selection, str):
            raise BadInput("request body: 'select' must be a selection text such as '+daily_report'")
        only_changed = body.get("only_changed")
        if only_changed is not None and not isinstance(only_changed, bool):
            detail = f"must be true or false, not {json.dumps(only_changed)}"
            raise FieldError(
                f"request body: 'only_changed' {detail}; leave it out to use the project's defaults.only_changed",
                "only_changed",
                detail,
            )
        if logical is not None and not isinstance(logical, str):
            raise BadInput("request body: 'logical_date' must be an ISO-8601 text such as '2024-01-31'")
        try:
            when = parse_datetime(logical) if logical else None
        except ValueError as exc:
            raise BadInput(f"logical_date: {exc}") from None
        self.reply(await self.call(self.backend.trigger, selection, when, parameters, only_changed), status=201)


class PlanHandler(OrchestrateHandler):
    """``GET /plan?select=&only_changed=&logical_date=``: what a run would do (``orchestrate plan``); no side effect."""

    @endpoint("read")
    async def get(self) -> None:
        only_changed = self.text_arg("only_changed")
        if only_changed not in (None, "true", "false"):
            detail = f"must be true or false, not '{only_changed}'"
            raise FieldError(
                f"the query parameter 'only_changed' {detail}; leave it out to use the project's defaults.only_changed",
                "only_changed",
                detail,
            )
        logical = self.text_arg("logical_date")
        try:
            when = parse_datetime(logical) if logical else None
        except ValueError as exc:
            raise BadInput(f"logical_date: {exc}") from None
        changed = None if only_changed is None else only_changed == "true"
        self.reply(await self.call(self.backend.plan, self.text_arg("select"), when, changed))


class DeleteRunsHandler(OrchestrateHandler):
    """``POST /runs/delete`` with ``{"run_ids": [...]}``: finished runs, with their logs and outputs."""

    @endpoint("write")
    async def post(self) -> None:
        self.reply(await self.call(self.backend.delete_runs, self.body()))


class RunHandler(OrchestrateHandler):
    @endpoint("read")
    async def get(self, run_id: str) -> None:
        self.reply(await self.call(self.backend.run, run_id))


class RetryHandler(OrchestrateHandler):
    @endpoint("execute")
    async def post(self, run_id: str) -> None:
        self.reply(await self.call(self.backend.retry, run_id), status=202)


class CancelHandler(OrchestrateHandler):
    @endpoint("execute")
    async def post(self, run_id: str) -> None:
        self.reply(await self.call(self.backend.cancel, run_id), status=202)


class LogsHandler(OrchestrateHandler):
    @endpoint("read")
    async def get(self, run_id: str) -> None:
        node = self.required_arg("node")
        self.reply(await self.call(self.backend.logs, run_id, node, self.int_arg("try", None)))


class OutputHandler(OrchestrateHandler):
    @endpoint("read")
    async def get(self, run_id: str) -> None:
        node = self.required_arg("node")
        self.reply(await self.call(self.backend.output, run_id, node, self.int_arg("try", None)))


class OutputHtmlHandler(OrchestrateHandler):
    """The output notebook as an HTML file to download."""

    @endpoint("read")
    async def get(self, run_id: str) -> None:
        node = self.required_arg("node")
        name, html = await self.call(self.backend.output_html, run_id, node, self.int_arg("try", None))
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(name)}")
        super(APIHandler, self).finish(html)  # APIHandler.finish would make it JSON


class TicksHandler(OrchestrateHandler):
    @endpoint("read")
    async def get(self) -> None:
        limit = self.int_arg("limit", 50) or 0
        self.reply(await self.call(self.backend.ticks, self.text_arg("schedule"), limit))


class BackfillsHandler(OrchestrateHandler):
    @endpoint("execute")
    async def post(self) -> None:
        self.reply(await self.call(self.backend.start_backfill, self.body()), status=202)


class ScheduleStateHandler(OrchestrateHandler):
    """``POST /schedules/pause`` and ``/schedules/resume`` with ``{"schedule": NAME}``."""

    @endpoint("write")
    async def post(self, action: str) -> None:
        name = self.body(keys=("schedule",)).get("schedule")
        if not isinstance(name, str) or not name:
            raise BadInput("request body: 'schedule' must name a schedule, as listed by GET /orchestrate/api/schedules")
        self.reply(await self.call(self.backend.set_paused, name, action == "pause"))


class SchedulerHandler(OrchestrateHandler):
    @endpoint("read")
    async def get(self) -> None:
        self.reply(await self.call(self.backend.scheduler_status))

    @endpoint("execute")
    async def post(self) -> None:
        self.reply(await self.call(self.backend.start_scheduler), status=202)

    @endpoint("execute")
    async def delete(self) -> None:
        """Stop the scheduler (SIGTERM): 202 while it lets running nodes finish, 409 when none runs here."""
        self.reply(await self.call(self.backend.stop_scheduler), status=202)


_RUN = r"(?P<run_id>[^/]+)"

ROUTES: list[tuple[str, type[OrchestrateHandler]]] = [
    (r"/info", InfoHandler),
    (r"/graph", GraphHandler),
    (r"/nodes", NodesHandler),
    (r"/nodes/history", NodeHistoryHandler),
    (r"/notebook", NotebookHandler),
    (r"/cron", CronHandler),
    (r"/schedules", SchedulesHandler),
    (r"/schedules/(?P<action>pause|resume)", ScheduleStateHandler),
    (r"/scheduler", SchedulerHandler),
    (r"/ticks", TicksHandler),
    (r"/backfills", BackfillsHandler),
    (r"/plan", PlanHandler),
    (r"/runs", RunsHandler),
    (r"/runs/delete", DeleteRunsHandler),  # before /runs/{run_id}, which would take it
    (rf"/runs/{_RUN}", RunHandler),
    (rf"/runs/{_RUN}/retry", RetryHandler),
    (rf"/runs/{_RUN}/cancel", CancelHandler),
    (rf"/runs/{_RUN}/logs", LogsHandler),
    (rf"/runs/{_RUN}/output", OutputHandler),
    (rf"/runs/{_RUN}/output\.html", OutputHtmlHandler),
]
"""Routes under ``<base_url>orchestrate/api``."""
