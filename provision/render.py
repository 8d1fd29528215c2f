"""Render templates/ into config files: a pure function of settings.

Values are computed here, in Python; templates only place them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jinja2

from mailsh_server import protocol
from provision.config import Settings
from provision.config_types import split_host_port
from provision.dns import registry
from provision.dns.authoritative import DNS_PORT
from provision.dns.records import mta_sts_host, mta_sts_policy
from provision.dns.registry import capabilities
from provision.state_volume import STATE_MOUNT

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

# rendered path (relative to state/rendered) -> template
CONFIG_TEMPLATES: dict[str, str] = {
    "postfix/main.cf": "postfix/main.cf.j2",
    "postfix/master.cf": "postfix/master.cf.j2",
    "postfix/aliases": "postfix/aliases.j2",
    "postfix/transport": "postfix/transport.j2",
    "postfix/local_recipients": "postfix/local_recipients.j2",
    "postfix/catch_replies": "postfix/catch_replies.j2",
    "opendkim/opendkim.conf": "opendkim/opendkim.conf.j2",
    "opendkim/KeyTable": "opendkim/KeyTable.j2",
    "opendkim/SigningTable": "opendkim/SigningTable.j2",
    "opendkim/TrustedHosts": "opendkim/TrustedHosts.j2",
    "caddy/Caddyfile": "caddy/Caddyfile.j2",
    "supervisor/supervisord.conf": "supervisor/supervisord.conf.j2",
    "supervisor/conf.d/syslog.conf": "supervisor/syslog.conf.j2",
    "supervisor/conf.d/opendkim.conf": "supervisor/opendkim.conf.j2",
    "supervisor/conf.d/postfix.conf": "supervisor/postfix.conf.j2",
    "supervisor/conf.d/caddy.conf": "supervisor/caddy.conf.j2",
    "supervisor/conf.d/mailsh-handler.conf": "supervisor/mailsh-handler.conf.j2",
    "supervisor/conf.d/mailsh-runner.conf": "supervisor/mailsh-runner.conf.j2",
}

MAILBOX_MB = 100
REQUEST_CONCURRENCY = 20
REQUEST_TIME_MARGIN_S = 120


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701 - config files, not HTML
    )


MTA_STS_POLICY = "caddy/mta-sts.txt"
MTA_STS_PATH = "/.well-known/mta-sts.txt"


def site_names(settings: Settings) -> list[str]:
    """Names caddy serves and the certificate must cover (the ACME order's names)."""
    names = [settings.fqdn]
    if settings.mta_sts.enabled:
        names.append(mta_sts_host(settings))
    return names


def template_values(settings: Settings, dkim_selector: str | None = None) -> dict[str, Any]:
    """Values the templates place; `dkim_selector` is the one that signs (after a rotation,
    not `[dkim] selector`)."""
    admin = settings.postmaster
    external_admin = not admin.endswith("@" + settings.domain) and not admin.endswith(
        "@" + settings.fqdn
    )
    return {
        "hostname": settings.fqdn,
        "domain": settings.domain,
        "selector": dkim_selector or settings.dkim.selector,
        "relay": settings.relay,
        "message_size_limit": settings.smtp.max_message_mb * 1024 * 1024,
        "admin_mailbox": admin if external_admin else "mailadmin",
        "site_names": site_names(settings),
        "request_recipient": settings.request_recipient,
        "request_concurrency": REQUEST_CONCURRENCY,
        "request_time_limit_s": settings.requests.timeout_s + REQUEST_TIME_MARGIN_S,
        "catch_replies": catches_replies(settings),
        "local_domains": local_domains(settings),
        "local_domain_pattern": "|".join(re.escape(d) for d in local_domains(settings)),
        "run_as_users": run_as_users(settings),
        "mta_sts_host": mta_sts_host(settings) if settings.mta_sts.enabled else None,
        "mta_sts_path": MTA_STS_PATH,
        "caddy_admin_socket": protocol.CADDY_ADMIN_SOCKET,
        "local_recipients": local_recipients(settings),
        "mailbox_size_limit": max(MAILBOX_MB, 5 * settings.smtp.max_message_mb) * 1024 * 1024,
    }


def local_recipients(settings: Settings) -> list[str]:
    """The only local parts mail from outside may reach: requests, postmaster, abuse."""
    return sorted({settings.request_recipient.partition("@")[0], "postmaster", "abuse"})


def local_domains(settings: Settings) -> list[str]:
    """The domains postfix delivers locally (its mydestination); replies to any other
    domain are what local mode keeps."""
    return [settings.fqdn, f"localhost.{settings.domain}", "localhost", settings.domain]


def catches_replies(settings: Settings) -> bool:
    """Local mode keeps outgoing mail in a local mailbox: no relay, self-signed, manual DNS."""
    if settings.requests.catch_replies is not None:
        return settings.requests.catch_replies
    return (
        settings.relay is None
        and settings.tls.mode == "self-signed"
        and capabilities(settings).manual
    )


def run_as_users(settings: Settings) -> list[str]:
    """Every user a request may run as: the default and each key's own."""
    users = [settings.requests.run_as] + [k.run_as for k in settings.keys if k.run_as]
    return sorted(set(users))


def server_settings(settings: Settings) -> dict[str, Any]:
    """What mailsh_server reads (mailsh/server.json): the request rules and trusted keys."""
    req = settings.requests
    return {
        "domain": settings.domain,
        "hostname": settings.fqdn,
        "recipient": settings.request_recipient,
        "run_as": req.run_as,
        "timeout_s": req.timeout_s,
        "max_output_bytes": req.max_output_bytes,
        "inline_output_bytes": req.inline_output_bytes,
        "limits": {
            "processes": req.max_processes,
            "memory_kb": req.max_memory_mb * 1024,
            "file_kb": req.max_file_mb * 1024,
            "cpu_s": req.max_cpu_s or req.timeout_s,
        },
        "max_age_s": req.max_age_s,
        "reply_on_reject": req.reply_on_reject,
        "require_binding": req.require_binding,
        "run_as_users": run_as_users(settings),
        "keys": [k.model_dump(mode="json") for k in settings.keys],
    }


RENEWER_CONF = "supervisor/conf.d/mailsh-renewer.conf"
# Where the renewer finds what the operator ships for it (state_volume.SHIPPED).
CONTAINER_CA_BUNDLE = f"{STATE_MOUNT}/acme/ca-bundle.pem"
RENEW_INTERVAL_S = 86400


def renewal_settings(settings: Settings) -> dict[str, Any] | None:
    """What the server's renewer reads (mailsh/renewal.json); None when the server cannot
    renew by itself (no ACME, or DNS published by hand)."""
    if settings.tls.mode != "acme":
        return None
    zone = registry.renewer_zone(settings)
    if zone is None:
        return None
    dns = settings.dns
    acme = settings.acme
    return {
        "names": site_names(settings),
        "directory": acme.directory_url,
        "email": acme.email,
        "agree_tos": acme.agree_tos,
        "ca_bundle": CONTAINER_CA_BUNDLE if acme.ca_bundle is not None else None,
        "dns": zone,
        # [host, port] pairs: the server reads them as they are, parsing nothing.
        "nameservers": [list(split_host_port(n, DNS_PORT)) for n in dns.nameservers],
        "propagation_timeout_s": dns.propagation_timeout_s,
        "one_at_a_time": registry.capabilities(settings).serial_challenges,
        "interval_s": RENEW_INTERVAL_S,
        "admin_email": settings.postmaster,
        "hostname": settings.fqdn,
    }


def render_configs(settings: Settings, dkim_selector: str | None = None) -> dict[str, str]:
    """Every rendered config file, keyed by its path under state/rendered."""
    env = _environment()
    values = template_values(settings, dkim_selector)
    files = {path: env.get_template(t).render(values) for path, t in CONFIG_TEMPLATES.items()}
    files["mailsh/server.json"] = json.dumps(server_settings(settings), indent=2) + "\n"
    renewal = renewal_settings(settings)
    if renewal is not None:
        files["mailsh/renewal.json"] = json.dumps(renewal, indent=2) + "\n"
        files[RENEWER_CONF] = env.get_template("supervisor/mailsh-renewer.conf.j2").render()
    if settings.mta_sts.enabled:
        files[MTA_STS_POLICY] = mta_sts_policy(settings)
    return files


def render_dockerfile(base_image: str) -> str:
    return _environment().get_template("Dockerfile.j2").render(base_image=base_image)
