"""At most once, nothing dropped: a killed handler and a restarted container."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.fixtures.gpg import GpgKeys
from tests.fixtures.requests import started_request_server, submit, wait_reply
from tests.fixtures.server import RunningServer
from tests.requests_corpus import request
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def durable_server(
    docker_client: docker.DockerClient,
    base_image: str,
    gpg_keys: GpgKeys,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningServer]:
    with started_request_server(
        docker_client,
        tmp_path_factory.mktemp("durable"),
        gpg_keys,
        requests={"timeout_s": 60, "max_output_bytes": 4096},
    ) as server:
        yield server


def _wait_for_file(server: RunningServer, path: str, timeout: float = 20) -> None:
    def exists() -> bool:
        return server.exec(["test", "-e", path])[0] == 0

    wait_until(exists, timeout, f"{path} never appeared", pause=0.05)


def _no_command_running(server: RunningServer) -> bool:
    """No process of the command user is left (pgrep finds none)."""
    return server.exec(["pgrep", "-u", "mailsh"])[0] == 1


def test_killed_handler_is_answered_interrupted_and_not_run_twice(
    durable_server: RunningServer, gpg_keys: GpgKeys
) -> None:
    count = "/tmp/crash-count"
    command = f"echo run >> {count}\nsleep 5\n"
    msg_id = submit(durable_server, request(gpg_keys, "clearsign", command))
    _wait_for_file(durable_server, count)
    # The resident handler dies mid-run; supervisord starts a new one.
    code, out = durable_server.exec(["pkill", "-KILL", "-f", "^python3 -m mailsh_server.daemon"])
    assert code == 0, out
    # postfix deferred the message; ask for the retry it would make after its backoff.
    durable_server.exec(["postqueue", "-f"])
    reply = wait_reply(durable_server, msg_id, timeout=60)
    assert reply.result == "interrupted"
    assert "not re-run" in reply.text
    # The orphaned first run goes on after its handler died: wait until it has finished.
    wait_until(lambda: _no_command_running(durable_server), 20, "the first run never finished")
    assert durable_server.exec(["cat", count])[1] == "run\n"


def test_a_command_cut_off_by_a_runner_restart_is_answered_and_never_run_again(
    durable_server: RunningServer, gpg_keys: GpgKeys
) -> None:
    """The runner stops while a command runs (a crash, a restart): the sender hears that
    it was interrupted, the request is not kept for postfix to retry (a retry would run it
    a second time), and the new runner ends the command, whose timeout went with the old."""
    marker = f"/tmp/runner-restart-{uuid.uuid4().hex}"
    command = f"echo start >> {marker}\nsleep 300\necho end >> {marker}\n"
    msg_id = submit(durable_server, request(gpg_keys, "clearsign", command))
    _wait_for_file(durable_server, marker)
    code, out = durable_server.exec(["supervisorctl", "restart", "mailsh-runner"])
    assert code == 0, out
    reply = wait_reply(durable_server, msg_id)
    assert reply.result == "interrupted", reply.text
    assert "command runner stopped while it ran" in reply.text
    # Answered with 250, not 451: postfix keeps nothing to retry (it retries after 15 s).
    wait_until(
        lambda: "Mail queue is empty" in durable_server.exec(["postqueue", "-p"])[1],
        10,
        "the request was kept for a retry",
    )
    wait_until(
        lambda: _no_command_running(durable_server),
        10,
        "the command outlived the runner that started it",
    )
    assert durable_server.exec(["cat", marker])[1].split() == ["start"]
    # The restarted runner runs the next request as usual.
    msg_id = submit(durable_server, request(gpg_keys, "clearsign", "echo again\n"))
    assert wait_reply(durable_server, msg_id).stream("stdout") == "again\n"


def test_requests_accepted_before_a_restart_are_all_answered(
    durable_server: RunningServer, gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    ids = [
        submit(durable_server, request(gpg_keys, "pgp-mime", f"sleep 0.5; echo request {n}\n"))
        for n in range(10)
    ]
    durable_server.container.restart(timeout=10)
    answered = {}
    for n, msg_id in enumerate(ids):
        reply = wait_reply(durable_server, msg_id, timeout=120)
        answered[n] = reply.result
        if reply.result == "done":
            assert reply.stream("stdout") == f"request {n}\n"
    assert set(answered.values()) <= {"done", "interrupted"}
    assert len(answered) == 10
