"""What a backfill costs as a Dataflow batch job: the workers that saturate the API's budget without waste, their
vCPU-, memory- and disk-hours, and the cost at a region's list prices (`dataflow_prices.PRICES`, or a JSON file of
the same shape), with the Flex Template launch overhead apart.

The model: the job can send at most `api_rps` requests a second (`rate_limit`, and `max_concurrent_requests`
divided by the observed latency); each request costs `cpu_per_request` CPU seconds on a worker (its page's
records through the run's stages, Beam's own work included, as `plan` measures it: `run.record_cost`). So
`api_rps * cpu_per_request` vCPUs keep the budget busy (a Python worker runs one process per vCPU); more workers
would wait on the API. When `max_workers` are fewer, the CPU bounds the job instead. The job lasts the longer of
`requests / api_rps` and the CPU its requests take on its vCPUs, plus the workers' boot.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.runner_profile import DATAFLOW_DEFAULT_MAX_WORKERS
from beam_api_pipeline.plan.dataflow_prices import PRICES

DEFAULT_REGION = "us-central1"
DEFAULT_MACHINE = "n1-standard-1"


def load_prices(path: str | None) -> dict[str, Any]:
    """The price table: the bundled one, or the JSON file at `path`."""
    if path is None:
        return PRICES
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"--prices: cannot read {path}: {error}") from None


@dataclass(frozen=True)
class DataflowCost:
    """A batch job's size and cost (USD) at `region`'s prices of `as_of`: `workers` of the `needed` that keep the
    API busy (fewer when `max_workers` caps them), and what bounds the job's time (`api` or `cpu`)."""

    region: str
    machine: str
    workers: int
    needed: int
    bound_by: str
    api_rps: float
    cpu_per_request: float
    job_hours: float
    vcpu_hours: float
    memory_gb_hours: float
    disk_gb_hours: float
    workers_cost: float
    launch_cost: float
    as_of: str

    @property
    def total_cost(self) -> float:
        return self.workers_cost + self.launch_cost

    def to_dict(self) -> dict[str, Any]:
        figures = {key: round(value, 4) if isinstance(value, float) else value for key, value in asdict(self).items()}
        return {**figures, "total_cost": round(self.total_cost, 4)}

    def lines(self) -> list[str]:
        busy = f"the API's {self.api_rps:,.4g} requests/s at {self.cpu_per_request * 1000:.3g} ms CPU a request"
        workers = (
            f"{self.workers} saturate {busy}"
            if self.workers == self.needed
            else f"{self.workers} (max_workers; {self.needed} would saturate {busy}): bound by CPU"
        )
        return [
            f"  dataflow ({self.region}, {self.machine}, list prices of {self.as_of}):",
            f"    workers: {workers}",
            f"    job: {self.job_hours:.2f} h, {self.vcpu_hours:.2f} vCPU-h, {self.memory_gb_hours:.2f} GB-h memory, "
            f"{self.disk_gb_hours:.0f} GB-h disk",
            f"    cost: {_usd(self.workers_cost)} batch workers + {_usd(self.launch_cost)} Flex Template launch = "
            f"{_usd(self.total_cost)}",
        ]


def _usd(amount: float) -> str:
    """`$1,234.56`, or `$0.014` below a dollar."""
    return f"${amount:,.2f}" if amount >= 1 else f"${amount:.3f}"


def api_rate(rate_limit: float | None, max_concurrent: int, latency: float) -> float:
    """The requests a second the job can send: `rate_limit`, or fewer when `max_concurrent` requests of `latency`
    seconds each cannot keep up."""
    by_concurrency = max_concurrent / latency if latency > 0 else math.inf
    rate = min(rate_limit or math.inf, by_concurrency)
    return rate if math.isfinite(rate) else float(max_concurrent)


def dataflow_cost(
    requests: float,
    api_rps: float,
    cpu_per_request: float,
    prices: dict[str, Any],
    region: str = DEFAULT_REGION,
    machine: str = DEFAULT_MACHINE,
    max_workers: int = DATAFLOW_DEFAULT_MAX_WORKERS,
) -> DataflowCost:
    """The cost of a batch job of `requests` requests at `api_rps`, each `cpu_per_request` CPU seconds, on at most
    `max_workers` workers."""
    rates = prices["regions"].get(region)
    if rates is None:
        known = ", ".join(sorted(prices["regions"]))
        raise ConfigError(f"--region: no prices for {region!r} (known: {known}); give them with --prices FILE")
    shape = prices["machines"].get(machine)
    if shape is None:
        raise ConfigError(f"--machine_type: unknown {machine!r} (known: {', '.join(sorted(prices['machines']))})")
    vcpus, memory = shape
    needed = max(1, math.ceil(api_rps * cpu_per_request / vcpus))
    workers = min(needed, max(1, max_workers))
    api_hours = requests / api_rps / 3600
    cpu_hours = requests * cpu_per_request / (workers * vcpus) / 3600
    job_hours = max(api_hours, cpu_hours) + prices["worker_start_minutes"] / 60
    vcpu_hours, memory_hours = workers * vcpus * job_hours, workers * memory * job_hours
    disk_hours = workers * prices["worker_disk_gb"] * job_hours
    cost = vcpu_hours * rates["vcpu_hour"] + memory_hours * rates["gb_hour"] + disk_hours * rates["pd_gb_hour"]
    launcher_vcpus, launcher_memory = prices["machines"][DEFAULT_MACHINE]
    launch_hours = prices["flex_launch_minutes"] / 60
    launch = launch_hours * (launcher_vcpus * rates["vcpu_hour"] + launcher_memory * rates["gb_hour"])
    return DataflowCost(
        region,
        machine,
        workers,
        needed,
        "cpu" if cpu_hours > api_hours else "api",
        api_rps,
        cpu_per_request,
        job_hours,
        vcpu_hours,
        memory_hours,
        disk_hours,
        cost,
        launch,
        prices["as_of"],
    )
