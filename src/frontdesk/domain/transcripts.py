"""Rendering a closed ticket's conversation as a standalone HTML page and as plain text.

Pure functions over plain data, so they can be tested without a database and reused by
the dashboard and the Discord bot. Only public messages belong in a transcript: internal
notes never reach the customer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from html import escape


@dataclass(frozen=True)
class TranscriptAttachment:
    filename: str
    size: int
    url: str | None = None


@dataclass(frozen=True)
class TranscriptMessage:
    author: str
    author_kind: str
    body: str
    created_at: datetime
    edited: bool = False
    reply_to_excerpt: str | None = None
    attachments: tuple[TranscriptAttachment, ...] = ()


@dataclass(frozen=True)
class TranscriptTicket:
    workspace: str
    number: int
    title: str
    type_name: str | None
    opener: str
    opened_at: datetime
    closed_at: datetime | None
    close_reason: str | None
    close_note: str | None
    tags: tuple[str, ...] = field(default_factory=tuple)


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n:.1f} GB"


def render_text(ticket: TranscriptTicket, messages: list[TranscriptMessage]) -> str:
    lines = [
        f"{ticket.workspace} - ticket #{ticket.number}: {ticket.title}",
        f"Type: {ticket.type_name or '-'}    Opened by: {ticket.opener}    Opened: {_when(ticket.opened_at)}",
    ]
    if ticket.closed_at:
        reason = ticket.close_reason or "-"
        lines.append(f"Closed: {_when(ticket.closed_at)}    Reason: {reason}")
    if ticket.close_note:
        lines.append(f"Close note: {ticket.close_note}")
    if ticket.tags:
        lines.append("Tags: " + ", ".join(ticket.tags))
    lines.append(f"Messages: {len(messages)}")
    lines.append("")
    for m in messages:
        edited = " (edited)" if m.edited else ""
        lines.append(f"[{_when(m.created_at)}] {m.author} ({m.author_kind}){edited}:")
        if m.reply_to_excerpt:
            lines.append(f"  > {m.reply_to_excerpt}")
        lines.extend("  " + line for line in m.body.splitlines() or [""])
        for a in m.attachments:
            lines.append(f"  [attachment] {a.filename} ({_size(a.size)})")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:20px 28px}header h1{margin:0 0 6px;font-size:20px}
header p{margin:2px 0;opacity:.85;font-size:14px}main{max-width:860px;margin:0 auto;padding:20px}
.msg{background:#fff;border-radius:8px;padding:12px 16px;margin:10px 0;box-shadow:0 1px 2px rgba(0,0,0,.06)}
.msg.staff{border-left:4px solid #4f6ef7}.msg.customer{border-left:4px solid #2fa36b}
.msg.bot,.msg.system{border-left:4px solid #9aa3b2}
.meta{font-size:13px;color:#5a6478;margin-bottom:6px}.author{font-weight:600;color:#1d2330}
.body{white-space:pre-wrap;word-wrap:break-word}.reply{font-size:13px;color:#5a6478;border-left:3px solid #d5d9e0;
padding-left:8px;margin-bottom:6px}.att{font-size:13px;margin-top:6px}.tag{display:inline-block;background:#e8ebf0;
border-radius:10px;padding:1px 8px;margin-right:4px;font-size:12px;color:#1d2330}
"""


def render_html(ticket: TranscriptTicket, messages: list[TranscriptMessage]) -> str:
    """A self-contained page: inline CSS, no scripts, every user-written string escaped."""
    e = escape
    head = [f"<p>{e(ticket.workspace)} &middot; {e(ticket.type_name or 'Ticket')} &middot; opened by "
            f"{e(ticket.opener)} on {_when(ticket.opened_at)}</p>"]
    if ticket.closed_at:
        head.append(f"<p>Closed {_when(ticket.closed_at)} &middot; reason: {e(ticket.close_reason or '-')}</p>")
    if ticket.close_note:
        head.append(f"<p>Close note: {e(ticket.close_note)}</p>")
    if ticket.tags:
        head.append("<p>" + "".join(f'<span class="tag">{e(t)}</span>' for t in ticket.tags) + "</p>")
    body = []
    for m in messages:
        parts = [f'<div class="msg {e(m.author_kind)}">',
                 f'<div class="meta"><span class="author">{e(m.author)}</span> &middot; {e(m.author_kind)} '
                 f'&middot; <time datetime="{m.created_at.isoformat()}">{_when(m.created_at)}</time>'
                 f'{" &middot; edited" if m.edited else ""}</div>']
        if m.reply_to_excerpt:
            parts.append(f'<div class="reply">{e(m.reply_to_excerpt)}</div>')
        parts.append(f'<div class="body">{e(m.body)}</div>')
        for a in m.attachments:
            name = e(a.filename)
            link = f'<a href="{e(a.url)}">{name}</a>' if a.url else name
            parts.append(f'<div class="att">&#128206; {link} ({_size(a.size)})</div>')
        parts.append("</div>")
        body.append("".join(parts))
    title = f"Ticket #{ticket.number}: {ticket.title}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{e(title)}</h1>{''.join(head)}</header>"
        f"<main>{''.join(body) or '<p>No messages.</p>'}</main></body></html>\n"
    )


def excerpt(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "\u2026"
