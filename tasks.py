"""mailsh tasks: thin wrappers over the `provision` library (run `invoke --list`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from invoke.context import Context
from invoke.exceptions import Exit

from provision import deploy, dkim, engine, fleet, image, operate, summary
from provision.base_image import DEBIAN_MIRROR, LOCAL_BASE, build_base_image
from provision.client import keys
from provision.client import send as sending
from provision.client.request_mail import FORMATS
from provision.client.server_key import ensure_server_key
from provision.config import CONFIG_FILENAME, Settings, find_config, load_settings, secret
from provision.console import err, out, progress, styled, task, user_errors
from provision.dkim_rotate import rotate_dkim
from provision.dns import publish as dns_publish
from provision.errors import ConfigError
from provision.state import StateDir
from provision.status import ServerStatus, server_status

# Every task has --config (-c) and --debug (-d); those that print a report, --json (-j).
DEBUG_HELP = {"debug": "show tracebacks"}
CONFIG_HELP = {
    "config": "mailsh.toml to use (default: $MAILSH_CONFIG, ./mailsh.toml, built-in)",
    **DEBUG_HELP,
}


def _settings(config: str | None) -> Settings:
    return load_settings(Path(config) if config else None)


CONFIGS_HELP = {
    "config": "mailsh.toml to use; repeat it, or name a directory of configs, for several "
    "servers at once (default: $MAILSH_CONFIG, ./mailsh.toml, built-in)",
    **DEBUG_HELP,
}


def _failed(outcomes: Sequence[fleet.ServerOutcome[Any]]) -> None:
    """Exit 1 when any server failed (the table said which and why)."""
    errors = [o.error for o in outcomes if o.error is not None]
    if len(outcomes) == 1 and errors:
        raise errors[0]
    if errors:
        raise Exit(f"mailsh: {len(errors)} of {len(outcomes)} servers failed", code=1)


@task(
    iterable=["config"],
    help={
        **CONFIGS_HELP,
        "no-cache": "rebuild the image without Docker's layer cache",
    },
)
def provision(c: Context, config: list[str], no_cache: bool = False, debug: bool = False) -> None:
    """Render configs, ensure keys and certificates, build and run the container."""

    def one(server: fleet.Server, said: fleet.Progress) -> summary.Provisioned:
        settings = server.settings
        client, where = engine.connected(settings)
        result = deploy.provision(settings, client, said, engine=where, no_cache=no_cache)
        dns = dns_publish.provision_dns(settings, os.environ, said)
        return summary.Provisioned(settings, where, result, dns)

    with user_errors(debug):
        outcomes = fleet.run_all(fleet.load_servers(config), one, progress)
        summary.print_provisioned(outcomes, out)
        _failed(outcomes)


@task(
    name="base-image",
    help={**CONFIG_HELP, "tag": "image tag to create", "mirror": "Debian mirror for debootstrap"},
)
def base_image(
    c: Context,
    tag: str = LOCAL_BASE,
    mirror: str = DEBIAN_MIRROR,
    config: str | None = None,
    debug: bool = False,
) -> None:
    """Build a Debian bookworm base image with debootstrap (for machines without a registry)."""
    with user_errors(debug):
        built = build_base_image(
            engine.docker_client(_settings(config)), tag=tag, mirror=mirror, progress=progress
        )
        out.print(f"built {tag} ({image.image_size(built) // 2**20} MiB)")


@task(iterable=["config"], help={**CONFIGS_HELP, "json": "print the status as JSON"})
def status(c: Context, config: list[str], json: bool = False, debug: bool = False) -> None:
    """Per server: services, certificate, DNS drift, queue, last requests, disk use."""
    import json as json_module

    def one(server: fleet.Server, said: fleet.Progress) -> ServerStatus:
        client, where = engine.connected(server.settings)
        return server_status(server.settings, client, where, os.environ)

    with user_errors(debug):
        outcomes = fleet.run_all(fleet.load_servers(config), one, progress)
        if json:
            doc = [
                o.value.as_json() if o.value else {"name": o.server.name, "error": str(o.error)}
                for o in outcomes
            ]
            print(json_module.dumps(doc, indent=2))
        else:
            summary.print_status(outcomes, out)
        _failed(outcomes)
        if any(o.value is not None and o.value.state == "missing" for o in outcomes):
            raise Exit(code=1)


@task(help={**CONFIG_HELP, "tail": "lines to show", "follow": "keep following"})
def logs(
    c: Context,
    config: str | None = None,
    tail: int = 100,
    follow: bool = False,
    debug: bool = False,
) -> None:
    """Show the container's logs (postfix, opendkim, caddy, requests)."""
    with user_errors(debug):
        settings = _settings(config)
        for chunk in operate.logs(settings, engine.docker_client(settings), tail, follow):
            print(chunk, end="", flush=True)


@task(help={**CONFIG_HELP, "purge": "also delete the state directory", "yes": "confirm --purge"})
def down(
    c: Context,
    config: str | None = None,
    purge: bool = False,
    yes: bool = False,
    debug: bool = False,
) -> None:
    """Stop and remove the container; the state directory (keys, certs) is kept."""
    with user_errors(debug):
        settings = _settings(config)
        if purge and not yes:
            raise Exit(
                f"--purge deletes {settings.state_dir} with its DKIM key and certificates; "
                "add --yes to confirm",
                code=1,
            )
        done = operate.down(settings, engine.docker_client(settings), purge)
        for line in done or ["nothing to do"]:
            err.print(line)


@task(
    help={
        **CONFIG_HELP,
        "output": "archive to write (default: <container>-<date>.mailsh-backup)",
        "encrypt_to": "encrypt the archive to this OpenPGP key (fingerprint or address)",
    }
)
def backup(
    c: Context,
    config: str | None = None,
    output: str | None = None,
    encrypt_to: str | None = None,
    debug: bool = False,
) -> None:
    """Write one archive with the state, the request journal and the mail volumes."""
    from provision import backup as backups

    with user_errors(debug):
        settings = _settings(config)
        client, where = engine.connected(settings)
        path = Path(output or backups.default_name(settings))
        done = backups.backup(
            settings,
            find_config(Path(config) if config else None, os.environ),
            client,
            where,
            path,
            progress,
            encrypt_to=encrypt_to,
            gpg=keys.user_gpg() if encrypt_to else None,
        )
        sealed = f", encrypted to {done.encrypted_to}" if done.encrypted_to else ""
        out.print(
            f"backup of {settings.container_name}: {done.path} "
            f"({done.size / 2**20:.1f} MiB, {done.seconds:.1f} s{sealed})",
            soft_wrap=True,
        )


@task(
    help={
        **CONFIG_HELP,
        "force": "restore into a state directory that already holds keys",
    }
)
def restore(
    c: Context, archive: str, config: str | None = None, force: bool = False, debug: bool = False
) -> None:
    """Bring a server back from `invoke backup`'s archive on this config's engine."""
    from provision import backup as backups

    with user_errors(debug):
        config_path = find_config(Path(config) if config else None, os.environ)
        config_path = config_path or Path.cwd() / CONFIG_FILENAME
        done = backups.restore(
            Path(archive),
            config_path,
            engine.connected,
            progress,
            os.environ,
            keys.user_gpg(),
            force,
        )
        if done.wrote_config:
            err.print(f"wrote the archived config to {config_path}")
        out.print(
            styled(
                ("restored", "bold green"),
                f" {done.source} as {done.settings.container_name} "
                f"({done.provisioned.action.value}): {done.provisioned.banner}",
            )
        )


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
    debug: bool = False,
) -> None:
    """Create your signing key in your GnuPG home and export its public half for `trust`."""
    with user_errors(debug):
        settings = _settings(config)
        passphrase = (
            secret(passphrase_env, os.environ, "--passphrase-env") if passphrase_env else None
        )
        gpg = keys.user_gpg()
        fpr = keys.keygen(gpg, name, email, rsa=rsa, passphrase=passphrase)
        path = keys.export_public(gpg, fpr, settings.state_dir.resolve() / "client" / f"{fpr}.asc")
        out.print(f"created key {fpr}")
        out.print(f"public key: {path}", soft_wrap=True)
        out.print(f"next: invoke trust {path}", soft_wrap=True)


@task(help={**CONFIG_HELP, "path": "an ASCII-armored public key file"})
def trust(c: Context, path: str, config: str | None = None, debug: bool = False) -> None:
    """Trust a public key: store it, list it in mailsh.toml, apply to the running server."""
    with user_errors(debug):
        config_path = find_config(Path(config) if config else None, os.environ)
        config_path = config_path or Path.cwd() / CONFIG_FILENAME
        settings = load_settings(config_path) if config_path.exists() else _settings(None)
        fpr = keys.trust(settings, config_path, Path(path), keys.user_gpg())
        out.print(f"trusted {fpr} (in {config_path})", soft_wrap=True)
        settings = load_settings(config_path)
        result = deploy.update_running(settings, engine.docker_client(settings), progress)
        if result is not None:
            out.print(f"server updated ({result.action.value})")


def _script(file: str) -> str:
    """The script `--file` names (`-`: standard input), as text."""
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        return data.decode("utf-8")
    except OSError as e:
        raise Exit(f"mailsh: --file {file}: {e.strerror or e}", code=1) from None
    except UnicodeDecodeError:
        raise Exit(f"mailsh: --file {file}: not UTF-8 text", code=1) from None


@task(
    help={
        **CONFIG_HELP,
        "command": "the shell command to run on the server",
        "file": "read the command (a script) from this file instead (- : standard input)",
        "format": "pgp-mime (default), clearsign, attachment or uuencode",
        "wait": "wait for the reply, print the output, exit with the command's status "
        "(or 77 refused, 124 timed out, 75 no reply in time, 70 interrupted)",
        "timeout": "seconds to wait for the reply",
        "key": "signing key (fingerprint or address; default [client] key)",
        "encrypt": "encrypt the request to the server's key (`invoke server-key`)",
        "server": "with --config DIRECTORY: the server (container_name or config name)",
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
    server: str | None = None,
    debug: bool = False,
) -> None:
    """Sign a command with your key and mail it to the server (optionally wait for the reply).

    With --wait, the exit status is the command's own, or: 77 the server refused the
    request (nothing ran; the reason is printed), 124 the command ran past timeout_s and
    was killed, 75 no reply within --timeout (it may still come), 70 interrupted.
    """
    with user_errors(debug):
        if format not in FORMATS:
            raise Exit(f"mailsh: --format must be one of {', '.join(FORMATS)}", code=1)
        if (command is None) == (file is None):
            raise Exit("mailsh: give --command CMD or --file SCRIPT", code=1)
        if wait and timeout <= 0:
            raise Exit("mailsh: --timeout must be a number of seconds above 0", code=1)
        text = _script(file) if file else f"{command}\n"
        settings = fleet.pick(fleet.load_servers([config] if config else []), server).settings
        sent = sending.send(
            settings,
            keys.user_gpg(),
            text,
            format,
            key=key,
            wait=timeout if wait else None,
            environ=os.environ,
            docker_client=lambda: engine.docker_client(settings),
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
    help={
        **CONFIG_HELP,
        "dry-run": "show the diff, change nothing",
        "json": "print the records and the diff as JSON",
    },
)
def dns_update(
    c: Context,
    config: str | None = None,
    dry_run: bool = False,
    json: bool = False,
    debug: bool = False,
) -> None:
    """Publish the mail records (A, MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT) and show the diff."""
    import json as json_module

    with user_errors(debug):
        settings = _settings(config)
        report = dns_publish.update_dns(settings, os.environ, progress, dry_run=dry_run)
        if json:
            print(json_module.dumps(dns_publish.report_json(report), indent=2))
            return
        for line in dns_publish.report_lines(report):
            out.print(line, soft_wrap=True)


@task(
    name="dkim-rotate",
    help={
        **CONFIG_HELP,
        "grace": "how long the old selector stays published (default 7d; d, h, m or s)",
    },
)
def dkim_rotate(
    c: Context, config: str | None = None, grace: str = "7d", debug: bool = False
) -> None:
    """New DKIM selector: publish it, sign with it once visible, retire the old one later."""
    with user_errors(debug):
        settings = _settings(config)
        rotation = rotate_dkim(settings, os.environ, progress, dkim.parse_duration(grace))
        out.print(f"DKIM selector {rotation.new} signs (visible after {rotation.waited_s:.1f} s)")
        until = rotation.remove_after.strftime("%Y-%m-%d %H:%M:%S %Z")
        out.print(f"  {rotation.old} stays published until {until}; the next dns-update after")
        out.print("  that removes it")
        result = deploy.update_running(settings, engine.docker_client(settings), progress)
        if result is not None:
            out.print(f"  opendkim in {settings.container_name}: {result.action.value}")


@task(
    iterable=["config"],
    help={
        **CONFIGS_HELP,
        "force": "renew even when more than 30 days remain",
    },
)
def certs(c: Context, config: list[str], force: bool = False, debug: bool = False) -> None:
    """Issue or renew the ACME certificate (DNS-01) and reload postfix and caddy."""

    def one(server: fleet.Server, said: fleet.Progress) -> deploy.CertsOutcome:
        settings = server.settings
        if settings.tls.mode != "acme":
            raise ConfigError(
                f'tls.mode is "{settings.tls.mode}": set [tls] mode = "acme" '
                "to use ACME certificates"
            )
        return deploy.renew_certificate(
            settings, lambda: engine.docker_client(settings), said, force
        )

    with user_errors(debug):
        outcomes = fleet.run_all(fleet.load_servers(config), one, progress)
        for o in outcomes:
            name = f"{o.server.name}: " if len(outcomes) > 1 else ""
            if o.value is None:
                if len(outcomes) > 1:
                    out.print(styled(name, ("failed", "red"), f": {o.error}"), soft_wrap=True)
                continue
            cert = o.value.certificate
            if not cert.issued:
                out.print(f"{name}nothing to do: {cert.reason}")
                continue
            until = cert.not_after.strftime("%Y-%m-%d") if cert.not_after else "?"
            out.print(
                styled(
                    name,
                    ("certificate issued", "bold green"),
                    f" in {cert.seconds:.1f} s ({cert.reason}), valid until {until}",
                )
            )
            if o.value.reloaded:
                out.print(f"  postfix and caddy reloaded in {o.server.name}")
            else:
                why = o.value.not_reloaded
                out.print(f"  server not updated ({why}): `invoke provision` will use it")
        _failed(outcomes)


@task(name="server-key", help=CONFIG_HELP)
def server_key(c: Context, config: str | None = None, debug: bool = False) -> None:
    """Create the server's OpenPGP key (encrypted requests and replies); print the public key."""
    with user_errors(debug):
        settings = _settings(config)
        state = StateDir(settings.state_dir.resolve())
        state.ensure()
        key, created = ensure_server_key(state, settings.request_recipient)
        err.print(f"{'created' if created else 'existing'} server key {key.fingerprint}")
        result = (
            deploy.update_running(settings, engine.docker_client(settings), progress)
            if created
            else None
        )
        if result is not None:
            err.print(f"server updated ({result.action.value})")
        print(key.public, end="")


@task(
    name="check-deliverability",
    iterable=["config"],
    help={
        **CONFIGS_HELP,
        "json": "print the report as JSON (provision/deliverability/report.schema.json)",
        "only": "run only these checks or areas (comma-separated)",
        "skip": "skip these checks or areas (comma-separated)",
        "send": "also send a signed echo and report the receiver's SPF/DKIM/DMARC verdicts",
        "list": "list the checks (names for --only/--skip) and exit",
    },
)
def check_deliverability(
    c: Context,
    config: list[str],
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
            out.print(f"{check.name:<12} {check.area:<8} {check.description}")
        return

    def one(server: fleet.Server, said: fleet.Progress) -> tuple[Any, Any]:
        settings = server.settings
        settings = engine.with_published_endpoints(settings, engine.select_engine(settings))
        timeout = settings.deliverability.reply_timeout_s
        probe = probe_sender(settings, os.environ, timeout) if send else None
        target = target_from_settings(settings, send_probe=probe)
        return target, run(target, _names(only), _names(skip))

    with user_errors(debug):
        outcomes = fleet.run_all(fleet.load_servers(config), one, progress)
        _failed(outcomes)
    docs, codes = [], []
    for o in outcomes:
        assert o.value is not None
        target, done = o.value
        codes.append(exit_code(done.results))
        if json:
            docs.append(report.report_json(done.results, target, done.elapsed_s))
            continue
        if len(outcomes) > 1:
            out.print(styled((o.server.name, "bold"), f" ({target.hostname})"))
        report.render_table(done.results, done.elapsed_s, out)
    if json:
        print(json_module.dumps(docs[0] if len(docs) == 1 else docs, indent=2))
    if max(codes):
        raise Exit(code=max(codes))


def _names(value: str) -> list[str]:
    return [n.strip() for n in value.split(",") if n.strip()]
