"""One function per state change. Each checks permission, validates, changes rows and
appends events, all inside the caller's unit of work (``Desk.tx``)."""
