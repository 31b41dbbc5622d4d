"""frontdesk: a self-hosted support desk for Discord communities and product teams."""

__version__ = "0.1.0"
