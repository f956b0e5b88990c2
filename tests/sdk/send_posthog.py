"""Sends a fixed set of funnel events through PostHog's real Python SDK.

Usage: send_posthog.py URL

The same 30 visitors as send_events.py, in PostHog's vocabulary: `$pageview` with
`$current_url` and UTM properties, `search`, `$identify` linking the anonymous
distinct id to the user's, a `$set` of person properties, and `credit_purchase`
under the user's distinct id. The SDK batches the events and posts them gzipped to
URL/batch/, exactly as it would to PostHog; the test's capture server stores them.
"""

import datetime
import sys
import uuid

from posthog import Posthog

url = sys.argv[1]
errors = []
client = Posthog(
    "rehearse-test",
    host=url,
    gzip=True,
    max_retries=1,
    on_error=lambda e, batch: errors.append(str(e)),
)


def event_uuid(u, what):
    """A fixed uuid per event, so a redelivery carries the same one."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"rehearse-posthog/{u}/{what}"))


t0 = datetime.datetime(2026, 3, 2, 10, 0, 0, tzinfo=datetime.timezone.utc)
sources = ["google", "newsletter", None]
for u in range(30):
    at = t0 + datetime.timedelta(minutes=2 * u, seconds=u)
    anon = f"anon-{u:03d}"
    common = {
        "cohort": "canary" if u % 2 else "baseline",
        "$device_type": "mobile" if u % 4 == 1 else "desktop",
        "$raw_user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "$current_url": "https://shop.test/",
    }
    if sources[u % 3]:
        common.update(utm_source=sources[u % 3], utm_medium="cpc", utm_campaign="spring")
    client.capture("$pageview", distinct_id=anon, properties=common, timestamp=at,
                   uuid=event_uuid(u, "visit"))
    client.capture("search", distinct_id=anon, properties=common,
                   timestamp=at + datetime.timedelta(seconds=20), uuid=event_uuid(u, "search"))
    if u % 3 == 0:
        user = f"usr-{u:03d}"
        client.capture("$identify", distinct_id=user, properties={"$anon_distinct_id": anon},
                       timestamp=at + datetime.timedelta(seconds=30),
                       uuid=event_uuid(u, "identify"))
        client.set(distinct_id=user, properties={"plan": "credits"},
                   timestamp=at + datetime.timedelta(seconds=31), uuid=event_uuid(u, "set"))
        purchase = dict(distinct_id=user,
                        properties={**common, "revenue": 49.5, "currency": "USD",
                                    "order_id": f"ord-{u}"},
                        timestamp=at + datetime.timedelta(seconds=50),
                        uuid=event_uuid(u, "purchase"))
        client.capture("credit_purchase", **purchase)
        if u == 0:
            # A delivery retried by the client: the same uuid again.
            client.capture("credit_purchase", **purchase)
client.flush()
client.shutdown()
if errors:
    sys.exit("upload failed: " + "; ".join(errors))
