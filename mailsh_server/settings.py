"""The handler's settings: /etc/mailsh/server.json, rendered by provision from mailsh.toml."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mailsh_server.protocol import run_as_problem
from mailsh_server.reply import INLINE_OUTPUT_BYTES
from mailsh_server.run import CommandLimits
from mailsh_server.verify import KeyPolicy, Policy


@dataclass(frozen=True)
class ServerSettings:
    recipient: str
    policy: Policy
    timeout_s: int
    max_output_bytes: int
    reply_on_reject: bool
    limits: CommandLimits = field(default_factory=CommandLimits)
    inline_output_bytes: int = INLINE_OUTPUT_BYTES


class SettingsError(Exception):
    """server.json breaks a rule the host side should have enforced."""


def _user(value: object) -> str:
    user = str(value)
    problem = run_as_problem(user)
    if problem:
        raise SettingsError(problem)
    return user


def parse_settings(data: dict[str, object]) -> ServerSettings:
    keys_raw = data.get("keys", [])
    assert isinstance(keys_raw, list)
    keys = {
        str(k["fingerprint"]): KeyPolicy(
            str(k["fingerprint"]),
            _user(k["run_as"]) if k.get("run_as") else None,
            k.get("reply_to"),
        )
        for k in keys_raw
    }
    recipient = str(data["recipient"])
    policy = Policy(
        keys=keys,
        run_as=_user(data.get("run_as", "mailsh")),
        max_age_s=int(str(data.get("max_age_s", 600))),
        recipient=recipient,
        require_binding=bool(data.get("require_binding", False)),
    )
    limits_raw = data.get("limits", {})
    assert isinstance(limits_raw, dict)
    timeout_s = int(str(data.get("timeout_s", 60)))
    limits = CommandLimits(
        **{k: int(str(v)) for k, v in limits_raw.items() if k in CommandLimits.__annotations__}
    )
    return ServerSettings(
        recipient=recipient,
        policy=policy,
        timeout_s=timeout_s,
        max_output_bytes=int(str(data.get("max_output_bytes", 1024 * 1024))),
        reply_on_reject=bool(data.get("reply_on_reject", False)),
        limits=limits,
        inline_output_bytes=int(str(data.get("inline_output_bytes", INLINE_OUTPUT_BYTES))),
    )


def load_settings(path: Path) -> ServerSettings:
    return parse_settings(json.loads(path.read_text()))
