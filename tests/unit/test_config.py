from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from provision.config import DEFAULT_DOMAIN, load_settings, parse_settings
from provision.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "mailsh.toml"
    path.write_text(text)
    return load_settings(path, environ={})


def test_no_file_gives_the_embedded_local_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, environ={})
    assert settings.domain == DEFAULT_DOMAIN
    assert settings.fqdn == f"mail.{DEFAULT_DOMAIN}"
    assert (settings.ports.bind, settings.ports.smtp, settings.ports.https) == (
        "127.0.0.1",
        2525,
        8443,
    )
    assert settings.tls.mode == "self-signed"
    assert settings.dns.provider == "manual"
    assert settings.request_recipient == f"root@{DEFAULT_DOMAIN}"


def test_config_path_comes_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text('domain = "example.org"\n')
    assert load_settings(None, environ={"MAILSH_CONFIG": str(path)}).domain == "example.org"


def test_relative_state_dir_is_taken_from_the_config_file_directory(tmp_path: Path) -> None:
    settings = _load(tmp_path, 'state_dir = "st"\n')
    assert settings.state_dir == tmp_path / "st"


@pytest.mark.parametrize("section", ["acme", "deliverability"])
def test_a_ca_bundle_is_taken_from_the_config_directory_and_must_exist(
    tmp_path: Path, section: str
) -> None:
    with pytest.raises(ConfigError, match=rf"\[{section}\] ca_bundle: no such file .*/ca\.pem"):
        _load(tmp_path, f'[{section}]\nca_bundle = "ca.pem"\n')
    (tmp_path / "ca.pem").write_text("a CA\n")
    settings = _load(tmp_path, f'[{section}]\nca_bundle = "ca.pem"\n')
    assert getattr(settings, section).ca_bundle == tmp_path / "ca.pem"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[image]\nname = "Mailsh"\n', r"image\.name: 'Mailsh' is not a Docker image name"),
        ('[image]\nname = "mailsh:v1"\n', r"image\.name: 'mailsh:v1' is not a Docker image name"),
        ('[image]\nbase = "debian bookworm"\n', r"image\.base: 'debian bookworm' is not"),
    ],
)
def test_an_image_name_docker_would_refuse_is_a_config_error(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        _load(tmp_path, text)


def test_registry_image_references_are_taken(tmp_path: Path) -> None:
    text = '[image]\nbase = "registry.example.org:5000/debian:bookworm-slim"\nname = "me/mailsh"\n'
    settings = _load(tmp_path, text)
    assert settings.image.base == "registry.example.org:5000/debian:bookworm-slim"
    assert settings.image.name == "me/mailsh"


def test_unknown_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ports\.smpt: unknown key"):
        _load(tmp_path, "[ports]\nsmpt = 25\n")


def test_wrong_type_names_the_key_and_the_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ports\.smtp: .*integer.*'twenty-five'"):
        _load(tmp_path, '[ports]\nsmtp = "twenty-five"\n')


def test_invalid_domain_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"domain: 'not a domain' is not a valid domain name"):
        _load(tmp_path, 'domain = "not a domain"\n')


def test_invalid_fingerprint_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"keys\.0\.fingerprint: 'ABCD' is not an OpenPGP"):
        _load(tmp_path, '[[keys]]\nfingerprint = "ABCD"\n')


def test_broken_toml_is_reported_with_its_position(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not valid TOML: .*line 1"):
        _load(tmp_path, "domain = \n")


def test_missing_config_file_named_by_the_environment_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(None, environ={"MAILSH_CONFIG": str(tmp_path / "nope.toml")})


def test_files_tls_mode_needs_both_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tls: .*cert_file and key_file"):
        _load(tmp_path, '[tls]\nmode = "files"\ncert_file = "c.pem"\n')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bogus = 1\n", "bogus: unknown key"),
        ('[ports]\nhttps = "x"\n', "ports.https:"),
        ('domain = "-bad-.example"\n', "domain:"),
    ],
)
def test_invoke_reports_a_bad_config_in_one_line_and_exits_1(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "mailsh.toml"
    path.write_text(text)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "invoke",
            "--search-root",
            str(ROOT),
            "provision",
            "--config",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"mailsh: {path}: {expected}")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("user", ["root", "mailsh-server", "postfix", "caddy"])
def test_run_as_refuses_root_and_service_users(user: str) -> None:
    with pytest.raises(ConfigError, match="service account"):
        parse_settings({"requests": {"run_as": user}}, "mailsh.toml", Path("."))


def test_a_key_cannot_run_as_root() -> None:
    key = {"fingerprint": "A" * 40, "run_as": "root"}
    with pytest.raises(ConfigError, match=r"keys\.0\.run_as"):
        parse_settings({"keys": [key]}, "mailsh.toml", Path("."))


def test_a_misspelt_key_is_answered_with_the_likely_one() -> None:
    with pytest.raises(
        ConfigError, match=r"requests\.timout_s: unknown key; did you mean 'timeout_s'"
    ):
        parse_settings({"requests": {"timout_s": 3}}, "mailsh.toml", Path("."))
