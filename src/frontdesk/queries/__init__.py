"""Read side: plain data for lists, views and the audit log. Queries never change rows."""
