"""Cluster benchmark: several quantd nodes sharing one PostgreSQL job store and one data dir.

(a) throughput: 500 small `w8` jobs (a model of three small float32 tensors) pushed through
    one node on its embedded SQLite store, then 1, 2 and 3 nodes on PostgreSQL (a fresh
    database and a fresh shared data dir per case). Every node runs one worker
    (jobs.workers=1), so the cases compare node counts, not cores; this machine has two cores,
    so three nodes already share them. 8 client threads submit all jobs round-robin over the
    nodes (keep-alive connections), then long-poll each to its end. Per case: jobs/s (jobs over
    the wall time from the first submit to the last finished_at), claim latency p50/p99
    (started_at - created_at: under this burst, mostly the queue wait), the same for 50 jobs
    sent one at a time to idle nodes afterwards (the wake-up and claim alone), and how many
    distinct nodes ran jobs.
(b) failover: two PostgreSQL nodes with jobs.lease_seconds=3 and 20 k-means jobs of a model
    sized so that one job takes >= 1 s (calibrated first); once node A runs one, it is killed
    (SIGKILL), and the figure is the time from the kill until node B runs that job again
    (its new started_at) and until it finished. It includes the lease running out and B's one
    worker finishing the job it was running.

A throwaway PostgreSQL comes from scripts/postgres-cluster (Debian's postgresql package). Every
process and the cluster are stopped on exit, errors included.

Usage: scripts/bench cluster  (or .venv/bin/python scripts/benchmarks/cluster.py [--jobs N])
"""
import argparse
import concurrent.futures
import http.client
import itertools
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import datetime

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from foundation import BIN, ROOT, write_safetensors  # noqa: E402

POSTGRES_CLUSTER = os.path.join(ROOT, "scripts", "postgres-cluster")
CLIENTS = 8
FAILOVER_JOBS = 20
IDLE_JOBS = 50
LEASE_SECONDS = 3
SLOW_PRESET = "palettize-8"  # 256-entry k-means per tensor: the slowest preset per byte
FINISHED = ("succeeded", "failed", "cancelled")


# Fixtures (made at run time)

def small_model(path):
    """Three float32 tensors just above the 2,048-element weight threshold (about 80 KB)."""
    rng = np.random.default_rng(0)
    shapes = {"layer0.weight": (64, 64), "layer1.weight": (128, 64), "layer2.weight": (64, 128)}
    write_safetensors(path, {name: rng.standard_normal(s).astype(np.float32) * 0.02 for name, s in shapes.items()})


def float32_model(path, megabytes):
    """About `megabytes` MB of float32 weights as 1024-column matrices (all values distinct)."""
    rng = np.random.default_rng(1)
    rows = max(1, int(megabytes * 1e6 / 4 / 1024 / 4))
    write_safetensors(path, {f"layer{i}.weight": rng.standard_normal((rows, 1024)).astype(np.float32) * 0.02
                             for i in range(4)})


# PostgreSQL

class Postgres:
    """A throwaway cluster in `directory` (scripts/postgres-cluster), one database per case."""

    def __init__(self, directory):
        self.directory = directory
        self.url = None

    def __enter__(self):
        # Durable (fsync on), as a production database and the SQLite case are.
        out = subprocess.run([POSTGRES_CLUSTER, "start", self.directory], check=True, capture_output=True, text=True,
                             env={**os.environ, "PG_DURABLE": "1"})
        self.url = out.stdout.strip()
        return self

    def __exit__(self, *exc):
        subprocess.run([POSTGRES_CLUSTER, "stop", self.directory], check=False)

    def create_database(self, name):
        subprocess.run(["psql", self.url, "-v", "ON_ERROR_STOP=1", "-qc", f"CREATE DATABASE {name}"],
                       check=True, capture_output=True, text=True)
        return self.url.rsplit("/", 1)[0] + "/" + name


# quantd nodes

class Node:
    """One `quantd serve` process; its stderr goes to <name>.log beside the data dir."""

    def __init__(self, name, data_dir, settings):
        self.name = name
        work = os.path.dirname(data_dir)
        self.log_path = os.path.join(work, f"{name}.log")
        args = [BIN, "serve", "--port", "0", "--data-dir", data_dir, "--set", f"cluster.node_id={name}"]
        for key, value in settings.items():
            args += ["--set", f"{key}={value}"]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, cwd=work, stdout=subprocess.PIPE, stderr=log, text=True)
        line = self.proc.stdout.readline()
        match = re.search(r"listening on (http://[^\s/]+)", line)
        if not match:
            self.kill()
            raise RuntimeError(f"{name} did not start (it printed {line.strip()!r}); last lines of {self.log_path}:\n"
                               + tail(self.log_path))
        self.base = match.group(1)
        # Whatever else it prints must not fill the pipe and block it.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


class Nodes:
    """Starts nodes one after the other (the first one migrates a fresh database), stops all on exit."""

    def __init__(self, count, data_dir, settings):
        self.count, self.data_dir, self.settings = count, data_dir, settings
        self.nodes = []

    def __enter__(self):
        try:
            for k in range(1, self.count + 1):
                self.nodes.append(Node(f"node{k}", self.data_dir, self.settings))
        except BaseException:
            self.__exit__()
            raise
        return self.nodes

    def __exit__(self, *exc):
        for node in self.nodes:
            node.stop()


def tail(path, lines=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


# HTTP

class Client:
    """JSON over keep-alive http.client connections, one per thread and node. POSTs carry an
    Idempotency-Key, so a request retried after a dropped connection or a 429/503 is safe."""

    def __init__(self):
        self.local = threading.local()

    def request(self, base, method, path, body=None, headers=None, timeout=60, tries=20):
        connections = self.local.__dict__.setdefault("connections", {})
        for attempt in range(tries):
            connection = connections.get(base)
            if connection is None:
                url = urllib.parse.urlsplit(base)
                connection = connections[base] = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
            try:
                connection.request(method, path, body=body, headers=headers or {})
                response = connection.getresponse()
                data = response.read()
            except (http.client.HTTPException, OSError):
                connection.close()
                connections.pop(base, None)
                if attempt == tries - 1:
                    raise
                time.sleep(0.1)
                continue
            if response.will_close:
                connection.close()
                connections.pop(base, None)
            if response.status in (429, 503) and attempt < tries - 1:
                time.sleep(float(response.getheader("Retry-After") or 0.5))
                continue
            if response.status >= 400:
                raise RuntimeError(f"{method} {base}{path}: {response.status} {data[:500]!r}")
            return json.loads(data) if data else None
        raise AssertionError("unreachable")

    def upload_model(self, base, path):
        with open(path, "rb") as f:
            body = f.read()
        model = self.request(base, "POST", "/v1/models", body,
                             {"Content-Type": "application/octet-stream", "Idempotency-Key": f"model-{os.path.basename(path)}"})
        return model["id"]

    def submit(self, base, model_id, preset, key):
        body = json.dumps({"model_id": model_id, "preset": preset})
        return self.request(base, "POST", "/v1/jobs", body, {"Content-Type": "application/json", "Idempotency-Key": key})

    def job(self, base, job_id):
        return self.request(base, "GET", f"/v1/jobs/{job_id}")

    def wait(self, base, job_id, deadline_seconds=600):
        """Long-polls (?wait=30) until the job finished."""
        deadline = time.monotonic() + deadline_seconds
        while True:
            job = self.request(base, "GET", f"/v1/jobs/{job_id}?wait=30", timeout=90)
            if job["status"] in FINISHED:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['status']} after {deadline_seconds} s")

    def running(self, base):
        return self.request(base, "GET", "/v1/jobs?status=running&limit=500")["jobs"]


def seconds(timestamp):
    """An RFC 3339 timestamp (`…T12:34:56.789Z`) as Unix seconds."""
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def percentile(values, q):
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# (a) throughput

def push_jobs(client, nodes, model_id, preset, count, tag):
    """Submits `count` jobs round-robin over the nodes from CLIENTS threads, then long-polls
    every one to its end; returns the finished jobs and the client's time of the first submit."""
    targets = list(itertools.islice(itertools.cycle(nodes), count))
    key = re.sub(r"[^A-Za-z0-9]+", "-", tag)  # Idempotency-Key: visible ASCII, no spaces
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        started = time.time()
        submitted = list(pool.map(lambda i: (targets[i], client.submit(targets[i].base, model_id, preset, f"{key}-{i}")),
                                  range(count)))
        finished = list(pool.map(lambda pair: client.wait(pair[0].base, pair[1]["id"]), submitted))
    return finished, started


def throughput_case(client, label, work, jobs, node_count, model_path, database_url=None):
    data_dir = os.path.join(work, re.sub(r"[^a-z0-9]+", "-", label.lower()), "data")
    os.makedirs(data_dir)
    settings = {"jobs.workers": 1, "jobs.queue_capacity": 2 * jobs}
    if database_url:
        settings["storage.database_url"] = database_url
    with Nodes(node_count, data_dir, settings) as nodes:
        model_id = client.upload_model(nodes[0].base, model_path)
        finished, started = push_jobs(client, nodes, model_id, "w8", jobs, label)
        # Then one job at a time on the idle nodes: the claim latency without a queue (the
        # NOTIFY or local wake-up and the claim itself).
        key = re.sub(r"[^A-Za-z0-9]+", "-", label)
        idle = [client.wait(node.base, client.submit(node.base, model_id, "w8", f"{key}-idle-{i}")["id"])
                for i, node in zip(range(IDLE_JOBS), itertools.cycle(nodes))]
    failed = [job for job in finished if job["status"] != "succeeded"]
    if failed:
        print(f"  {label}: {len(failed)} of {jobs} jobs did not succeed, e.g. {json.dumps(failed[0])[:300]}", file=sys.stderr)
    wall = max(seconds(job["finished_at"]) for job in finished) - started
    claims = [seconds(job["started_at"]) - seconds(job["created_at"]) for job in finished if job.get("started_at")]
    idle_claims = [seconds(job["started_at"]) - seconds(job["created_at"]) for job in idle]
    return {"case": label, "jobs/s": jobs / wall, "claim p50 ms": 1000 * percentile(claims, 50),
            "claim p99 ms": 1000 * percentile(claims, 99), "idle claim p50 ms": 1000 * percentile(idle_claims, 50),
            "idle claim p99 ms": 1000 * percentile(idle_claims, 99),
            "nodes used": len({job.get("node") for job in finished} - {None})}


def print_table(rows):
    columns = ["case", "jobs/s", "claim p50 ms", "claim p99 ms", "idle claim p50 ms", "idle claim p99 ms", "nodes used"]
    print("| " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * (len(columns) - 1))
    for row in rows:
        cells = [row["case"], f"{row['jobs/s']:.1f}", f"{row['claim p50 ms']:.1f}", f"{row['claim p99 ms']:.1f}",
                 f"{row['idle claim p50 ms']:.1f}", f"{row['idle claim p99 ms']:.1f}", str(row["nodes used"])]
        print("| " + " | ".join(cells) + " |")


# (b) failover

def job_seconds(job):
    return seconds(job["finished_at"]) - seconds(job["started_at"])


def calibrated_model(client, node, work, megabytes):
    """A float32 model on which one SLOW_PRESET job takes at least a second here: doubles the
    size (up to 256 MB) until it does. Returns its id and the last job's seconds."""
    for attempt in itertools.count():
        path = os.path.join(work, f"failover-{megabytes}mb.safetensors")
        float32_model(path, megabytes)
        model_id = client.upload_model(node.base, path)
        job = client.wait(node.base, client.submit(node.base, model_id, SLOW_PRESET, f"calibrate-{attempt}")["id"])
        if job["status"] != "succeeded":
            raise RuntimeError(f"calibration job failed: {json.dumps(job)[:500]}")
        took = job_seconds(job)
        if took >= 1 or megabytes >= 256:
            return model_id, megabytes, took
        megabytes = min(256, megabytes * max(2, math.ceil(1.5 / max(took, 0.01))))


def victims_of(client, survivor, dead):
    return {job["id"] for job in client.running(survivor.base) if job.get("node") == dead.name}


def failover(client, work, database_url, megabytes):
    data_dir = os.path.join(work, "failover", "data")
    os.makedirs(data_dir)
    settings = {"jobs.workers": 1, "jobs.queue_capacity": 4 * FAILOVER_JOBS,
                "jobs.lease_seconds": LEASE_SECONDS, "storage.database_url": database_url}
    with Nodes(2, data_dir, settings) as (a, b):
        model_id, megabytes, took = calibrated_model(client, b, os.path.dirname(data_dir), megabytes)
        submitted = [client.submit((a, b)[i % 2].base, model_id, SLOW_PRESET, f"failover-{i}")["id"]
                     for i in range(FAILOVER_JOBS)]
        deadline = time.monotonic() + 120
        while not (before := victims_of(client, b, a)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{a.name} ran none of the {FAILOVER_JOBS} jobs within 120 s")
            time.sleep(0.05)
        killed_at = time.time()
        a.kill()
        # The store still shows the killed node's jobs as running until their lease runs out.
        victims = before | victims_of(client, b, a)
        results = [restart_of(client, b, job_id, killed_at) for job_id in sorted(victims)]
        finished = [client.wait(b.base, job_id) for job_id in submitted]
    succeeded = sum(job["status"] == "succeeded" for job in finished)
    durations = sorted(job_seconds(job) for job in finished if job.get("started_at") and job.get("finished_at"))
    restarts = ", ".join(f"{r['restart']:.2f} s (finished {r['finish']:.2f} s after the kill, on {r['node']}, "
                         f"attempt {r['attempts']})"
                         if r["restart"] is not None else f"not restarted ({r['why']})" for r in results)
    print(f"failover, 2 nodes on PostgreSQL, jobs.lease_seconds={LEASE_SECONDS}: {a.name} killed (SIGKILL) while running "
          f"{len(results)} job(s); kill -> running again: {restarts}; {succeeded}/{FAILOVER_JOBS} succeeded; "
          f"{SLOW_PRESET} on {megabytes} MB float32, job median {durations[len(durations) // 2]:.2f} s "
          f"(calibration {took:.2f} s)")


def restart_of(client, survivor, job_id, killed_at):
    """Polls one of the killed node's jobs (every 50 ms) to its end. The restart is its new
    started_at (the survivor's claim) after the kill, or, should started_at not be reset on a
    new attempt, when a poll first saw it running on the survivor."""
    seen_again = None
    deadline = time.monotonic() + 300
    while True:
        job = client.job(survivor.base, job_id)
        if seen_again is None and job["status"] == "running" and job.get("node") == survivor.name:
            seen_again = time.time() - killed_at
        if job["status"] in FINISHED:
            break
        if time.monotonic() > deadline:
            return {"restart": None, "why": f"still {job['status']} 300 s after the kill"}
        time.sleep(0.05)
    if job["status"] != "succeeded":
        return {"restart": None, "why": f"ended {job['status']}: {job.get('error')}"}
    started = seconds(job["started_at"]) - killed_at
    if started > 0:
        restart = started
    elif seen_again is not None:
        restart = seen_again
    else:
        return {"restart": None, "why": f"finished on {job.get('node')} with started_at before the kill"}
    return {"restart": restart, "finish": seconds(job["finished_at"]) - killed_at, "node": job.get("node"),
            "attempts": job.get("attempts")}


# Main

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--failover-mb", type=int, default=8, help="first model size tried for the failover jobs")
    args = parser.parse_args()
    if not os.access(BIN, os.X_OK):
        sys.exit(f"{BIN} is missing: build it with swift build -c release --product quantd (scripts/bench does)")
    # SIGTERM unwinds like Ctrl-C, so every `with` below stops its processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    work = tempfile.mkdtemp(prefix="quantd-cluster-")
    os.chmod(work, 0o755)  # as root, the PostgreSQL cluster inside runs as another user
    client = Client()
    try:
        model_path = os.path.join(work, "small.safetensors")
        small_model(model_path)
        with Postgres(os.path.join(work, "pg")) as pg:
            print(f"{args.jobs} w8 jobs on a {os.path.getsize(model_path) // 1000} KB float32 model, {CLIENTS} client "
                  f"threads, jobs.workers=1 per node, {os.cpu_count()} cores:", file=sys.stderr)
            rows = [throughput_case(client, "1 node, SQLite", work, args.jobs, 1, model_path)]
            for count in (1, 2, 3):
                url = pg.create_database(f"bench_{count}")
                rows.append(throughput_case(client, f"{count} node{'s' * (count > 1)}, PostgreSQL", work, args.jobs, count,
                                            model_path, url))
            print_table(rows)
            print()
            failover(client, work, pg.create_database("bench_failover"), args.failover_mb)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
