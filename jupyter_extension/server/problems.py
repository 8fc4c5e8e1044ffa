"""The Problems view's API, the one-click fixes, the "Set up this folder" of a new project, and load progress.

- ``GET problems``: every problem of the project (:mod:`orchestrate_ext.problems`, the checks
  ``orchestrate validate`` runs and the ``config_error`` problems of the scheduler), each with the
  Lab path of the file that fixes it; a project that cannot be loaded is one problem, and
  ``setup`` says whether the folder has no orchestrate.yaml yet.
- ``POST problems/fix`` ``{"fix": "ignore_checkpoints"}``: a plugin's fix (idempotent).
- ``POST setup``: what ``orchestrate init`` does (:func:`orchestrate_ext.scaffold.write_initial_config`),
  refused when orchestrate.yaml exists; answers with what it found.
- ``GET loading``: whether the graph is being built (``dbt parse`` runs then) and for how long.
"""

from __future__ import annotations

from typing import Any

from jupyter_extension.server.backend import Backend
from jupyter_extension.server.handlers import OrchestrateHandler, endpoint
from jupyter_extension.server.paths import relative_to_root
from orchestrate_ext.config import CONFIG_FILE
from orchestrate_ext.errors import BadInput
from orchestrate_ext.problems import apply_fix, project_problems, unloadable
from orchestrate_ext.project import Project, load_plugins
from orchestrate_ext.scaffold import write_initial_config


def problems_document(backend: Backend) -> dict[str, Any]:
    """Every problem, with ``lab_path`` (the file to open to fix it) and ``node_kind`` where it is a node's."""
    config_path = backend.project_dir / CONFIG_FILE
    if not config_path.is_file():
        return {
            "problems": [],
            "count": 0,
            "setup": True,
            "project": relative_to_root(backend.root, backend.project_dir),
        }
    try:
        project = backend.graph_project()
    except BadInput as exc:
        unloaded = unloadable(exc).to_json()
        unloaded["lab_path"] = relative_to_root(backend.root, config_path)
        return {"problems": [unloaded], "count": 1, "setup": False}
    nodes = project.partial_graph.graph.nodes
    documents = []
    for problem in project_problems(project):
        document = problem.to_json()
        node = nodes.get(problem.node_id) if problem.node_id else None
        document["node_kind"] = node.kind if node is not None else None
        document["node_name"] = node.name if node is not None else None
        if node is not None and node.path:
            document["lab_path"] = relative_to_root(backend.root, project.root / node.path)
        elif problem.kind in ("schedule", "project"):
            document["lab_path"] = relative_to_root(backend.root, config_path)
        else:
            document["lab_path"] = None
        documents.append(document)
    return {"problems": documents, "count": len(documents), "setup": False}


def fix(backend: Backend, body: dict[str, Any]) -> dict[str, Any]:
    action = body.get("fix")
    if not isinstance(action, str) or not action:
        raise BadInput("request body: 'fix' must name a fix the Problems view offers, e.g. 'ignore_checkpoints'")
    done = apply_fix(backend.project(), action)
    backend.forget_project()
    return {"fix": action, "done": done}


def set_up(backend: Backend) -> dict[str, Any]:
    """``orchestrate init`` in the project folder; what it wrote and found, and the nodes the project now has."""
    path, notes = write_initial_config(backend.project_dir, plugins=load_plugins().values())
    backend.forget_project()
    nodes: dict[str, int] = {}
    problem = None
    try:
        for node in Project.load(backend.project_dir).partial_graph.graph.nodes.values():
            nodes[node.resource_type] = nodes.get(node.resource_type, 0) + 1
    except BadInput as exc:
        problem = str(exc)
    return {
        "path": relative_to_root(backend.root, path),
        "notes": [note.replace(str(backend.root) + "/", "") for note in notes],
        "nodes": nodes,
        "problem": problem,
    }


class ProblemsHandler(OrchestrateHandler):
    @endpoint("read")
    async def get(self) -> None:
        self.reply(await self.call(problems_document, self.backend))


class FixHandler(OrchestrateHandler):
    @endpoint("write")
    async def post(self) -> None:
        self.reply(await self.call(fix, self.backend, self.body(("fix",))))


class SetupHandler(OrchestrateHandler):
    @endpoint("write")
    async def post(self) -> None:
        self.body(())
        self.reply(await self.call(set_up, self.backend))


class LoadingHandler(OrchestrateHandler):
    @endpoint("read")
    async def get(self) -> None:
        self.reply(self.backend.loading())


ROUTES: list[tuple[str, type[OrchestrateHandler]]] = [
    (r"/problems", ProblemsHandler),
    (r"/problems/fix", FixHandler),
    (r"/setup", SetupHandler),
    (r"/loading", LoadingHandler),
]
