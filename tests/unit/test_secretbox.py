"""Secrets at rest: authenticated encryption with a configured key or a generated key file."""

from __future__ import annotations

import stat

import pytest
from cryptography.fernet import Fernet

from frontdesk import secretbox
from frontdesk.config import Settings


def test_a_secret_comes_back_as_it_was_and_is_not_stored_in_clear(tmp_path):
    box = secretbox.box_for(Settings(secret_key="a long passphrase for this install", data_dir=tmp_path))
    token = box.encrypt("xoxb-slack-token")
    assert "xoxb" not in token
    assert box.decrypt(token) == "xoxb-slack-token"
    assert box.encrypt("xoxb-slack-token") != token, "each encryption is fresh"


def test_a_wrong_key_is_a_clear_error(tmp_path):
    token = secretbox.box_for(Settings(secret_key="key one, long enough", data_dir=tmp_path)).encrypt("s")
    other = secretbox.box_for(Settings(secret_key="key two, long enough", data_dir=tmp_path))
    with pytest.raises(secretbox.SecretKeyError, match="FRONTDESK_SECRET_KEY"):
        other.decrypt(token)
    with pytest.raises(secretbox.SecretKeyError):
        other.decrypt(token[:-4] + "AAAA")


def test_keys_rotate_newest_first_and_old_secrets_still_decrypt(tmp_path):
    old_key = Fernet.generate_key().decode()
    token = secretbox.box_for(Settings(secret_key=old_key, data_dir=tmp_path)).encrypt("jira-token")
    rotated = secretbox.box_for(Settings(secret_key=f"new passphrase of the install,{old_key}", data_dir=tmp_path))
    assert rotated.decrypt(token) == "jira-token"
    fresh = rotated.encrypt("linear-token")
    assert secretbox.box_for(Settings(secret_key="new passphrase of the install", data_dir=tmp_path)).decrypt(
        fresh) == "linear-token"


def test_without_a_setting_a_key_file_is_made_once_readable_by_its_owner_only(tmp_path):
    data = tmp_path / "data"
    first = secretbox.box_for(Settings(data_dir=data))
    path = data / secretbox.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = first.encrypt("secret")
    second = secretbox.box_for(Settings(data_dir=data))
    assert second.decrypt(token) == "secret"
    path.write_bytes(Fernet.generate_key())
    with pytest.raises(secretbox.SecretKeyError):
        secretbox.box_for(Settings(data_dir=data)).decrypt(token)


def test_the_module_functions_use_the_process_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("FRONTDESK_SECRET_KEY", "process key of this test run")
    monkeypatch.setenv("FRONTDESK_DATA_DIR", str(tmp_path))
    token = secretbox.encrypt("webhook secret")
    assert secretbox.decrypt(token) == "webhook secret"
    assert not (tmp_path / secretbox.KEY_FILE).exists()
