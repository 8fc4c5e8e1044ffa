"""E-mail delivery over SMTP: STARTTLS or implicit TLS, optional login, a text and an HTML part.

Follow-ups of an incident carry ``In-Reply-To``/``References`` so mail
clients show them in the thread of the first message.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from alerts.channels import EMAIL, UPDATE, DeliveryError, Outbound
from alerts.config import EmailConfig
from alerts.redact import Redactor
from alerts.render_text import html_body, plain_text, subject


class SmtpNotifier:
    """Sends each alert as one e-mail to the route's addresses."""

    channel = EMAIL

    def __init__(
        self, config: EmailConfig, redactor: Redactor, *, username: str | None = None, password: str | None = None
    ) -> None:
        self.config = config
        self.redact = redactor
        self._username = username
        self._password = password

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.config.ca_file)

    def build(self, message: Outbound) -> EmailMessage:
        """The e-mail for ``message`` (public for tests and previews)."""
        sender = self.config.sender
        domain = parseaddr(sender)[1].rpartition("@")[2] or None
        mail = EmailMessage()
        title = subject(message.content)
        if message.thread and message.thread.get("subject"):
            title = "Re: " + str(message.thread["subject"]).removeprefix("Re: ")
        mail["Subject"] = self.redact(title)
        mail["From"] = sender
        mail["To"] = ", ".join(address.strip() for address in message.target.split(","))
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid("orchestrate", domain=domain)
        mail["X-Orchestrate-Alert"] = message.content.kind
        if message.thread and message.thread.get("message_id"):
            mail["In-Reply-To"] = message.thread["message_id"]
            mail["References"] = message.thread["message_id"]
        mail.set_content(plain_text(message.content, self.redact))
        mail.add_alternative(html_body(message.content, self.redact), subtype="html")
        return mail

    def send(self, message: Outbound) -> dict[str, Any]:
        what = f"the e-mail to {message.target}"
        if message.action == UPDATE:
            raise DeliveryError(f"{what}: an e-mail cannot be updated", permanent=True)
        mail = self.build(message)
        host, port = self.config.smtp_host, self.config.port
        try:
            if self.config.ssl:
                server: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=self.config.timeout, context=self._tls())
            else:
                server = smtplib.SMTP(host, port, timeout=self.config.timeout)
            with server:
                if self.config.use_starttls:
                    server.starttls(context=self._tls())
                if self._username is not None and self._password is not None:
                    server.login(self._username, self._password)
                server.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"the SMTP server {host}:{port} refused the login ({exc.smtp_code}); check the variables named by "
                "alerts.email.username_env and password_env",
                permanent=True,
                channel_wide=True,
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            if "AUTH" in str(exc):
                hint = "it offers no login here; use TLS (starttls or ssl) or drop username_env and password_env"
            else:
                hint = "set alerts.email.starttls: false, or ssl: true for a server that speaks TLS from the start"
            raise DeliveryError(
                f"the SMTP server {host}:{port} said: {exc} — {hint}", permanent=True, channel_wide=True
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            refused = ", ".join(f"{address} ({code})" for address, (code, _) in exc.recipients.items())
            raise DeliveryError(f"the SMTP server refused the recipients {refused}", permanent=True) from None
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            permanent = 500 <= exc.smtp_code < 600
            raise DeliveryError(
                f"the SMTP server {host}:{port} answered {exc.smtp_code} {self.redact(str(text))} for {what}",
                permanent=permanent,
            ) from None
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(
                f"the TLS certificate of {host}:{port} cannot be verified ({exc.verify_message}); "
                "set alerts.email.ca_file to your CA",
                permanent=True,
                channel_wide=True,
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(
                f"cannot deliver {what} through {host}:{port}: {type(exc).__name__}: {self.redact(str(exc))}",
                permanent=False,
            ) from None
        return {"message_id": mail["Message-ID"], "subject": str(mail["Subject"])}

    def close(self) -> None:
        return None
