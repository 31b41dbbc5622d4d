"""``python -m frontdesk`` runs the same command line as ``frontdesk``."""

from frontdesk.cli import app

app(prog_name="frontdesk")
