"""mailsh tasks: thin wrappers over the `provision` library (run `invoke --list`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from provision import client, deploy, image, operate
from provision.config import CONFIG_FILENAME, Settings, find_config, load_settings
from provision.console import err, out, progress, user_errors
from provision.container import find_container
from provision.dns import publish as dns_publish
from provision.request_mail import FORMATS
from provision.server_key import ensure_server_key
from provision.state import StateDir

CONFIG_HELP = {"config": "mailsh.toml to use (default: $MAILSH_CONFIG, ./mailsh.toml, built-in)"}


def _settings(config: str | None) -> Settings:
    return load_settings(Path(config) if config else None)


@task(help={**CONFIG_HELP, "debug": "show tracebacks"})
def provision(c: Context, config: str | None = None, debug: bool = False) -> None:
    """Render configs, ensure keys and certificates, build and run the container."""
    with user_errors(debug):
        settings = _settings(config)
        result = deploy.provision(settings, image.docker_client(), progress)
        out.print(f"[bold green]mailsh is up[/] ({result.action.value})")
        out.print(f"  hostname  {settings.fqdn}")
        out.print(f"  smtp      {settings.ports.bind}:{settings.ports.smtp} -> 25")
        out.print(f"  https     {settings.ports.bind}:{settings.ports.https} -> 443")
        out.print(f"  banner    {result.banner}")
        out.print(f"  requests  {settings.request_recipient}")
        out.print(f"  dkim      {settings.dkim.selector} key sha256:{result.dkim.fingerprint}")
        dns_report = dns_publish.provision_dns(settings, result.dkim, os.environ, progress)
        out.print("  DNS records:" if dns_report.zone_fragment is None else "  publish these:")
        for line in dns_publish.report_lines(dns_report):
            out.print(f"    {line}", markup=False, soft_wrap=True)


@task(
    name="base-image",
    help={"tag": "image tag to create", "mirror": "Debian mirror for debootstrap"},
)
def base_image(c: Context, tag: str = image.LOCAL_BASE, mirror: str = image.DEBIAN_MIRROR) -> None:
    """Build a Debian bookworm base image with debootstrap (for machines without a registry)."""
    with user_errors():
        built = image.build_base_image(
            image.docker_client(), tag=tag, mirror=mirror, progress=progress
        )
        out.print(f"built {tag} ({image.image_size(built) // 2**20} MiB)")


@task(help=CONFIG_HELP)
def status(c: Context, config: str | None = None) -> None:
    """Show the container, its health and its services."""
    with user_errors():
        settings = _settings(config)
        st = operate.status(settings, image.docker_client())
        if st is None:
            raise Exit(f"no container {settings.container_name} (run `invoke provision`)", code=1)
        out.print(f"{st.name}: {st.state}, health {st.health}, image {st.image}")
        for port, binding in st.ports.items():
            out.print(f"  {port} -> {binding}")
        if st.services:
            out.print(st.services, markup=False)


@task(help={**CONFIG_HELP, "tail": "lines to show", "follow": "keep following"})
def logs(c: Context, config: str | None = None, tail: int = 100, follow: bool = False) -> None:
    """Show the container's logs (postfix, opendkim, caddy, requests)."""
    with user_errors():
        for chunk in operate.logs(_settings(config), image.docker_client(), tail, follow):
            print(chunk, end="", flush=True)


@task(help={**CONFIG_HELP, "purge": "also delete the state directory", "yes": "confirm --purge"})
def down(c: Context, config: str | None = None, purge: bool = False, yes: bool = False) -> None:
    """Stop and remove the container; the state directory (keys, certs) is kept."""
    with user_errors():
        settings = _settings(config)
        if purge and not yes:
            raise Exit(
                f"--purge deletes {settings.state_dir} with its DKIM key and certificates; "
                "add --yes to confirm",
                code=1,
            )
        done = operate.down(settings, image.docker_client(), purge)
        for line in done or ["nothing to do"]:
            err.print(line)


@task(
    help={
        **CONFIG_HELP,
        "name": "your name for the key's user ID",
        "email": "your e-mail address (replies go there)",
        "rsa": "RSA 4096 as in the original shell-by-mail (default ed25519/cv25519)",
        "passphrase_env": "environment variable holding a passphrase (default: none)",
    }
)
def keygen(
    c: Context,
    name: str,
    email: str,
    rsa: bool = False,
    passphrase_env: str | None = None,
    config: str | None = None,
) -> None:
    """Create your signing key in your GnuPG home and export its public half for `trust`."""
    with user_errors():
        settings = _settings(config)
        gpg = client.user_gpg()
        passphrase = os.environ.get(passphrase_env) if passphrase_env else None
        fpr = client.keygen(gpg, name, email, rsa=rsa, passphrase=passphrase)
        path = client.export_public(
            gpg, fpr, settings.state_dir.resolve() / "client" / f"{fpr}.asc"
        )
        out.print(f"created key {fpr}")
        out.print(f"public key: {path}", soft_wrap=True)
        out.print(f"next: invoke trust {path}", soft_wrap=True)


@task(help={**CONFIG_HELP, "path": "an ASCII-armored public key file"})
def trust(c: Context, path: str, config: str | None = None) -> None:
    """Trust a public key: store it, list it in mailsh.toml, apply to the running server."""
    with user_errors():
        config_path = find_config(Path(config) if config else None, os.environ)
        config_path = config_path or Path.cwd() / CONFIG_FILENAME
        settings = load_settings(config_path) if config_path.exists() else _settings(None)
        fpr = client.trust(settings, config_path, Path(path), client.user_gpg())
        out.print(f"trusted {fpr} (in {config_path})", soft_wrap=True)
        settings = load_settings(config_path)
        docker_client = image.docker_client()
        if find_container(docker_client, settings.container_name) is not None:
            result = deploy.provision(settings, docker_client, progress)
            out.print(f"server updated ({result.action.value})")


@task(
    help={
        **CONFIG_HELP,
        "command": "the shell command to run on the server",
        "file": "read the command (a script) from this file instead",
        "format": "pgp-mime (default), clearsign, attachment or uuencode",
        "wait": "wait for the reply, print the output, exit with the command's status "
        "(or 77 refused, 124 timed out, 75 no reply in time, 70 interrupted)",
        "timeout": "seconds to wait for the reply",
        "key": "signing key (fingerprint or address; default [client] key)",
        "encrypt": "encrypt the request to the server's key (`invoke server-key`)",
    }
)
def send(
    c: Context,
    command: str | None = None,
    file: str | None = None,
    format: str = "pgp-mime",
    wait: bool = False,
    timeout: float = 120.0,
    key: str | None = None,
    encrypt: bool = False,
    config: str | None = None,
) -> None:
    """Sign a command with your key and mail it to the server (optionally wait for the reply).

    With --wait, the exit status is the command's own, or: 77 the server refused the
    request (nothing ran; the reason is printed), 124 the command ran past timeout_s and
    was killed, 75 no reply within --timeout (it may still come), 70 interrupted.
    """
    with user_errors():
        if format not in FORMATS:
            raise Exit(f"mailsh: --format must be one of {', '.join(FORMATS)}", code=1)
        if (command is None) == (file is None):
            raise Exit("mailsh: give --command CMD or --file SCRIPT", code=1)
        text = Path(file).read_text() if file else f"{command}\n"
        settings = _settings(config)
        sent = client.send(
            settings,
            client.user_gpg(),
            text,
            format,
            key=key,
            wait=timeout if wait else None,
            environ=os.environ,
            docker_client=image.docker_client,
            encrypt=encrypt,
        )
        if not wait:
            err.print(f"sent {sent.message_id} to {settings.request_recipient}")
            return
        sys.stdout.write(sent.stdout)
        sys.stderr.write(sent.stderr)
        code, why = sent.exit()
        if code:
            raise Exit(why, code=code)


@task(
    name="dns-update",
    help={**CONFIG_HELP, "dry-run": "show the diff, change nothing", "debug": "show tracebacks"},
)
def dns_update(
    c: Context, config: str | None = None, dry_run: bool = False, debug: bool = False
) -> None:
    """Publish the mail records (A, MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT) and show the diff."""
    with user_errors(debug):
        settings = _settings(config)
        dkim = dns_publish.dkim_key(settings, progress)
        report = dns_publish.update_dns(settings, dkim, os.environ, progress, dry_run=dry_run)
        for line in dns_publish.report_lines(report):
            out.print(line, markup=False, soft_wrap=True)


@task(
    help={
        **CONFIG_HELP,
        "force": "renew even when more than 30 days remain",
        "debug": "show tracebacks",
    }
)
def certs(c: Context, config: str | None = None, force: bool = False, debug: bool = False) -> None:
    """Issue or renew the ACME certificate (DNS-01) and reload postfix and caddy."""
    with user_errors(debug):
        settings = _settings(config)
        if settings.tls.mode != "acme":
            raise Exit(
                f'mailsh: tls.mode is "{settings.tls.mode}": set [tls] mode = "acme" '
                "to use ACME certificates",
                code=1,
            )
        outcome = deploy.renew_certificate(settings, image.docker_client(), progress, force)
        cert = outcome.certificate
        if not cert.issued:
            out.print(f"nothing to do: {cert.reason}")
            return
        until = cert.not_after.strftime("%Y-%m-%d") if cert.not_after else "?"
        out.print(
            f"[bold green]certificate issued[/] in {cert.seconds:.1f} s ({cert.reason}), "
            f"valid until {until}"
        )
        if outcome.reloaded:
            out.print(f"  postfix and caddy reloaded in {settings.container_name}")
        else:
            out.print("  no running container: `invoke provision` will use it")


@task(name="server-key", help=CONFIG_HELP)
def server_key(c: Context, config: str | None = None) -> None:
    """Create the server's OpenPGP key (encrypted requests and replies); print the public key."""
    with user_errors():
        settings = _settings(config)
        state = StateDir(settings.state_dir.resolve())
        state.ensure()
        key, created = ensure_server_key(state, settings.request_recipient)
        err.print(f"{'created' if created else 'existing'} server key {key.fingerprint}")
        docker_client = image.docker_client()
        if created and find_container(docker_client, settings.container_name) is not None:
            result = deploy.provision(settings, docker_client, progress)
            err.print(f"server updated ({result.action.value})")
        print(key.public, end="")


@task(
    name="check-deliverability",
    help={
        **CONFIG_HELP,
        "json": "print the report as JSON (provision/deliverability/report.schema.json)",
        "only": "run only these checks or areas (comma-separated)",
        "skip": "skip these checks or areas (comma-separated)",
        "send": "also send a signed echo and report the receiver's SPF/DKIM/DMARC verdicts",
        "list": "list the checks (names for --only/--skip) and exit",
        "debug": "show tracebacks",
    },
)
def check_deliverability(
    c: Context,
    config: str | None = None,
    json: bool = False,
    only: str = "",
    skip: str = "",
    send: bool = False,
    list: bool = False,
    debug: bool = False,
) -> None:
    """Check DNS, SPF, DKIM, DMARC, TLS, blocklists and relaying; exit 1 if any check fails."""
    import json as json_module

    from provision.deliverability import report
    from provision.deliverability.catalog import CHECKS
    from provision.deliverability.catalog import check_deliverability as run
    from provision.deliverability.end_to_end import probe_sender
    from provision.deliverability.result import exit_code
    from provision.deliverability.target import target_from_settings

    if list:
        for check in CHECKS:
            out.print(f"{check.name:<12} {check.area:<8} {check.description}", markup=False)
        return
    with user_errors(debug):
        settings = _settings(config)
        timeout = settings.deliverability.reply_timeout_s
        probe = probe_sender(settings, os.environ, timeout) if send else None
        target = target_from_settings(settings, send_probe=probe)
        done = run(target, _names(only), _names(skip))
        if json:
            doc = report.report_json(done.results, target, done.elapsed_s)
            print(json_module.dumps(doc, indent=2))
        else:
            report.render_table(done.results, done.elapsed_s, out)
    code = exit_code(done.results)
    if code:
        raise Exit(code=code)


def _names(value: str) -> list[str]:
    return [n.strip() for n in value.split(",") if n.strip()]
