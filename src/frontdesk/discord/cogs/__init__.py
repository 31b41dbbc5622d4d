"""One cog per feature; the bot loads them in ``setup_hook``."""
