"""A minimal receiver of SafeChat's notification webhooks (docs/webhooks.md).

Standard library only. It checks the signature and the timestamp, drops repeats by
delivery id (deliveries are at-least-once), and answers 204 quickly: do the slow work
(calling APNs/FCM) after answering, or SafeChat will time out and deliver again.

    WEBHOOK_SECRET=... python examples/webhook_receiver.py 8099
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Refuse deliveries signed more than this long ago (or ahead): a captured request
# cannot be replayed later.
TOLERANCE_SECONDS = 300


def verify(secret: bytes, timestamp: str, body: bytes, signature: str, now: float) -> bool:
    """X-SafeChat-Signature is sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest("sha256=" + mac.hexdigest(), signature)


class Receiver(BaseHTTPRequestHandler):
    secret = os.environ.get("WEBHOOK_SECRET", "").encode()
    seen: set[str] = set()  # use your database in production

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ok = verify(
            self.secret,
            self.headers.get("X-SafeChat-Timestamp", ""),
            body,
            self.headers.get("X-SafeChat-Signature", ""),
            time.time(),
        )
        if not ok:
            self.send_response(401)
            self.end_headers()
            return
        delivery = self.headers.get("X-SafeChat-Delivery", "")
        if delivery not in self.seen:
            self.seen.add(delivery)
            event = json.loads(body)
            # Here: look up the recipients' device tokens and send the push.
            print(event["event"], event["data"].get("recipients", []), flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return  # quiet: one line per event is printed above


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8099
    ThreadingHTTPServer(("127.0.0.1", port), Receiver).serve_forever()
