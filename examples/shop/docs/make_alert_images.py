"""Re-create the alert shown in the README: a real failure of the shop, as Slack and e-mail get it.

Copies the example, breaks ``daily_revenue``, adds an ``alerts:`` section that
points at the test suite's loopback Slack server and at an aiosmtpd server,
runs ``orchestrate run``, and writes what arrived next to this script:
``slack-alert.json`` (the Block Kit blocks), ``alert-email.html`` and, with
Chromium installed, ``alert-email.png``. Run from the repository root:

    python examples/shop/docs/make_alert_images.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO))

from aiosmtpd.controller import Controller  # noqa: E402

from tests.alerts.fake_slack import FakeSlack  # noqa: E402
from tests.alerts.fake_smtp import MailBox, free_port  # noqa: E402

ALERTS = """
alerts:
  slack: {{token_env: SLACK_BOT_TOKEN, base_url: "{base_url}"}}
  email: {{smtp_host: 127.0.0.1, smtp_port: {smtp_port}, starttls: false,
          from: "Orchestrate <orchestrate@example.com>"}}
  jupyterlab_url: http://localhost:8888
  routes:
    - on: [failure, recovery, sla_miss]
      slack: "#data-alerts"
      email: [analytics@example.com]
"""


def main() -> None:
    slack = FakeSlack(token="xoxb-example-token")
    slack.users["analytics@example.com"] = "U0ANALYTICS"
    mailbox = MailBox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            project = Path(folder) / "shop"
            ignore = shutil.ignore_patterns(".orchestrate", "target", "logs", "*.duckdb*", "reports", "docs")
            shutil.copytree(REPO / "examples" / "shop", project, ignore=ignore)
            model = project / "dbt" / "models" / "marts" / "daily_revenue.sql"
            model.write_text(model.read_text().replace("sum(amount) as revenue", "sum(amount_eur) as revenue", 1))
            with (project / "orchestrate.yaml").open("a") as config:
                config.write(ALERTS.format(base_url=slack.base_url, smtp_port=smtp.port))
            env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-example-token", "TERM": "dumb"}
            orchestrate = Path(sys.executable).with_name("orchestrate")
            subprocess.run([str(orchestrate), "run"], cwd=project, env=env, check=False)
        [message] = slack.top_level()
        (HERE / "slack-alert.json").write_text(
            json.dumps({"text": message.text, "blocks": message.blocks}, indent=2, ensure_ascii=False) + "\n"
        )
        [mail] = mailbox.messages
        html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
        page = f"<html><head><meta charset='utf-8'><title>{mail['Subject']}</title></head>"
        page += "<body style='margin:24px;max-width:820px'><p style='font-family:sans-serif;color:#57606a'>"
        page += f"<b>Subject:</b> {mail['Subject']}<br><b>To:</b> {mail['To']}</p><hr>{html}</body></html>"
        (HERE / "alert-email.html").write_text(page)
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if chromium:
            subprocess.run(
                [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 f"--screenshot={HERE / 'alert-email.png'}", "--window-size=880,760",
                 (HERE / "alert-email.html").as_uri()],
                check=True,
                capture_output=True,
            )  # fmt: skip
    finally:
        smtp.stop()
        slack.stop()


if __name__ == "__main__":
    main()
