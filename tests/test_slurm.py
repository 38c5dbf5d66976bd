"""The Slurm path against a real single-node Slurm (Debian ``slurm-wlm`` + ``munge``): the fixture starts a
private munged, slurmctld and slurmd on localhost (own config, sockets, ports and state in a temporary
directory); ``licoat sweep --slurm --submit --ranks 2`` submits a two-point job array whose tasks call
``srun --mpi=pmi2 -n 2 ... licoat run``; ``licoat collect`` gathers both points; a second ``--slurm`` has nothing
left to submit. Skipped, with the reason printed, where Slurm or munge is not installed or not root."""

import csv
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from licoat.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "cases" / "planar.toml"
NEEDED = ["munged", "munge", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "srun"]


def _skip(reason: str):
    print(f"SKIP: {reason}", file=sys.stderr)
    pytest.skip(reason)


def _which(name):
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.path.exists(p)), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONF = """ClusterName=licoattest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={d}/munge.sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
InactiveLimit=0
MinJobAge=300
KillWait=5
Waittime=0
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
"""


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A private single-node Slurm cluster; yields the environment that points at it."""
    missing = [n for n in NEEDED if _which(n) is None]
    if missing:
        _skip(f"Slurm/munge not installed (missing {', '.join(missing)}; Debian: apt-get install -y slurm-wlm munge)")
    if os.geteuid() != 0:
        _skip("slurmd needs root to start jobs as the submitting user; run as root (CI does)")
    d = Path(tempfile_short())
    for sub in ("state", "spool"):
        (d / sub).mkdir(parents=True)
    key = d / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    host = socket.gethostname().split(".")[0]
    conf = d / "slurm.conf"
    conf.write_text(CONF.format(host=host, d=d, ctld_port=_free_port(), d_port=_free_port(), cpus=os.cpu_count() or 1))
    env = dict(os.environ, SLURM_CONF=str(conf))
    procs = []
    logs = []

    def start(cmd, name):
        fh = open(d / f"{name}.out", "w")
        logs.append(fh)
        procs.append(subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env))

    try:
        start([_which("munged"), "-F", "--force", f"--socket={d}/munge.sock", f"--key-file={key}",
               f"--pid-file={d}/munged.pid", f"--log-file={d}/munged.log", f"--seed-file={d}/munge.seed"], "munged")
        t0 = time.time()
        while not (d / "munge.sock").exists() and time.time() - t0 < 10:
            time.sleep(0.1)
        start([_which("slurmctld"), "-D", "-i", "-f", str(conf)], "slurmctld")
        time.sleep(1.0)
        start([_which("slurmd"), "-D", "-f", str(conf)], "slurmd")
        t0 = time.time()
        state = ""
        while time.time() - t0 < 60:
            r = subprocess.run([_which("sinfo"), "-h", "-o", "%T"], capture_output=True, text=True, env=env)
            state = r.stdout.strip()
            if state.startswith("idle"):
                break
            time.sleep(0.5)
        if not state.startswith("idle"):
            logs_text = "".join((d / f).read_text()[-1500:] for f in ("slurmctld.out", "slurmd.out") if (d / f).exists())
            _skip(f"single-node Slurm did not come up (node state {state!r}): {logs_text}")
        yield env
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for fh in logs:
            fh.close()
        shutil.rmtree(d, ignore_errors=True)


def tempfile_short() -> str:
    """A short directory (the munge socket path must stay below ~100 characters)."""
    import tempfile

    return tempfile.mkdtemp(prefix="licoat-slurm-", dir="/tmp")


def test_two_point_array_runs_and_collect_gathers_it(slurm, tmp_path, monkeypatch, capsys):
    for k, v in slurm.items():
        monkeypatch.setenv(k, v)
    f = tmp_path / "s.toml"
    f.write_text(f'base = "{DEFAULT}"\n[set]\n"geometry.mesh_size" = "5 um"\n[vary]\n"coating.thickness" = ["10 nm", "50 nm"]\n')
    out = tmp_path / "sw"
    # two MPI ranks per point; the pip wheel's MPICH talks to srun through PMI-2
    assert main(["sweep", str(f), "--out", str(out), "--slurm", "--submit", "--sbatch=--time=0:10:00", "--ranks", "2",
                 "--srun", "srun --mpi=pmi2"]) == 0
    job = (out / "slurm" / "job_id").read_text().strip()
    assert job
    t0 = time.time()
    while time.time() - t0 < 240:
        q = subprocess.run(["squeue", "-h", "-j", job], capture_output=True, text=True)
        if q.returncode == 0 and not q.stdout.strip():
            break
        time.sleep(1.0)
    else:
        pytest.fail(f"Slurm job {job} still queued/running after 240 s: {q.stdout}")
    assert main(["collect", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [r["status"] for r in rows] == ["finished", "finished"], [(r["point"], r["reason"]) for r in rows]
    for r, t in zip(rows, (10e-9, 50e-9)):
        assert tomllib.loads((out / r["point"] / "case.toml").read_text())["coating"]["thickness"] == pytest.approx(t)
        assert (out / "status" / f"{r['point']}.rc").read_text().strip() == "0"
        assert r["ranks"] == "2"  # one MPI job of 2 ranks, not 2 serial copies
    assert (out / "logs" / f"slurm-{job}_0.out").exists()  # the tasks ran under Slurm
    # resumable: nothing left to submit
    capsys.readouterr()
    assert main(["sweep", str(f), "--out", str(out), "--slurm"]) == 0
    assert "nothing to submit" in capsys.readouterr().out
