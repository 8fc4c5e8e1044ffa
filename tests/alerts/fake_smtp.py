"""A real SMTP server (aiosmtpd) on loopback, with STARTTLS or implicit TLS and a login."""

from __future__ import annotations

import email
import socket
import ssl
import subprocess
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1 (openssl), and its key."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MailBox:
    """The aiosmtpd handler: keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append(envelope.content)
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd with a login (``alerts`` / the given password) and TLS (``starttls`` or ``ssl``)."""

    def __init__(self, cert: Path, key: Path, *, password: str, mode: str = "starttls") -> None:
        self.mailbox = MailBox()
        self.password = password
        self.port = free_port()
        self.logins: list[tuple[str, bool]] = []
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        options: dict[str, Any] = {
            "authenticator": self._authenticate,
            "auth_require_tls": True,
            # aiosmtpd's LOGIN ignores smtplib's initial response after a failed PLAIN; offer PLAIN only
            "auth_exclude_mechanism": ["LOGIN"],
        }
        if mode == "ssl":
            options["ssl_context"] = context
            options["server_hostname"] = "localhost"
            options["auth_require_tls"] = False  # aiosmtpd does not see that implicit TLS is TLS
        else:
            options["tls_context"] = context
            options["require_starttls"] = True
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = auth_data.login == b"alerts" and auth_data.password == self.password.encode()
        self.logins.append((auth_data.login.decode(), ok))
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 235 or 535

    @property
    def messages(self) -> list[EmailMessage]:
        return self.mailbox.messages

    def stop(self) -> None:
        self.controller.stop()
