"""The database's operation counters, for the benchmark's write counts (bench/README.md).

    python bench/dbstat.py --uri mongodb://127.0.0.1:PORT/

Prints JSON: `opcounters` from serverStatus (SecantusDB counts commands: one insert_many,
one bulk_write or one findAndModify is 1) and, from `top`, each collection's count of
operations that took the write lock. Either is null when the server does not answer it.
"""

from __future__ import annotations

import argparse
import json
import sys

from pymongo import MongoClient


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uri", required=True)
    args = parser.parse_args()
    client: MongoClient[dict[str, object]] = MongoClient(
        args.uri, serverSelectionTimeoutMS=5000, directConnection=True
    )
    out: dict[str, object] = {"opcounters": None, "writesByCollection": None}
    try:
        status = client.admin.command("serverStatus")
        out["opcounters"] = {k: int(v) for k, v in status.get("opcounters", {}).items()}
    except Exception as exc:
        out["error"] = f"serverStatus: {exc}"
    try:
        totals = client.admin.command("top")["totals"]
        out["writesByCollection"] = {
            ns: int(v["writeLock"]["count"])
            for ns, v in totals.items()
            if isinstance(v, dict) and "writeLock" in v
        }
    except Exception as exc:
        out["topError"] = str(exc)
    client.close()
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
