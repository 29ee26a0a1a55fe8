"""The command line every contender script takes: which API, which workload, where to write."""

import argparse


def workload_parser() -> argparse.ArgumentParser:
    """`--url`, `--start`, `--days`, `--page-size` and `--out`, all required."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--start", required=True)
    parser.add_argument("--days", type=int, required=True)
    parser.add_argument("--page-size", type=int, required=True)
    parser.add_argument("--out", required=True)
    return parser
