"""Secrets encrypted at rest: API tokens of connectors, webhook signing secrets.

``encrypt(text) -> str`` and ``decrypt(token) -> str`` use Fernet (AES-128-CBC with an
HMAC-SHA256 tag: authenticated, so a changed or foreign ciphertext is refused, never
decrypted to garbage).

The key comes from the setting ``FRONTDESK_SECRET_KEY``: one or more keys, comma-separated,
newest first (each a Fernet key, or any long string, which is stretched to one with HKDF).
The first encrypts; all of them decrypt, so a key is rotated by putting the new one first and
dropping the old one once everything was encrypted again. Without the setting, a key file
``secret.key`` is generated in ``FRONTDESK_DATA_DIR`` on first use, readable by its owner only
(0600); every process sharing that folder shares the key.
"""

from __future__ import annotations

import base64
import os
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from frontdesk.config import Settings, load_settings

KEY_FILE = "secret.key"


class SecretKeyError(Exception):
    """The stored secret cannot be decrypted with the configured key(s)."""


class SecretBox:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("a secret box needs at least one key")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError, ValueError) as exc:
            raise SecretKeyError(
                "a stored secret could not be decrypted: it was encrypted with another key "
                "(check FRONTDESK_SECRET_KEY, or the secret.key file in FRONTDESK_DATA_DIR) or it was altered"
            ) from exc


def fernet_key(material: str) -> bytes:
    """A Fernet key as given, or one derived from any other string with HKDF-SHA256."""
    material = material.strip()
    try:
        if len(base64.urlsafe_b64decode(material.encode("ascii"))) == 32:
            return material.encode("ascii")
    except (ValueError, UnicodeError):
        pass
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"frontdesk secretbox").derive(
        material.encode("utf-8"))
    return base64.urlsafe_b64encode(derived)


def key_file(data_dir: Path) -> bytes:
    """The key in ``data_dir/secret.key``, created (0600) if there is none yet. Two processes
    creating it at once agree: only one creation succeeds and the other reads its key."""
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(key + b"\n")
                out.flush()
                os.fsync(out.fileno())
            return key
    key = path.read_bytes().strip()
    if not key:
        raise SecretKeyError(f"{path} is empty; restore it from a backup or remove it to start over")
    return key


def box_for(settings: Settings) -> SecretBox:
    if settings.secret_key:
        keys = [fernet_key(part) for part in settings.secret_key.split(",") if part.strip()]
        if keys:
            return SecretBox(keys)
    return SecretBox([key_file(Path(settings.data_dir))])


_lock = threading.Lock()
_boxes: dict[tuple[str | None, str], SecretBox] = {}


def current_box() -> SecretBox:
    """The box of this process's settings (read from the environment and config file)."""
    settings = load_settings()
    cache_key = (settings.secret_key, str(Path(settings.data_dir).resolve()))
    with _lock:
        box = _boxes.get(cache_key)
        if box is None:
            box = _boxes[cache_key] = box_for(settings)
        return box


def encrypt(plaintext: str) -> str:
    """``plaintext`` encrypted with this process's key."""
    return current_box().encrypt(plaintext)


def decrypt(token: str) -> str:
    """The text ``encrypt`` was given; ``SecretKeyError`` when the key does not fit."""
    return current_box().decrypt(token)
