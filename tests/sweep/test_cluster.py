"""A real two-node Ray cluster on this machine (`ray start --head` plus a second `ray start --address`
node) with token authentication, as docker/ starts it: `ray job submit` without the token is refused, and
with it a sweep submitted with `--working-dir .` runs on both nodes, its tables read back."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from tests.harness import REPO, run_cli
from tests.harness import write_spec

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(folders: list[str]) -> None:
    """Ends the processes of the nodes whose temp folders are `folders`; other Ray instances live on."""
    nodes = [p for p in psutil.process_iter(["cmdline"])
             if any(folder in " ".join(p.info["cmdline"] or []) for folder in folders)]
    for process in nodes:
        process.terminate()
    _, alive = psutil.wait_procs(nodes, timeout=10)
    for process in alive:
        process.kill()


@pytest.fixture
def token_cluster():
    """(dashboard address, env) of a head node and a worker node with one CPU each, in token mode with the
    token in RAY_AUTH_TOKEN, as docker/ starts them. Each node has its own temp folder, as separate machines
    would (nodes sharing one unpack the job's working dir over each other)."""
    folders = [tempfile.mkdtemp(prefix="ofr", dir="/tmp") for _ in range(2)]
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_AUTH_")}
    env.update(PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", RAY_AUTH_MODE="token",
               RAY_AUTH_TOKEN=secrets.token_hex(32))
    gcs, dashboard = _free_port(), _free_port()

    def start(*flags: str) -> None:  # free ports: another Ray instance may hold the default agent port
        subprocess.run([str(BIN / "ray"), "start", "--num-cpus", "1", "--disable-usage-stats",
                        "--dashboard-agent-listen-port", str(_free_port()), *flags],
                       env=env, check=True, capture_output=True, timeout=120)

    try:
        start("--head", "--port", str(gcs), "--dashboard-port", str(dashboard), "--include-dashboard", "true",
              "--ray-client-server-port", str(_free_port()), "--temp-dir", folders[0])
        start("--address", f"127.0.0.1:{gcs}", "--temp-dir", folders[1])
        yield f"http://127.0.0.1:{dashboard}", env
    finally:
        _stop(folders)


def _submit(address: str, env: dict, *args: str) -> subprocess.CompletedProcess:
    """`ray job submit --address ADDRESS ARGS` from the repository, as a user would type it."""
    for _ in range(15):  # the head's job agent takes a few seconds to come up after `ray start`
        job = subprocess.run([str(BIN / "ray"), "job", "submit", "--address", address, *args],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        if "No available agent to submit job" not in job.stdout + job.stderr:
            return job
        time.sleep(2)
    return job


def test_token_cluster_refuses_a_job_without_the_token_and_runs_one_with_it(token_cluster, sweep_data,
                                                                            tmp_path):
    address, env = token_cluster
    token = env["RAY_AUTH_TOKEN"]
    # A client with no token (Ray's default mode sends none) and one with a wrong token: both refused
    # before anything runs. With token mode off these would submit and exit 0.
    no_token = {key: value for key, value in env.items() if key != "RAY_AUTH_TOKEN"}
    no_token["RAY_AUTH_MODE"] = "disabled"
    wrong_token = env | {"RAY_AUTH_TOKEN": secrets.token_hex(32)}
    for client, answer in [(no_token, "Authentication required: Unauthorized: Missing authentication token"),
                           (wrong_token, "Authentication failed: Forbidden: Invalid authentication token")]:
        job = _submit(address, client, "--no-wait", "--working-dir", ".", "--", "python", "-c", "pass")
        output = job.stdout + job.stderr
        assert job.returncode != 0 and answer in output, output[-4000:]
        assert token not in output

    # with the token: a two-trial smoke sweep, one CPU each, so one trial per node
    spec = write_spec(tmp_path / "spec.yaml")
    storage = tmp_path / "runs"
    entrypoint = ["offsim-ray", "sweep", str(spec), "--preset", "smoke", "--storage", str(storage), "--quiet",
                  *sweep_data]  # `ray job submit` quotes each word into one shell command
    started = time.monotonic()
    job = _submit(address, env, "--working-dir", ".", "--", *entrypoint)
    assert job.returncode == 0, (job.stdout + job.stderr)[-4000:]
    assert "succeeded" in job.stdout + job.stderr
    assert "table1-smoke: 2 trials finished, 0 failed" in job.stdout + job.stderr
    tables = run_cli("tables", str(storage / "table1-smoke"), "--out", str(tmp_path / "results"))
    assert tables.returncode == 0, tables.stderr
    tidy = pd.read_parquet(tmp_path / "results" / "table1-smoke-trials.parquet")
    assert (tidy["status"] == "finished").all() and sorted(tidy["algo"]) == ["bc", "sac"]
    assert tidy["node"].nunique() == 2  # each node ran a trial
    assert tidy["seconds"].max() < time.monotonic() - started


def test_the_docker_cluster_files_start_every_ray_process_in_token_mode():
    """The files the cluster test stands for: the launcher's containers and every RayJob pod (head,
    workers, submitter) run with RAY_AUTH_MODE=token, the token from outside the repository."""
    import yaml

    launcher = yaml.safe_load((REPO / "docker" / "cluster.yaml").read_text())
    assert "--env RAY_AUTH_MODE=token" in launcher["docker"]["run_options"]
    token_path = next(o.split("=", 1)[1] for o in launcher["docker"]["run_options"] if "RAY_AUTH_TOKEN_PATH" in o)
    assert any(token_path.startswith(mount) for mount in launcher["file_mounts"])
    assert all(source.startswith("~") for source in launcher["file_mounts"].values())  # the user's machine
    documents = yaml.safe_load_all((REPO / "docker" / "rayjob.yaml").read_text())
    job = next(d for d in documents if d["kind"] == "RayJob")["spec"]
    cluster = job["rayClusterSpec"]
    pods = [job["submitterPodTemplate"], cluster["headGroupSpec"]["template"],
            *(group["template"] for group in cluster["workerGroupSpecs"])]
    for pod in pods:
        for container in pod["spec"]["containers"]:
            env = {item["name"]: item for item in container["env"]}
            assert env["RAY_AUTH_MODE"]["value"] == "token", container["name"]
            assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "offsim-ray-auth"
