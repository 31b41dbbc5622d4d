"""Connectors to Jira Cloud, Linear and Slack: the outbox handlers that talk to them."""
