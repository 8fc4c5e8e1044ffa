"""A throwaway PostgreSQL server for the tests: ``initdb`` in a temporary folder, a free loopback port.

``.ci/run`` starts one for the whole test run and exports its URL as
``ORCHESTRATE_TEST_POSTGRES_URL``; on a developer machine the ``postgres_url``
fixture starts its own (and stops it at the end). PostgreSQL refuses to run as
root, so as root the cluster belongs to the ``postgres`` user that Debian's
package creates (or ``nobody``)::

    python -m tests.support.postgres start --dir /tmp/pg     # prints the URL
    python -m tests.support.postgres stop --dir /tmp/pg
    python -m tests.support.postgres resume --dir /tmp/pg    # start it again, same port and data
"""

from __future__ import annotations

import argparse
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
from pathlib import Path

URL_ENV = "ORCHESTRATE_TEST_POSTGRES_URL"
DATABASE = "orchestrate_test"


def binary(name: str) -> str | None:
    """``initdb``/``pg_ctl``/``createdb``: on the PATH, else in the newest ``/usr/lib/postgresql/*/bin``."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda path: int(path.split("/")[4]))
    return candidates[-1] if candidates else None


def _as_owner(argv: list[str]) -> list[str]:
    """Run ``argv`` as an unprivileged user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", _owner(), "--", *argv]


def _owner() -> str:
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and there is no 'postgres' or 'nobody' user to run PostgreSQL as")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(folder: Path) -> str:
    """Create and start a cluster in ``folder``; return the URL of its test database."""
    initdb, pg_ctl, createdb = binary("initdb"), binary("pg_ctl"), binary("createdb")
    if not (initdb and pg_ctl and createdb):
        raise RuntimeError("PostgreSQL is not installed (no initdb); `.ci/run` installs Debian's postgresql package")
    folder.mkdir(parents=True, exist_ok=True)
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        owner = pwd.getpwnam(_owner())
        for path in (folder, sockets):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    user = pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() != 0 else _owner()
    subprocess.run(
        _as_owner([initdb, "-D", str(data), "-U", user, "-A", "trust", "--no-sync", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    port = _free_port()
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    (folder / "options").write_text(options)
    resume(folder)
    subprocess.run(
        _as_owner([createdb, "-h", "127.0.0.1", "-p", str(port), "-U", user, DATABASE]), check=True, capture_output=True
    )
    return f"postgresql://{user}@127.0.0.1:{port}/{DATABASE}"


def resume(folder: Path) -> None:
    """Start the cluster in ``folder`` (made by :func:`start`, stopped by :func:`stop`) again, on its port."""
    pg_ctl = binary("pg_ctl")
    assert pg_ctl is not None
    options = (folder / "options").read_text()
    subprocess.run(
        _as_owner([pg_ctl, "-D", str(folder / "data"), "-o", options, "-l", str(folder / "server.log"), "-w", "start"]),
        check=True,
        capture_output=True,
    )


def stop(folder: Path) -> None:
    pg_ctl = binary("pg_ctl")
    if pg_ctl and (folder / "data" / "postmaster.pid").exists():
        subprocess.run(_as_owner([pg_ctl, "-D", str(folder / "data"), "-m", "immediate", "stop"]), capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop", "resume"])
    parser.add_argument("--dir", type=Path, required=True)
    arguments = parser.parse_args()
    if arguments.action == "start":
        print(start(arguments.dir))
    elif arguments.action == "resume":
        resume(arguments.dir)
    else:
        stop(arguments.dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
