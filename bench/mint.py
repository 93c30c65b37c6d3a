"""Mint many dev-issuer tokens at once (what `safechat token` does, one process for all).

    python bench/mint.py --data-dir DIR --issuer http://127.0.0.1:PORT --prefix bench_ --count N

Prints a JSON list of {"sub", "token"}. The issuer must be the server's (its base URL).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from safechat.services.auth import DevIssuer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--prefix", default="bench_")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--ttl", type=int, default=4 * 3600)
    args = parser.parse_args()
    issuer = DevIssuer.load_or_create(args.data_dir, args.issuer)
    out = []
    for i in range(args.count):
        sub = f"{args.prefix}{i:05d}"
        token = issuer.mint(sub, ttl_seconds=args.ttl, first_name="Bench", last_name=str(i))
        out.append({"sub": sub, "token": token})
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
