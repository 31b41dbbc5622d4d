"""Signed links to a transcript page, for one member, for a limited time.

The close DM carries ``{FRONTDESK_PUBLIC_URL}/transcripts/{id}/page?member=..&expires=..&sig=..``.
The signature is an HMAC-SHA256 over the transcript id, the member id and the expiry, keyed
with a key derived (HKDF) from the same material as the secrets at rest (``secretbox``: the
``FRONTDESK_SECRET_KEY`` keys, or the key file in ``FRONTDESK_DATA_DIR``). Every configured
key verifies, so rotating the secret key keeps old links working until they were all re-keyed
or have expired; the newest signs. A link names the member it was made for; the page still
checks that this member may see the ticket (a member removed from it loses the link).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from frontdesk.config import Settings, load_settings
from frontdesk.secretbox import fernet_key, key_file

LINK_DAYS = 30
LINK_SECONDS = LINK_DAYS * 24 * 3600
_INFO = b"frontdesk transcript links"


def link_keys(settings: Settings | None = None) -> list[bytes]:
    """The HMAC keys, newest first, from the secret-key material of ``settings``."""
    settings = settings or load_settings()
    if settings.secret_key:
        materials = [fernet_key(part) for part in settings.secret_key.split(",") if part.strip()]
    else:
        materials = []
    if not materials:
        materials = [key_file(Path(settings.data_dir))]
    return [HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(m) for m in materials]


def _mac(key: bytes, transcript_id: int, member_id: int, expires: int) -> str:
    message = f"{transcript_id}.{member_id}.{expires}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class LinkCheck:
    ok: bool
    reason: str | None = None  # "signature" (altered, or not ours) or "expired"


def sign(transcript_id: int, member_id: int, *, now: float | None = None, keys: list[bytes] | None = None,
         seconds: int = LINK_SECONDS) -> tuple[int, str]:
    """(expiry as a Unix time, signature) of a link valid ``seconds`` from ``now``."""
    expires = int((now if now is not None else time.time()) + seconds)
    key = (keys or link_keys())[0]
    return expires, _mac(key, transcript_id, member_id, expires)


def verify(transcript_id: int, member_id: int, expires: int, signature: str, *, now: float | None = None,
           keys: list[bytes] | None = None) -> LinkCheck:
    """Whether the link was made here, unaltered, and is still valid."""
    for key in keys or link_keys():
        if hmac.compare_digest(_mac(key, transcript_id, member_id, expires), signature or ""):
            break
    else:
        return LinkCheck(False, "signature")
    if expires < (now if now is not None else time.time()):
        return LinkCheck(False, "expired")
    return LinkCheck(True)


def page_path(transcript_id: int) -> str:
    return f"/transcripts/{transcript_id}/page"


def transcript_link(transcript_id: int, member_id: int, *, base_url: str | None = None,
                    now: float | None = None) -> str | None:
    """The signed page address for ``member_id``, or None when the desk has no public address
    (``FRONTDESK_PUBLIC_URL``)."""
    settings = load_settings()
    base = base_url or settings.public_url
    if not base:
        return None
    expires, signature = sign(transcript_id, member_id, now=now, keys=link_keys(settings))
    query = urlencode({"member": member_id, "expires": expires, "sig": signature})
    return f"{base.rstrip('/')}{page_path(transcript_id)}?{query}"
