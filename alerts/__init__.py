"""Alert routing and delivery (Slack, email) for orchestrate-ext."""
