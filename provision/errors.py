"""One error hierarchy: every user-facing failure is a MailshError with a hint."""

from __future__ import annotations


class MailshError(Exception):
    """A failure the user can act on; `str()` is one line, `hint` says what to do."""

    exit_code = 1  # what a task exits with

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class ConfigError(MailshError):
    """mailsh.toml is missing, unreadable or invalid."""


class DockerError(MailshError):
    """The Docker engine refused or failed an operation."""


class HealthError(MailshError):
    """The container did not become healthy in time."""


class DnsError(MailshError):
    """A DNS provider or server refused, failed or could not be reached."""


class ClientError(MailshError):
    """Signing, sending or waiting for a reply failed."""
