"""Pure rules of the support desk: no I/O, no ORM, no web framework."""
