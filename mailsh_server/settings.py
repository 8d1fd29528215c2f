"""The handler's settings: /etc/mailsh/server.json, rendered by provision from mailsh.toml."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mailsh_server.verify import KeyPolicy, Policy


@dataclass(frozen=True)
class ServerSettings:
    recipient: str
    policy: Policy
    timeout_s: int
    max_output_bytes: int
    reply_on_reject: bool


def parse_settings(data: dict[str, object]) -> ServerSettings:
    keys_raw = data.get("keys", [])
    assert isinstance(keys_raw, list)
    keys = {
        str(k["fingerprint"]): KeyPolicy(str(k["fingerprint"]), k.get("run_as"), k.get("reply_to"))
        for k in keys_raw
    }
    recipient = str(data["recipient"])
    policy = Policy(
        keys=keys,
        run_as=str(data.get("run_as", "mailsh")),
        max_age_s=int(str(data.get("max_age_s", 600))),
        recipient=recipient,
        require_binding=bool(data.get("require_binding", False)),
    )
    return ServerSettings(
        recipient=recipient,
        policy=policy,
        timeout_s=int(str(data.get("timeout_s", 60))),
        max_output_bytes=int(str(data.get("max_output_bytes", 1024 * 1024))),
        reply_on_reject=bool(data.get("reply_on_reject", False)),
    )


def load_settings(path: Path) -> ServerSettings:
    return parse_settings(json.loads(path.read_text()))
