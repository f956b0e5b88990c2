"""Sends a fixed set of funnel events through a vendor's real Python SDK.

Usage: send_events.py segment|rudderstack URL

The SDK batches the calls and posts them to URL/v1/batch (RudderStack gzips its
batches), exactly as it would to the vendor; the test's capture server stores them.
"""

import datetime
import sys

sdk, url = sys.argv[1], sys.argv[2]
if sdk == "segment":
    from segment.analytics.client import Client
elif sdk == "rudderstack":
    from rudderstack.analytics.client import Client
else:
    sys.exit(f"unknown SDK {sdk}")

errors = []
client = Client(
    write_key="rehearse-test",
    host=url,
    max_retries=1,
    on_error=lambda e, batch: errors.append(str(e)),
)
t0 = datetime.datetime(2026, 3, 2, 10, 0, 0, tzinfo=datetime.timezone.utc)
sources = ["google", "newsletter", None]
for u in range(30):
    at = t0 + datetime.timedelta(minutes=2 * u, seconds=u)
    anon = f"anon-{u:03d}"
    cohort = "canary" if u % 2 else "baseline"
    context = {
        "device": {"type": "mobile" if u % 4 == 1 else "desktop"},
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
        "page": {"url": "https://shop.test/"},
    }
    if sources[u % 3]:
        context["campaign"] = {"source": sources[u % 3], "medium": "cpc", "name": "spring"}
    client.page(anonymous_id=anon, name="home", properties={"cohort": cohort},
                context=context, timestamp=at, message_id=f"{sdk}-{u}-visit")
    client.track(anonymous_id=anon, event="search", properties={"cohort": cohort},
                 context=context, timestamp=at + datetime.timedelta(seconds=20),
                 message_id=f"{sdk}-{u}-search")
    if u % 3 == 0:
        client.identify(user_id=f"usr-{u:03d}", anonymous_id=anon,
                        timestamp=at + datetime.timedelta(seconds=30),
                        message_id=f"{sdk}-{u}-identify")
        purchase = dict(user_id=f"usr-{u:03d}", anonymous_id=anon, event="credit_purchase",
                        properties={"cohort": cohort, "revenue": 49.5, "currency": "USD",
                                    "order_id": f"ord-{u}"},
                        context=context, timestamp=at + datetime.timedelta(seconds=50),
                        message_id=f"{sdk}-{u}-purchase")
        client.track(**purchase)
        if u == 0:
            # A delivery retried by the client: the same messageId again.
            client.track(**purchase)
client.flush()
client.shutdown()
if errors:
    sys.exit("upload failed: " + "; ".join(errors))
