"""The benchmarks keep working: each ``bench/*.py --quick`` runs (all five at once, as subprocesses),
exits 0 and prints its key figures. Quick mode is a smoke test; its figures are not the published ones."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

EXPECTED = {
    "throughput": ["makespan", "lower_bound", "ratio", "slot_utilization", "member_max_wait_spread"],
    "ack": ["ack_p50", "ack_p99", "ack_max", "ack_missing_or_failed"],
    "delivery": ["delivery_p50", "status_queries_per_job", "status_queries_per_job_second"],
    "memory": ["rss_idle", "rss_with_100_queued", "peak_rss_delta_4_images", "peak_rss_delta_8_images"],
    "restyle_load": ["quiet_ack_p99", "loaded_ack_p99", "loaded_ack_max", "p99_ratio", "restyle_upload_bytes"],
}


def figures(output: str) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    for name, value in re.findall(r"^(\w+): (-?[\d.]+)", output, re.M):
        found.setdefault(name, []).append(float(value))
    return found


@pytest.mark.timeout(120)
def test_every_benchmark_runs_in_quick_mode() -> None:
    started = time.monotonic()
    procs = {
        name: subprocess.Popen(
            [sys.executable, f"bench/{name}.py", "--quick"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in EXPECTED
    }
    outputs = {}
    for name, proc in procs.items():
        out, _ = proc.communicate(timeout=110)
        outputs[name] = out
        assert proc.returncode == 0, f"bench/{name}.py --quick exited {proc.returncode}:\n{out[-3000:]}"
    for name, keys in EXPECTED.items():
        seen = figures(outputs[name])
        missing = [k for k in keys if k not in seen]
        assert not missing, f"bench/{name}.py did not print {missing}:\n{outputs[name][-3000:]}"
    throughput = figures(outputs["throughput"])
    assert throughput["rate_limit_violations"] == [0, 0]
    assert throughput["concurrency_violations"] == [0, 0]
    assert all(r >= 1.0 for r in throughput["ratio"])  # never faster than the theoretical bound
    assert figures(outputs["ack"])["ack_missing_or_failed"] == [0]
    restyle = figures(outputs["restyle_load"])
    assert restyle["ack_missing_or_failed"] == [0] and restyle["restyle_delivered"] == [1]
    assert 0 < restyle["restyle_upload_bytes"][0] <= 10 * 1024 * 1024
    assert time.monotonic() - started < 100
