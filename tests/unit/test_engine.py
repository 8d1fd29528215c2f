"""Which engine a server uses, and where its published ports are dialled."""

from __future__ import annotations

from pathlib import Path

import pytest

from provision.config import parse_settings
from provision.engine import (
    Engine,
    connect,
    published_host,
    reachable_here,
    select_engine,
    with_published_endpoints,
)
from provision.errors import ConfigError, DockerError

VPS = "ssh://admin@vps.example.org:2222"
EVERY_ADDRESS = "0.0.0.0"  # noqa: S104 - a [ports] bind value


def test_config_engine_wins_over_docker_host() -> None:
    settings = parse_settings({"engine": {"host": VPS}}, "t", Path("/"))
    engine = select_engine(settings, {"DOCKER_HOST": "tcp://other:2375"})
    assert (engine.url, engine.source) == (VPS, "[engine] host")


def test_docker_host_is_used_without_engine_config() -> None:
    settings = parse_settings({}, "t", Path("/"))
    engine = select_engine(settings, {"DOCKER_HOST": VPS})
    assert engine.host == "vps.example.org"


def test_local_socket_has_no_remote_host() -> None:
    assert Engine("unix:///var/run/docker.sock", "DOCKER_HOST").host is None
    assert not Engine(None, "local socket").remote


def test_ports_on_every_address_are_dialled_at_the_engines_machine() -> None:
    assert published_host(EVERY_ADDRESS, Engine(VPS, "DOCKER_HOST")) == "vps.example.org"
    assert published_host(EVERY_ADDRESS, Engine(None, "local socket")) == "127.0.0.1"


def test_ports_on_a_given_address_are_dialled_there() -> None:
    assert published_host("203.0.113.5", Engine(VPS, "DOCKER_HOST")) == "203.0.113.5"


def test_a_remote_loopback_port_is_not_reachable_from_here() -> None:
    assert not reachable_here("127.0.0.1", Engine(VPS, "DOCKER_HOST"))
    assert reachable_here("127.0.0.1", Engine(None, "local socket"))


def test_deliverability_checks_dial_the_engines_machine() -> None:
    settings = parse_settings({"ports": {"bind": EVERY_ADDRESS, "smtp": 25}}, "t", Path("/"))
    moved = with_published_endpoints(settings, Engine(VPS, "DOCKER_HOST"))
    assert moved.deliverability.smtp == "vps.example.org:25"


def test_engine_host_must_be_a_docker_address() -> None:
    with pytest.raises(ConfigError, match=r"engine\.host: 'vps.example.org' is not a Docker"):
        parse_settings({"engine": {"host": "vps.example.org"}}, "t", Path("/"))


def test_unreachable_ssh_engine_is_one_sentence_with_what_to_try() -> None:
    with pytest.raises(DockerError) as info:
        connect(Engine("ssh://root@127.0.0.1:1", "[engine] host"))
    assert info.value.message.startswith("cannot reach the Docker engine at ssh://root@127.0.0.1:1")
    assert info.value.hint == (
        "check that `ssh root@127.0.0.1 -p 1 docker version` works "
        "(key-based login, the docker CLI on the server)"
    )
