"""Encryption of broker secrets at rest (Fernet: AES-128-CBC + HMAC-SHA256, from ``cryptography``).

The master key comes from ``TERMINAL5_MASTER_KEY`` or from a key file created once with mode 0600.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from terminal5.errors import Terminal5Error


class SecretBox:
    def __init__(self, master_key: str | bytes) -> None:
        try:
            self._fernet = Fernet(master_key)
        except (ValueError, TypeError):
            raise Terminal5Error(
                "TERMINAL5_MASTER_KEY is not a valid key (32 url-safe base64 bytes; "
                "generate one with `terminal5 keygen`)"
            ) from None

    def __repr__(self) -> str:
        return "SecretBox(***)"

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise Terminal5Error("a stored secret cannot be decrypted: wrong master key?") from None


def generate_key() -> str:
    return Fernet.generate_key().decode()


def load_or_create_key(env_value: str | None, key_file: Path) -> str:
    """The env key when set; else the key file, created atomically with mode 0600 when absent."""
    if env_value:
        return env_value
    if key_file.exists():
        mode = key_file.stat().st_mode & 0o777
        if mode & 0o077:
            raise Terminal5Error(f"{key_file} is readable by others (mode {oct(mode)}); chmod 600 it")
        return key_file.read_text().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
