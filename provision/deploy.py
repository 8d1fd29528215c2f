"""`invoke provision`: render, ensure state, build if inputs changed, run or reload, wait.

Read, diff, apply: the image is rebuilt only when its inputs changed, the
container re-created only when its run spec changed, and a config-only
change is installed and reloaded in the running container.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

import docker
from docker.models.containers import Container

from mailsh_acme.certificate import still_usable
from provision.certs import CertResult, ensure_acme_certificate
from provision.config import Settings, secret
from provision.container import (
    applied_config_hash,
    create_container,
    docker_health,
    find_container,
    reload_config,
    remove_container,
    restart_container,
    run_spec,
    start_container,
    wait_healthy,
    wait_services,
)
from provision.dkim import signing_key
from provision.dns import registry
from provision.engine import Engine, select_engine
from provision.errors import DockerError, MailshError
from provision.files import update_file
from provision.image import ensure_image
from provision.render import render_configs, renewal_settings, site_names
from provision.state import (
    DkimKey,
    StateDir,
    ensure_self_signed,
    install_certificate,
    write_rendered,
)
from provision.state_volume import adopt_renewed_certificate, ship_state

Progress = Callable[[str], None]


class ContainerAction(StrEnum):
    """What `invoke provision` did to the container."""

    UNCHANGED = "unchanged"
    RELOADED = "configuration reloaded"
    RESTARTED = "restarted with the new configuration"
    STARTED = "started"
    CREATED = "created"
    RECREATED = "re-created"


@dataclass(frozen=True)
class ProvisionResult:
    action: ContainerAction
    image_built: bool
    container_id: str
    banner: str
    dkim: DkimKey


def prepare_state(
    settings: Settings, progress: Progress, environ: Mapping[str, str]
) -> tuple[StateDir, DkimKey, str]:
    """Keys, certificate and rendered configs in the state dir; returns the config hash."""
    state = StateDir(settings.state_dir.resolve())
    dkim = signing_key(state, settings.dkim.selector, settings.dkim.bits, progress)
    if settings.tls.mode == "self-signed":
        if ensure_self_signed(state, site_names(settings)):
            progress("created a self-signed certificate")
    elif settings.tls.mode == "files":
        _install_tls_files(settings, state)
    else:
        _ensure_acme(settings, state, environ, progress)
    extra = {
        "dkim": dkim.private_pem,
        "tls-cert": state.cert_file.read_bytes(),
        "tls-key": state.key_file.read_bytes(),
        # A trusted key re-imported with new user IDs must reach the handler's keyring.
        "trusted": b"".join(p.read_bytes() for p in sorted(state.trusted_dir.glob("*.asc"))),
        "server-key": b"".join(p.read_bytes() for p in sorted(state.root.glob("server-key/*"))),
        "relay": _write_relay_secret(settings, state, environ),
        "renewal": _write_renewal_files(settings, state, environ, progress),
    }
    digest = write_rendered(state.rendered, render_configs(settings, dkim.selector), extra)
    return state, dkim, digest


def _ensure_acme(
    settings: Settings, state: StateDir, environ: Mapping[str, str], progress: Progress
) -> None:
    """Issue or renew when due. A failed renewal while the current certificate still
    serves is a warning: `invoke certs` retries it, the server keeps running."""
    try:
        result = ensure_acme_certificate(settings, environ, progress)
    except MailshError as e:
        current = state.cert_file.read_bytes() if state.cert_file.exists() else None
        if not still_usable(current, site_names(settings), dt.datetime.now(dt.UTC)):
            raise
        progress(f"warning: renewal failed, keeping the current certificate: {e}")
        return
    if result.issued:
        progress(f"certificate issued in {result.seconds:.1f} s")


def _write_relay_secret(settings: Settings, state: StateDir, environ: Mapping[str, str]) -> bytes:
    """The relay's SASL password map, 0600 in the state dir (never in the image or a log)."""
    relay = settings.relay
    path = state.relay_password_file
    if relay is None or relay.username is None:
        path.unlink(missing_ok=True)
        return b""
    password = secret(relay.password_env, environ, "relay.password_env")
    entry = f"[{relay.host}]:{relay.port} {relay.username}:{password}\n".encode()
    path.parent.mkdir(mode=0o700, exist_ok=True)
    return update_file(path, entry, mode=0o600)


def _write_renewal_files(
    settings: Settings, state: StateDir, environ: Mapping[str, str], progress: Progress
) -> bytes:
    """What the server's renewer needs besides its settings: the DNS provider's secret
    (0600 in the state, never in the image or the container's environment) and the
    ACME server's CA bundle when one is configured."""
    secret_file = state.root / "secrets" / "dns"
    bundle_file = state.root / "acme" / "ca-bundle.pem"
    if renewal_settings(settings) is None:
        secret_file.unlink(missing_ok=True)
        bundle_file.unlink(missing_ok=True)
        return b""
    variable = registry.secret_env(settings)
    assert variable is not None  # a provider the server renews through has a secret
    parts = []
    if environ.get(variable):
        secret_file.parent.mkdir(mode=0o700, exist_ok=True)
        parts.append(update_file(secret_file, environ[variable], mode=0o600))
    elif secret_file.exists():
        parts.append(secret_file.read_bytes())
    else:
        progress(
            f"warning: {variable} is not set: the server cannot renew its certificate by "
            "itself until `invoke provision` runs with it"
        )
    bundle = settings.acme.ca_bundle
    if bundle is not None:
        parts.append(update_file(bundle_file, bundle.read_bytes()))
    else:
        bundle_file.unlink(missing_ok=True)
    return b"\0".join(parts)


def _install_tls_files(settings: Settings, state: StateDir) -> None:
    assert settings.tls.cert_file is not None and settings.tls.key_file is not None
    try:
        chain = settings.tls.cert_file.read_bytes()
        key = settings.tls.key_file.read_bytes()
    except OSError as e:
        raise MailshError(f"tls: cannot read {e.filename}: {e.strerror}") from None
    if not state.cert_file.exists() or state.cert_file.read_bytes() != chain:
        install_certificate(state, chain, key)


def provision(
    settings: Settings,
    client: docker.DockerClient,
    progress: Progress,
    environ: Mapping[str, str] | None = None,
    no_cache: bool = False,
    engine: Engine | None = None,
) -> ProvisionResult:
    env = os.environ if environ is None else environ
    engine = engine or select_engine(settings, env)
    container = find_container(client, settings.container_name)
    state = StateDir(settings.state_dir.resolve())
    if container is not None and adopt_renewed_certificate(container, state, site_names(settings)):
        progress("took the certificate the server renewed into the state directory")
    state, dkim, config_hash = prepare_state(settings, progress, env)
    image, built = ensure_image(
        client, settings.image.base, settings.image.name, progress, no_cache=no_cache
    )
    spec = run_spec(settings, image.id)

    if container is not None and container.labels.get("org.mailsh.spec") == spec.digest:
        if container.status == "running":
            if applied_config_hash(container) == config_hash:
                action = ContainerAction.UNCHANGED
            else:
                progress("configuration changed: installing and reloading services")
                action = _reload_or_restart(container, state, progress)
        else:
            progress(f"starting stopped container {spec.name}")
            ship_state(container, state)
            start_container(container)
            action = ContainerAction.STARTED
    else:
        action = ContainerAction.CREATED
        if container is not None:
            progress(f"re-creating container {spec.name} (image or run settings changed)")
            remove_container(container)
            action = ContainerAction.RECREATED
        container = create_container(client, spec)
        ship_state(container, state)
        start_container(container)
    banner = wait_healthy(container, spec, engine, progress)
    applied = (ContainerAction.RELOADED, ContainerAction.RESTARTED)
    if action in applied and applied_config_hash(container) != config_hash:
        raise MailshError("the container did not take the new configuration")
    return ProvisionResult(action, built, container.id, banner, dkim)


def _reload_or_restart(
    container: Container, state: StateDir, progress: Progress
) -> ContainerAction:
    """Ship the changed state to the running container and reload its services. One the
    engine has just (re)started is waited for first (its services are not up yet); one
    whose services cannot be reloaded (postfix down) is restarted, and its start-up
    installs the new configuration."""
    if docker_health(container) == "starting":
        wait_services(container, progress)
    ship_state(container, state)
    try:
        reload_config(container)
    except DockerError as e:
        progress(f"{e.message}: restarting {container.name} instead")
        restart_container(container)
        return ContainerAction.RESTARTED
    return ContainerAction.RELOADED


def update_running(
    settings: Settings, client: docker.DockerClient, progress: Progress
) -> ProvisionResult | None:
    """Apply changed state (keys, trusted keys, DKIM selector) to the container when there is
    one; None when there is none (the next `invoke provision` uses the state)."""
    if find_container(client, settings.container_name) is None:
        return None
    return provision(settings, client, progress)


@dataclass(frozen=True)
class CertsOutcome:
    certificate: CertResult
    reloaded: bool
    # Why the running server was not updated (no container, engine unreachable), if so.
    not_reloaded: str | None = None


def renew_certificate(
    settings: Settings,
    connect: Callable[[], docker.DockerClient],
    progress: Progress,
    force: bool = False,
    environ: Mapping[str, str] | None = None,
) -> CertsOutcome:
    """`invoke certs`: issue or renew, then reload postfix and caddy in the running container
    (no restart, no rebuild). Nothing happens when the certificate is not due. Issuing
    needs no Docker engine: the engine is reached only afterwards, to update the server."""
    env = os.environ if environ is None else environ
    result = ensure_acme_certificate(settings, env, progress, force=force)
    if not result.issued:
        return CertsOutcome(result, reloaded=False)
    state, _, config_hash = prepare_state(settings, progress, env)
    try:
        client = connect()
    except DockerError as e:
        return CertsOutcome(result, reloaded=False, not_reloaded=e.message)
    container = find_container(client, settings.container_name)
    if container is None or container.status != "running":
        return CertsOutcome(result, reloaded=False, not_reloaded="no running container")
    progress(f"reloading postfix and caddy in {settings.container_name}")
    if _reload_or_restart(container, state, progress) == ContainerAction.RESTARTED:
        wait_services(container, progress)
    if applied_config_hash(container) != config_hash:
        raise MailshError("the container did not take the new certificate")
    return CertsOutcome(result, reloaded=True)
