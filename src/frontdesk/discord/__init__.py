"""The Discord bot: an entry point like the API, turning gateway events and interactions into
calls of actions and queries."""
