"""The Dataflow list prices `plan` costs a job at: one table, with the date its figures held and their source.
The figures are Google's published us-central1 batch prices of mid-2024 as known to the authors; they were not
read again from the page here (this machine has no internet). `plan --prices FILE` reads a JSON file of the same
shape instead (`dataflow_cost.load_prices`). Prices change and differ by region: check
https://cloud.google.com/dataflow/pricing before trusting a total."""

PRICES = {
    "as_of": "2024-06-01",
    "source": "https://cloud.google.com/dataflow/pricing (batch workers, on demand, USD)",
    # Per region: batch worker vCPU per hour, memory per GB-hour, standard and SSD persistent disk per GB-hour.
    "regions": {
        "us-central1": {"vcpu_hour": 0.056, "gb_hour": 0.003557, "pd_gb_hour": 0.000054, "ssd_gb_hour": 0.000298},
    },
    # Machine types: vCPUs and GB of memory (Compute Engine's published shapes).
    "machines": {
        "n1-standard-1": [1, 3.75],
        "n1-standard-2": [2, 7.5],
        "n1-standard-4": [4, 15],
        "n2-standard-2": [2, 8],
        "n2-standard-4": [4, 16],
        "e2-standard-2": [2, 8],
        "e2-standard-4": [4, 16],
    },
    # A batch worker's boot disk (Dataflow's default for batch jobs without Dataflow Shuffle: 250 GB standard).
    "worker_disk_gb": 250,
    # Assumed overheads of a Flex Template job, not list prices: the launcher VM (n1-standard-1, billed like a
    # worker) runs this long before the job starts, and each worker boots this long before it works.
    "flex_launch_minutes": 4,
    "worker_start_minutes": 3,
}
