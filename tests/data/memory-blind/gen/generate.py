#!/usr/bin/env python3
"""Generate the blind memory retrieval set.

    python3 gen/generate.py          # writes corpus.jsonl and questions.json next to gen/

Deterministic (fixed seed).  Every incident carries hidden metadata (mechanism,
slot values) that is used only here to compute the `relevant` lists exactly;
the metadata is not written to corpus.jsonl.
"""
import json
import os
import random
import re
import sys
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import SERVICES, MECHS, GROUPS, CATEGORY_GROUP, applies  # noqa: E402

OUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 20261201
rng = random.Random(SEED)
UTC = timezone.utc
ASKED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ASKED_S = "2026-12-01T12:00:00Z"
START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)  # exclusive: last incident on 2026-11-30
SVC = {s["name"]: s for s in SERVICES}


def D(y, m, d, h=0, mi=0):
    return datetime(y, m, d, h, mi, tzinfo=UTC)


# --------------------------------------------------------------------------
# lexical overlap (same rule as check.py)
# --------------------------------------------------------------------------
STOP = set("""a about above after again against all am an and any are aren aren't as at be because been before being
below between both but by can couldn couldn't could d did didn didn't do does doesn doesn't doing don don't down during each
few for from further had hadn hadn't has hasn hasn't have haven haven't having he her here hers herself him himself his how
i if in into is isn isn't it it's its itself just ll m ma me mightn mightn't more most mustn mustn't my myself needn needn't
no nor not now o of off on once only or other our ours ourselves out over own re s same shan shan't she she's should
should've shouldn shouldn't so some such t than that that'll the their theirs them themselves then there these they this
those through to too under until up ve very was wasn wasn't we were weren weren't what when where which while who whom why
will with won won't wouldn wouldn't y you you'd you'll you're you've your yours yourself yourselves
would ever also us let via""".split())


def content_words(text):
    out = set()
    for w in re.findall(r"[a-z0-9]+", text.lower()):
        if w in STOP:
            continue
        if len(w) > 2 and w.endswith("s"):
            w = w[:-1]
        out.add(w)
    return out


# --------------------------------------------------------------------------
# slot values
# --------------------------------------------------------------------------
GENERIC_VARS = ["DATABASE_URL", "LOG_DIR", "TZ", "SENTRY_DSN", "HTTP_PROXY", "DATA_DIR"]
BINS = {"shorts-renderer": ["ffmpeg", "yt-dlp", "magick"], "content-pipeline-v2": ["pandoc", "node", "cwebp"],
        "rental-scraper": ["chromedriver", "node", "tesseract"], "backup-runner": ["restic", "rclone", "pg_dump"],
        "polymarket-bot": ["node", "jq", "git"]}
LIBS = ["pyarrow", "lxml", "numpy", "orjson", "psycopg2", "opencv-python", "Pillow", "onnxruntime"]
LIBS_BY = {"shorts-renderer": ["opencv-python", "Pillow", "onnxruntime", "numpy", "av"],
           "rental-scraper": ["lxml", "Pillow", "orjson"], "content-pipeline-v2": ["lxml", "Pillow", "pyarrow", "tiktoken"],
           "polymarket-bot": ["orjson", "numpy", "coincurve", "web3-eth-hash"], "kalshi-arb": ["psycopg2", "numpy", "cryptography", "orjson"],
           "sec-filings-scraper": ["lxml", "pyarrow", "psycopg2"], "invoice-api": ["weasyprint", "psycopg2", "Pillow"],
           "discord-helper-bot": ["orjson", "psycopg2", "numpy"], "backup-runner": ["cryptography", "psutil"]}
EXC = ["KeyError: 'id'", "TypeError: 'NoneType' object is not subscriptable", "ZeroDivisionError", "AttributeError: 'NoneType' object has no attribute 'get'",
       "IndexError: list index out of range", "TypeError: Cannot read properties of undefined", "UnboundLocalError", "RecursionError"]
PANIC = ["called `Option::unwrap()` on a `None` value", "index out of range [3] with length 3", "runtime error: invalid memory address or nil pointer dereference",
         "attempt to subtract with overflow", "assignment to entry in nil map", "byte index 80 is not a char boundary"]
DNS = ["Temporary failure in name resolution", "getaddrinfo ENOTFOUND", "no such host", "NXDOMAIN", "Name or service not known"]
TLS = ["certificate has expired", "unable to get local issuer certificate", "hostname mismatch", "self-signed certificate in certificate chain"]
FIELDS_BY = {"polymarket-bot": ["outcomePrices", "tokenId", "clobTokenIds", "best_bid"], "kalshi-arb": ["yes_ask", "no_bid", "close_time"],
             "binance-grid-bot": ["lastPrice", "stepSize", "filters"], "funding-rate-monitor": ["fundingRate", "nextFundingTime", "instId"],
             "sec-filings-scraper": ["filing_date", "accessionNumber", "cik_str"], "rental-scraper": ["listing_id", "price"],
             "price-tracker": ["buyBoxPrice", "csv", "price"], "cron-scheduler": ["next_run", "check_url"]}
FIELDS = {"trading": ["outcomePrices", "best_bid", "tokenId", "fundingRate", "yes_ask", "lastPrice", "nextFundingTime"],
          "pipeline": ["choices", "published_at", "content.rendered", "usage", "urls.regular", "entries"],
          "chat": ["message_id", "author.global_name", "content", "usage"],
          "api": ["market_data.current_price", "data.object", "amount_due", "result.XXBTZUSD"],
          "scraper": ["filing_date", "accessionNumber", "price", "cik_str", "listing_id"],
          "scheduler": ["next_run", "status"]}
SELECTORS = ["li.result-row", "div.price-block", "span.a-price-whole", "a.result-title", "div.listing-card", "span.price"]
SYMS = {"polymarket-bot": ["the election market", "a sports market", "the Fed-cut market"], "kalshi-arb": ["the CPI contract", "the Fed rate contract"],
        "binance-grid-bot": ["ETHUSDT", "SOLUSDT", "BTCUSDT"], "funding-rate-monitor": ["ETH-PERP", "DOGE-PERP", "SOL-PERP"],
        "pricing-api": ["XBT/USD", "ETH/EUR", "USDC/USD"], "price-tracker": ["a tracked ASIN", "a headphone listing", "a monitor listing"]}
DEPS = {"python": ["pydantic", "httpx", "openai", "sqlalchemy", "pandas", "urllib3"], "node": ["axios", "discord.js", "playwright", "openai", "undici"]}
TCCPATHS = ["~/Documents/exports", "~/Library/Mobile Documents", "/Volumes/NAS/media", "~/Desktop/renders", "~/Pictures/Photos Library.photoslibrary"]
BADVALS = ["api_base pointing at the sandbox host", "port 5433 instead of 5432", "max_position 1000 (meant 100)", "region us-east-2 instead of us-east-1",
           "a trailing slash in base_url", "poll_interval 0", "output_dir left as ./tmp"]
KEYS = ["market id", "URL", "user id", "request hash", "file path", "symbol"]


def fmt_dur(minutes):
    if minutes < 60:
        return rng.choice([f"{minutes} minutes", f"{minutes}m", f"~{minutes} min"])
    h, m = divmod(minutes, 60)
    return rng.choice([f"{h}h{m:02d}m", f"about {h} hours" if h > 1 else "about an hour", f"{h}h {m}m", f"{minutes} minutes"])


class Slots(dict):
    def __init__(self, svc, when):
        super().__init__()
        self.svc, self.when, self.used = svc, when, {}

    def __missing__(self, k):
        s, r = self.svc, rng
        if k == "up":
            v = r.choice(s["ups"])
        elif k in ("art", "host", "sup", "db", "rt"):
            v = s[k]
        elif k == "dur":
            v = fmt_dur(r.choice([r.randint(8, 59), r.randint(60, 400), r.randint(20, 180)]))
        elif k == "n":
            v = str(r.randint(3, 40))
        elif k == "pct":
            v = str(r.choice([5, 10, 20, 25, 50, 70, 80, 90]))
        elif k == "gb":
            v = f"{r.uniform(1.2, 9.5):.1f}"
        elif k == "mb":
            v = str(r.randint(180, 900))
        elif k == "hours":
            v = str(r.randint(3, 72))
        elif k == "mins":
            v = str(r.randint(4, 95))
        elif k == "hhmm":
            v = self.when.strftime("%H:%M")
        elif k == "fdlim":
            v = r.choice(["1024", "256", "4096"])
        elif k == "key":
            v = r.choice(KEYS)
        elif k == "lockpath":
            v = r.choice([f"/tmp/{s['name']}.lock", f"~/.cache/{s['name']}/run.pid", f"/var/run/{s['name']}.pid"])
        elif k == "var":
            v = r.choice(s["vars"] * 2 + GENERIC_VARS)
        elif k == "secretvar":
            v = r.choice({"webhook-relay": ["STRIPE_WEBHOOK_SECRET", "SHOPIFY_HMAC_SECRET"], "invoice-api": ["STRIPE_WEBHOOK_SECRET"]}.get(s["name"], ["CLIENT_HMAC_SECRET"]))
        elif k == "bin":
            v = r.choice(BINS.get(s["name"], ["python3", "node", "git", "jq"]))
        elif k == "lib":
            v = r.choice(LIBS_BY.get(s["name"], LIBS))
        elif k == "exc":
            v = r.choice(EXC[:5] + EXC[6:]) if s["rt"] == "python" else r.choice(["TypeError: Cannot read properties of undefined", "RangeError: Maximum call stack size exceeded", "TypeError: x.map is not a function"])
        elif k == "panicmsg":
            v = r.choice(PANIC)
        elif k == "dnsmsg":
            v = r.choice(DNS)
        elif k == "tlsmsg":
            v = r.choice(TLS)
        elif k == "field":
            v = r.choice(FIELDS_BY.get(s["name"], FIELDS[s["kind"]]))
        elif k == "sel":
            v = r.choice(SELECTORS)
        elif k == "sym":
            v = r.choice(SYMS.get(s["name"], ["one symbol"]))
        elif k == "dep":
            v = r.choice(DEPS[s["rt"]])
        elif k == "pkgmgr":
            v = "pip install -U" if s["rt"] == "python" else "npm update"
        elif k == "tccpath":
            v = r.choice(TCCPATHS)
        elif k == "badval":
            v = r.choice(BADVALS)
        else:
            raise KeyError(k)
        self[k] = v
        self.used[k] = v
        return v


def fill(t, slots):
    return t.format_map(slots)


# --------------------------------------------------------------------------
# author styles
# --------------------------------------------------------------------------
IMPACT = {
    "trading": ["no {art} placed for {dur}", "positions left unmanaged for {dur}", "the strategy sat idle for {dur}", "missed {n} trading opportunities"],
    "pipeline": ["nothing published for {dur}", "the queue backed up for {dur}", "{n} {art} delayed", "the nightly batch did not complete"],
    "chat": ["bot unresponsive for {dur}", "{n} user messages went unanswered", "no {art} sent for {dur}"],
    "api": ["{pct}% of requests failed for {dur}", "clients got 5xx for {dur}", "{n} {art} delayed"],
    "scraper": ["no new {art} collected for {dur}", "{n} runs produced nothing", "data gap of {dur}"],
    "scheduler": ["{n} jobs missed", "scheduled runs skipped for {dur}", "no {art} for {dur}"],
}
DETECT = ["Detected by the log_stale check after {mins} min.", "Caught by the http check.", "Noticed manually the next morning.",
          "The watchdog fired after {mins} minutes of no output.", "A user reported it.", "Found while looking at something else.",
          "Artifact check flagged missing output."]
RECOVER = ["Recovered with SIGKILL + {sup} restart.", "Manual restart fixed it.", "Restarted by {sup}."]
RECOVER_EXT = ["Recovered on its own once it came back.", "Waited it out.", "Recovered on its own."]
RECOVER_OWN = ["Rolled back the last change.", "Fixed forward and redeployed.", "Hotfixed and redeployed."]
OWN_CATS = {"crash", "config_error", "deadlock", "data_error", "resource_exhaustion"}


def recover_pool(cat):
    return RECOVER + (RECOVER_OWN if cat in OWN_CATS else RECOVER_EXT if cat in ("dependency_unavailable", "network") else [])
CASUAL_END = [" ugh.", " restarted by hand.", " fixed for now.", "", " will revisit.", " (see notes)"]
STYLES = ["terse", "plain", "narrative", "formal", "casual", "bullet"]


def lower_first(x):
    return x[:1].lower() + x[1:] if x and not x[:2].isupper() else x


def render(inc):
    svc, m = SVC[inc["service"]], MECHS[inc["mech"]]
    slots = Slots(svc, inc["when"])
    st = inc["style"]
    if "variants" in m:
        m = dict(m, **rng.choice(m["variants"]))
    s_t = rng.choice(m["s"])
    t_t = rng.choice(m["t"])
    impact = fill(rng.choice(IMPACT[svc["kind"]]), slots)
    if st == "terse":
        summ = fill(t_t, slots)
        if rng.random() < 0.4:
            summ += "; " + lower_first(fill(rng.choice(recover_pool(m["cat"])), slots)).rstrip(".")
    elif st == "plain":
        summ = fill(s_t, slots)
    elif st == "narrative":
        summ = f"Around {inc['when']:%H:%M} UTC {impact.split(' for ')[0] if rng.random()<0.5 else 'things went wrong'}. " + fill(s_t, slots) + " " + fill(rng.choice(DETECT), slots)
    elif st == "formal":
        summ = f"Impact: {impact}. Cause: " + lower_first(fill(s_t, slots))
    elif st == "casual":
        summ = lower_first(fill(s_t, slots)).rstrip(".") + "." + rng.choice(CASUAL_END)
    else:  # bullet
        summ = f"{impact}; {fill(t_t, slots)}; " + lower_first(fill(rng.choice(recover_pool(m["cat"])), slots)).rstrip(".")
    if inc.get("note"):
        summ = summ.rstrip() + " " + inc["note"]
    rc = fill(rng.choice(m["rc"]), slots)
    rec = fill(rng.choice(m["rec"]), slots)
    if st in ("narrative", "formal") and rng.random() < 0.5:
        rc += " " + rng.choice(["Alerting only fired late, which stretched the outage.", "Made worse by no alert on the symptom.",
                                 "The same code path had been touched the day before.", "Nothing in monitoring covered this."])
        rec += " " + rng.choice(["Also add a runbook entry.", "Add an alert on the symptom.", "Write a regression test."])
    if st == "terse":
        rc = rc.split(";")[0]
        if rng.random() < 0.5:
            rec = rec.split(" and ")[0].rstrip(".") + "."
    if st == "casual":
        rc, rec = lower_first(rc), lower_first(rec)
    inc["summary"], inc["root_cause"], inc["recommendation"] = summ, rc, rec
    inc["slots"] = dict(slots.used)


# --------------------------------------------------------------------------
# corpus plan
# --------------------------------------------------------------------------
MUL = 1.5
# (service, mech, count, start, end, night_prob)
CLUSTERS = [
    ("polymarket-bot", "event_loop_block", 14, D(2025, 2, 1), END, 0.3),
    ("polymarket-bot", "rl_retry_storm", 10, D(2025, 1, 10), D(2025, 10, 1), 0.2),
    ("polymarket-bot", "ws_stale", 9, D(2025, 4, 1), END, 0.5),
    ("kalshi-arb", "clock_skew_sig", 11, D(2025, 3, 1), END, 0.7),
    ("kalshi-arb", "db_pool", 8, D(2025, 1, 1), D(2026, 4, 1), 0.2),
    ("kalshi-arb", "ws_stale", 7, D(2025, 6, 1), END, 0.3),
    ("binance-grid-bot", "fd_limit", 10, D(2026, 6, 10), END, 0.3),
    ("binance-grid-bot", "panic", 9, D(2025, 1, 1), END, 0.3),
    ("binance-grid-bot", "rl_retry_storm", 6, D(2025, 1, 1), END, 0.3),
    ("funding-rate-monitor", "schema_change", 8, D(2025, 1, 1), END, 0.3),
    ("funding-rate-monitor", "upstream_outage", 10, D(2025, 1, 1), END, 0.3),
    ("content-pipeline-v2", "rl_retry_storm", 15, D(2026, 3, 11), END, 0.5),
    ("content-pipeline-v2", "llm_context_overflow", 8, D(2025, 1, 1), END, 0.4),
    ("content-pipeline-v2", "launchd_path", 6, D(2025, 1, 1), D(2025, 9, 1), 0.4),
    ("newsletter-digest", "token_expired", 7, D(2025, 1, 1), END, 0.3),
    ("newsletter-digest", "bad_encoding", 6, D(2025, 1, 1), END, 0.3),
    ("shorts-renderer", "oom", 14, D(2025, 1, 1), END, 0.4),
    ("shorts-renderer", "disk_full", 10, D(2025, 1, 1), END, 0.4),
    ("shorts-renderer", "tcc_denied", 5, D(2025, 1, 1), END, 0.3),
    ("discord-helper-bot", "event_loop_block", 12, D(2026, 8, 5), END, 0.3),
    ("discord-helper-bot", "rl_retry_storm", 8, D(2025, 1, 1), END, 0.3),
    ("telegram-alerts-bot", "isp_outage", 9, D(2025, 1, 1), END, 0.3),
    ("telegram-alerts-bot", "sqlite_locked", 8, D(2025, 1, 1), END, 0.3),
    ("support-chatbot", "rl_quota", 9, D(2025, 1, 1), END, 0.2),
    ("support-chatbot", "upstream_outage", 8, D(2025, 1, 1), END, 0.3),
    ("support-chatbot", "oom", 6, D(2025, 1, 1), END, 0.3),
    ("pricing-api", "db_pool", 12, D(2025, 1, 1), END, 0.2),
    ("pricing-api", "redis_down", 7, D(2025, 1, 1), END, 0.4),
    ("pricing-api", "bad_value", 6, D(2025, 1, 1), END, 0.3),
    ("webhook-relay", "secret_rotated", 6, D(2025, 1, 1), END, 0.2),
    ("webhook-relay", "fd_limit", 8, D(2025, 1, 1), END, 0.3),
    ("webhook-relay", "upstream_outage", 7, D(2025, 1, 1), END, 0.3),
    ("invoice-api", "db_down", 9, D(2025, 1, 1), END, 0.4),
    ("invoice-api", "tls_cert", 5, D(2025, 1, 1), END, 0.3),
    ("invoice-api", "uncaught_exc", 8, D(2025, 1, 1), END, 0.3),
    ("rental-scraper", "html_change", 13, D(2025, 1, 1), END, 0.3),
    ("rental-scraper", "scraper_blocked", 11, D(2025, 1, 1), END, 0.4),
    ("rental-scraper", "sqlite_locked", 5, D(2025, 1, 1), END, 0.3),
    ("sec-filings-scraper", "rl_retry_storm", 12, D(2025, 1, 1), END, 0.3),
    ("sec-filings-scraper", "infinite_loop", 7, D(2025, 1, 1), END, 0.3),
    ("sec-filings-scraper", "disk_full", 6, D(2025, 1, 1), END, 0.3),
    ("price-tracker", "scraper_blocked", 14, D(2025, 1, 1), END, 0.3),
    ("price-tracker", "oom", 9, D(2025, 1, 1), END, 0.3),
    ("price-tracker", "html_change", 7, D(2025, 1, 1), END, 0.3),
    ("cron-scheduler", "stale_lockfile", 10, D(2025, 1, 1), END, 0.8),
    ("cron-scheduler", "db_down", 6, D(2025, 1, 1), END, 0.5),
    ("backup-runner", "tcc_denied", 7, D(2025, 1, 1), END, 0.9),
    ("backup-runner", "upstream_outage", 6, D(2025, 1, 1), END, 0.9),
    ("backup-runner", "disk_full", 5, D(2025, 1, 1), END, 0.9),
    ("backup-runner", "stale_lockfile", 6, D(2025, 1, 1), END, 0.9),
    ("feed-ingester", "bad_encoding", 10, D(2025, 1, 1), END, 0.3),
    ("feed-ingester", "dns_fail", 8, D(2025, 1, 1), END, 0.4),
    ("feed-ingester", "panic", 5, D(2025, 1, 1), END, 0.3),
]
# upgrades / migrations that later questions refer to ("since the upgrade in June")
EVENTS = [
    dict(service="binance-grid-bot", when=D(2026, 6, 9, 14, 20), mech="bad_config_value", key="grid_june",
         note="(First start after the June migration of the grid bot to the new AX42 box and the tokio upgrade.)"),
    dict(service="content-pipeline-v2", when=D(2026, 3, 10, 16, 5), mech="bad_config_value", key="cp_march",
         note="(Happened during the March switch of the summarizer to the OpenAI batch endpoint.)"),
    dict(service="discord-helper-bot", when=D(2026, 8, 4, 19, 40), mech="uncaught_exc", key="discord_aug",
         note="(Right after the August upgrade to discord.py 2.4 and the async Postgres driver.)"),
]
EVENT_NOTES_AFTER = {
    ("binance-grid-bot", "fd_limit"): ["(new box since June)", "(still the post-migration box)", ""],
    ("content-pipeline-v2", "rl_retry_storm"): ["(batch endpoint)", "(since the batch switch)", ""],
    ("discord-helper-bot", "event_loop_block"): ["(post discord.py 2.4)", "", ""],
}
DST_DATES = [D(2025, 3, 30), D(2025, 10, 26), D(2026, 3, 29), D(2026, 10, 25)]


def rand_when(start, end, night_p):
    span = int((end - start).total_seconds() // 86400)
    day = start + timedelta(days=rng.randrange(max(span, 1)))
    if rng.random() < night_p:
        h = rng.choice([22, 23, 0, 1, 2, 3, 4, 5])
    else:
        h = rng.randint(6, 21)
    w = day.replace(hour=h, minute=rng.randint(1, 59), second=0)
    return min(max(w, START + timedelta(minutes=1)), END - timedelta(minutes=1))


def build_corpus():
    incs = []

    def add(service, mech, when, note=None, event=None):
        incs.append(dict(service=service, mech=mech, when=when, style=rng.choice(STYLES), note=note, event=event))

    cluster_keys = set()
    for svc, mech, cnt, st, en, night in CLUSTERS:
        assert applies(MECHS[mech], SVC[svc]), (svc, mech)
        cluster_keys.add((svc, mech))
        n = int(round(cnt * MUL))
        for _ in range(n):
            note = None
            if (svc, mech) in EVENT_NOTES_AFTER and rng.random() < 0.35:
                note = rng.choice(EVENT_NOTES_AFTER[(svc, mech)]) or None
            add(svc, mech, rand_when(st, en, night), note)
    for e in EVENTS:
        add(e["service"], e["mech"], e["when"], e["note"], e["key"])
    # DST incidents on the schedulers / newsletter
    for d in DST_DATES:
        svc = rng.choice(["cron-scheduler", "newsletter-digest", "backup-runner"])
        add(svc, "dst_shift", d.replace(hour=rng.choice([1, 2, 3, 7]), minute=rng.randint(1, 59)))
    cron_dst = [d for d in DST_DATES if rng.random() < 0.7]
    for d in cron_dst:
        add("cron-scheduler", "dst_shift", (d + timedelta(days=1)).replace(hour=rng.choice([2, 3, 8]), minute=rng.randint(1, 59)))
    # one-off noise
    for s in SERVICES:
        options = [m for m in MECHS if applies(MECHS[m], s) and (s["name"], m) not in cluster_keys and m != "dst_shift"]
        k = rng.randint(17, 24)
        for _ in range(k):
            m = rng.choice(options)
            lo, hi = START, END
            if s["name"] == "binance-grid-bot" and m == "fd_limit":
                continue
            add(s["name"], m, rand_when(lo, hi, 0.3))
    # avoid the event windows becoming ambiguous: drop incidents of the event clusters that fall
    # in the month of the event but before it (keeps "since the upgrade in June" == "since June")
    def bad(i):
        for e in EVENTS:
            if i["service"] == e["service"] and i["event"] is None and e["when"].replace(day=1, hour=0, minute=0) <= i["when"] < e["when"]:
                return True
        return False
    incs = [i for i in incs if not bad(i)]
    incs.sort(key=lambda i: i["when"])
    for n, i in enumerate(incs, 1):
        i["id"] = f"pm-{n}"
        render(i)
    return incs


# --------------------------------------------------------------------------
# questions
# --------------------------------------------------------------------------
def iv(a, b):
    return [(a, b)]


def month_iv(y, m):
    return (D(y, m, 1), D(y + (m == 12), m % 12 + 1, 1))


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
WINDOWS = [  # (key, phrasings, [alternative interpretations: list of intervals])
    ("last_week", ["last week"], [iv(D(2026, 11, 23), D(2026, 11, 30)), iv(ASKED - timedelta(days=7), ASKED)]),
    ("yesterday", ["yesterday"], [iv(D(2026, 11, 30), D(2026, 12, 1))]),
    ("two_weeks", ["in the last two weeks", "over the past couple of weeks"], [iv(ASKED - timedelta(days=14), ASKED), iv(D(2026, 11, 16), ASKED)]),
    ("last_month", ["last month", "over the last month"], [iv(D(2026, 11, 1), D(2026, 12, 1)), iv(ASKED - timedelta(days=30), ASKED)]),
    ("three_months", ["in the last three months", "over the past 3 months"], [iv(D(2026, 9, 1), ASKED), iv(ASKED - timedelta(days=90), ASKED)]),
    ("this_year", ["this year", "so far this year", "in 2026"], [iv(D(2026, 1, 1), ASKED)]),
    ("last_year", ["last year", "in 2025", "back in 2025"], [iv(D(2025, 1, 1), D(2026, 1, 1))]),
    ("summer", ["over the summer", "this summer"], [iv(D(2026, 6, 1), D(2026, 9, 1)), iv(D(2026, 6, 21), D(2026, 9, 23))]),
    ("spring", ["in the spring", "this spring"], [iv(D(2026, 3, 1), D(2026, 6, 1)), iv(D(2026, 3, 20), D(2026, 6, 21))]),
    ("q1", ["in Q1", "in the first quarter"], [iv(D(2026, 1, 1), D(2026, 4, 1))]),
    ("h1_2025", ["in the first half of last year"], [iv(D(2025, 1, 1), D(2025, 7, 1))]),
    ("h2_2025", ["in the second half of last year"], [iv(D(2025, 7, 1), D(2026, 1, 1))]),
    ("holidays", ["over the holidays last year", "around christmas last year"], [iv(D(2025, 12, 20), D(2026, 1, 4)), iv(D(2025, 12, 22), D(2026, 1, 2))]),
    ("since_oct", ["since the start of October", "since October"], [iv(D(2026, 10, 1), ASKED)]),
]
for _m in range(1, 12):
    WINDOWS.append((f"m26_{_m}", [f"in {MONTHS[_m-1]}", f"back in {MONTHS[_m-1]}"], [[month_iv(2026, _m)], [month_iv(2026, _m), month_iv(2025, _m)]]))
for _m in range(1, 13):
    WINDOWS.append((f"m25_{_m}", [f"in {MONTHS[_m-1]} 2025", f"back in {MONTHS[_m-1]} last year"], [[month_iv(2025, _m)]]))
WIN = {w[0]: w for w in WINDOWS}


def in_ivs(t, ivs):
    return any(a <= t < b for a, b in ivs)


def is_night(t):
    return t.hour >= 22 or t.hour < 6


def select(corpus, services=None, mechs=None, ivs=None, tod=None, after=None, detail=None):
    out = []
    for i in corpus:
        if services and i["service"] not in services:
            continue
        if mechs and i["mech"] not in mechs:
            continue
        if ivs is not None and not in_ivs(i["when"], ivs):
            continue
        if after is not None and i["when"] < after:
            continue
        if tod == "night" and not is_night(i["when"]):
            continue
        if tod == "weekend" and i["when"].weekday() < 5:
            continue
        if detail is not None:
            k, v = detail
            if i["slots"].get(k) != v or v.lower() not in (i["summary"] + " " + i["root_cause"]).lower():
                continue
        out.append(i)
    return out


def robust_select(corpus, wkey, **kw):
    alts = WIN[wkey][2]
    sets = [tuple(x["id"] for x in select(corpus, ivs=a, **kw)) for a in alts]
    if any(s != sets[0] for s in sets):
        return None
    return select(corpus, ivs=alts[0], **kw)


def alias(svc):
    return rng.choice(SVC[svc]["aliases"])


def typing(q):
    r = rng.random()
    if r < 0.45:
        q = q[0].lower() + q[1:]
    if rng.random() < 0.25:
        q = q.rstrip("?")
    return q


def cap(q):
    return q[0].upper() + q[1:]


QUESTIONS = []
SEEN = set()
SEEN_SETS = set()


def try_add(kind, variants, rel, max_rel=80, first=()):
    """variants: list of candidate texts (already filled).  Picks the first whose
    content words overlap each relevant summary in fewer than 3 words."""
    if not rel or len(rel) > max_rel:
        return False
    ids = tuple(sorted(x["id"] for x in rel))
    if ids in SEEN_SETS:
        return False
    rng.shuffle(variants)
    first = list(first)
    rng.shuffle(first)
    for v in first + variants:
        q = typing(cap(v))
        cw = content_words(q)
        if all(len(cw & content_words(x["summary"])) < 3 for x in rel):
            key = (kind, q.lower())
            if key in SEEN:
                continue
            SEEN.add(key)
            SEEN_SETS.add(ids)
            QUESTIONS.append(dict(kind=kind, question=q, relevant=sorted(ids, key=lambda s: int(s[3:])), n=len(ids)))
            return True
    return False


def gvars(g):
    return GROUPS[g]["v"], GROUPS[g]["n"]


def svc_variants(svc, fn):
    return [fn(a) for a in SVC[svc]["aliases"]]


def make_questions(corpus):
    per_kind = {}
    mech_groups = [g for g in GROUPS if not g.endswith("_cat") and g != "mystery"]
    cat_groups = [g for g in GROUPS if g.endswith("_cat") or g == "mystery"]

    # ---------------- B: "has this happened before" cluster questions -----
    B_T = ["has {s} {perf} before?", "{s} {past} again. has that happened before?", "how many times has {s} {perf}?",
           "show me every time {s} {past}", "what's our history of {nn} on {s}?",
           "I think {s} {past} again — previous incidents?", "how often does {s} {base}?", "{nn} on {s}: is that a recurring thing?"]
    cands = []
    for s in SERVICES:
        for g in mech_groups + cat_groups:
            rel = select(corpus, services={s["name"]}, mechs=set(GROUPS[g]["mechs"]))
            if len(rel) >= 4:
                cands.append((s["name"], g, rel))
    rng.shuffle(cands)
    cnt = 0
    used_sg = set()
    for svc, g, rel in cands:
        if cnt >= 44:
            break
        v, nn = gvars(g)
        variants = []
        for t in B_T:
            for (base, past, perf) in v:
                for n_ in nn:
                    for a in SVC[svc]["aliases"]:
                        variants.append(t.format(s=a, base=base, past=past, perf=perf, nn=n_))
        if try_add("cluster", variants, rel, max_rel=45):
            cnt += 1
            used_sg.add((svc, g))
    per_kind["cluster"] = cnt
    # fleet-wide cluster
    F_T = ["which services have {perf}?", "has anything in the fleet {perf}?", "list every time something {past}",
           "all the {nn} we've had — which ones?", "which of my bots or jobs have {perf}?"]
    cnt = 0
    gl = mech_groups[:]
    rng.shuffle(gl)
    for g in gl:
        if cnt >= 12:
            break
        rel = select(corpus, mechs=set(GROUPS[g]["mechs"]))
        if len({x["service"] for x in rel}) < 2:
            continue
        v, nn = gvars(g)
        variants = [t.format(base=b, past=p, perf=pf, nn=n_) for t in F_T for (b, p, pf) in v for n_ in nn]
        if try_add("cluster_fleet", variants, rel, max_rel=70):
            cnt += 1
    per_kind["cluster_fleet"] = cnt

    # ---------------- C: time-filtered ------------------------------------
    T_SG = ["did {s} {base} {t}?", "{s} {past} {t} — what was going on?", "how often did {s} {base} {t}?",
            "any {nn} on {s} {t}?", "{t}, did {s} {base}?", "what caused {s} to {base} {t}?"]
    wkeys = [w[0] for w in WINDOWS]
    cands = []
    for s in SERVICES:
        for g in mech_groups:
            for wk in wkeys:
                rel = robust_select(corpus, wk, services={s["name"]}, mechs=set(GROUPS[g]["mechs"]))
                if rel and 1 <= len(rel) <= 12 and len(select(corpus, services={s["name"]}, mechs=set(GROUPS[g]["mechs"]))) > len(rel):
                    cands.append((s["name"], g, wk, rel))
    rng.shuffle(cands)
    cnt = 0
    seen_sw = set()
    for svc, g, wk, rel in cands:
        if cnt >= 26:
            break
        if (svc, g) in seen_sw:
            continue
        v, nn = gvars(g)
        variants = [t.format(s=a, base=b, past=p, perf=pf, nn=n_, t=tp) for t in T_SG for (b, p, pf) in v for n_ in nn
                    for a in SVC[svc]["aliases"] for tp in WIN[wk][1]]
        if try_add("time_service_symptom", variants, rel):
            cnt += 1
            seen_sw.add((svc, g))
    per_kind["time_service_symptom"] = cnt
    # service + window, any problem
    T_SA = ["what went wrong with {s} {t}?", "anything break on {s} {t}?", "{s} had problems {t}, what were they?",
            "why was {s} down {t}?", "list the outages on {s} {t}"]
    cands = []
    for s in SERVICES:
        for wk in ["last_week", "two_weeks", "last_month", "yesterday", "since_oct", "holidays", "summer", "spring"] + [f"m26_{m}" for m in range(1, 12)] + [f"m25_{m}" for m in range(1, 13)]:
            rel = robust_select(corpus, wk, services={s["name"]})
            if rel and 1 <= len(rel) <= 8:
                cands.append((s["name"], wk, rel))
    rng.shuffle(cands)
    cands.sort(key=lambda c: c[1] not in ("last_week", "yesterday", "two_weeks", "last_month"))
    cnt = 0
    seen_s = set()
    for svc, wk, rel in cands:
        if cnt >= 14:
            break
        if svc in seen_s:
            continue
        variants = [t.format(s=a, t=tp) for t in T_SA for a in SVC[svc]["aliases"] for tp in WIN[wk][1]]
        if try_add("time_service_any", variants, rel, max_rel=10):
            cnt += 1
            seen_s.add(svc)
    per_kind["time_service_any"] = cnt
    # fleet + window + symptom
    T_GW = ["did anything {base} {t}?", "{t}, which services {past}?", "what {past} {t}?", "any {nn} {t}?"]
    cands = []
    for g in mech_groups:
        for wk in ["last_month", "three_months", "this_year", "last_year", "summer", "spring", "q1", "h1_2025", "h2_2025", "since_oct"]:
            rel = robust_select(corpus, wk, mechs=set(GROUPS[g]["mechs"]))
            if rel and 2 <= len(rel) <= 25:
                cands.append((g, wk, rel))
    rng.shuffle(cands)
    cnt = 0
    seen_g = set()
    for g, wk, rel in cands:
        if cnt >= 8:
            break
        if g in seen_g:
            continue
        v, nn = gvars(g)
        variants = [t.format(base=b, past=p, nn=n_, t=tp) for t in T_GW for (b, p, pf) in v for n_ in nn for tp in WIN[wk][1]]
        if try_add("time_fleet_symptom", variants, rel):
            cnt += 1
            seen_g.add(g)
    per_kind["time_fleet_symptom"] = cnt
    # night / weekend
    T_N = ["does {s} {base} at night?", "how many times has {s} {perf} overnight?", "{nn} on {s} in the middle of the night — when?",
           "list the night-time cases where {s} {past}"]
    T_W = ["has {s} {perf} on a weekend?", "{nn} on {s} on weekends — how many?", "which times did {s} {base} on a saturday or sunday?"]
    cands = []
    for s in SERVICES:
        for g in mech_groups:
            full = select(corpus, services={s["name"]}, mechs=set(GROUPS[g]["mechs"]))
            for tod in ("night", "weekend"):
                rel = select(corpus, services={s["name"]}, mechs=set(GROUPS[g]["mechs"]), tod=tod)
                if rel and len(rel) < len(full) and len(full) >= 3:
                    cands.append((s["name"], g, tod, rel))
    rng.shuffle(cands)
    cnt = {"night": 0, "weekend": 0}
    for svc, g, tod, rel in cands:
        if cnt[tod] >= (9 if tod == "night" else 4):
            continue
        v, nn = gvars(g)
        variants = [t.format(s=a, base=b, past=p, perf=pf, nn=n_) for t in (T_N if tod == "night" else T_W)
                    for (b, p, pf) in v for n_ in nn for a in SVC[svc]["aliases"]]
        if try_add(f"time_{tod}", variants, rel):
            cnt[tod] += 1
    per_kind["time_night"], per_kind["time_weekend"] = cnt["night"], cnt["weekend"]
    # night, service, any problem
    T_NA = ["what tends to break on {s} overnight?", "list everything that went wrong with {s} at night"]
    c2 = 0
    for s in rng.sample(SERVICES, len(SERVICES)):
        rel = select(corpus, services={s["name"]}, tod="night")
        if 2 <= len(rel) <= 14 and c2 < 3:
            variants = [t.format(s=a) for t in T_NA for a in s["aliases"]]
            if try_add("time_night_any", variants, rel):
                c2 += 1
    per_kind["time_night_any"] = c2
    # since the upgrade/migration
    SINCE = [
        ("binance-grid-bot", "grid_june", ["since the upgrade in June", "since we moved it to the new box in June", "after the June migration"], ["handles", "crash_cat", "resources_cat"]),
        ("content-pipeline-v2", "cp_march", ["since the switch to the batch endpoint in March", "since the March upgrade", "after we changed the summarizer in March"], ["retry_storm", "rate_limit_cat", "too_long"]),
        ("discord-helper-bot", "discord_aug", ["since the library upgrade in August", "after the August upgrade", "since we upgraded it in August"], ["event_loop", "deadlock_cat", "retry_storm"]),
    ]
    T_SI = ["{t}, how many times has {s} {perf}?", "has {s} {perf} {t}?", "{t} — list every time {s} {past}", "{nn} on {s} {t}?"]
    c3 = 0
    for svc, key, tps, groups in SINCE:
        ev = next(i for i in corpus if i["event"] == key)
        month_start = ev["when"].replace(day=1, hour=0, minute=0)
        for g in groups:
            rel = select(corpus, services={svc}, mechs=set(GROUPS[g]["mechs"]), after=ev["when"])
            rel2 = select(corpus, services={svc}, mechs=set(GROUPS[g]["mechs"]), after=month_start)
            if [x["id"] for x in rel] != [x["id"] for x in rel2]:
                continue
            v, nn = gvars(g)
            variants = [t.format(s=a, base=b, past=p, perf=pf, nn=n_, t=tp) for t in T_SI for (b, p, pf) in v for n_ in nn
                        for a in SVC[svc]["aliases"] for tp in tps]
            if try_add("time_since_change", variants, rel):
                c3 += 1
        rel = select(corpus, services={svc}, after=ev["when"])
        variants = [f"what has gone wrong with {a} {tp}?" for a in SVC[svc]["aliases"] for tp in tps] + \
                   [f"list all the problems {a} has had {tp}" for a in SVC[svc]["aliases"] for tp in tps]
        if try_add("time_since_change", variants, rel):
            c3 += 1
    per_kind["time_since_change"] = c3

    # ---------------- D: category / plain-words questions ------------------
    T_CAT = ["when did anything {base}?", "show me all the {nn}", "which incidents were about {nn}?",
             "list every time one of my services {past}"]
    T_CATW = ["when did anything {base} {t}?", "show me all the {nn} {t}", "{t}, which incidents were about {nn}?", "{nn} {t} — list them"]
    T_CATS = ["every time {s} {past}", "which incidents on {s} were {nn}?", "all the {nn} on {s}", "has {s} ever {perf}?"]
    cnt = 0
    order = mech_groups[:]
    rng.shuffle(order)
    for g in order:  # fleet-wide mechanism, no window ("when did we run out of memory")
        if cnt >= 12:
            break
        rel = select(corpus, mechs=set(GROUPS[g]["mechs"]))
        v, nn = gvars(g)
        variants = [t.format(base=b, past=p, nn=n_) for t in T_CAT for (b, p, pf) in v for n_ in nn]
        we = [x for (wb, wp) in GROUPS[g].get("we", []) for x in (f"when did we {wb}?", f"every time we {wp} — list them")]
        if try_add("category_plain", variants, rel, max_rel=70, first=we):
            cnt += 1
    for g in cat_groups:  # whole category, with window
        wks = ["last_month", "three_months", "since_oct", "summer", "q1", "h1_2025", "h2_2025", "holidays", "spring"]
        rng.shuffle(wks)
        for wk in wks:
            rel = robust_select(corpus, wk, mechs=set(GROUPS[g]["mechs"]))
            if rel and 2 <= len(rel) <= 40:
                v, nn = gvars(g)
                variants = [t.format(base=b, past=p, nn=n_, t=tp) for t in T_CATW for (b, p, pf) in v for n_ in nn for tp in WIN[wk][1]]
                if try_add("category_window", variants, rel):
                    cnt += 1
                    break
    for g in cat_groups:  # whole category on one service
        svcs = SERVICES[:]
        rng.shuffle(svcs)
        done = 0
        for s in svcs:
            rel = select(corpus, services={s["name"]}, mechs=set(GROUPS[g]["mechs"]))
            if 2 <= len(rel) <= 30 and (s["name"], g) not in used_sg:
                v, nn = gvars(g)
                variants = [t.format(s=a, base=b, past=p, perf=pf, nn=n_) for t in T_CATS for (b, p, pf) in v for n_ in nn for a in s["aliases"]]
                if try_add("category_service", variants, rel):
                    done += 1
                    cnt += 1
                    if done >= 1:
                        break
    per_kind["category"] = cnt

    # ---------------- A: single-incident lookups ---------------------------
    cnt = 0
    T_M = ["what happened when {s} {past} {t}?", "{s} {past} {t} — what was the root cause?", "remind me why {s} {past} {t}",
           "what did we learn when {s} {past} {t}?", "{t} {s} {past}. what was the fix?"]
    cands = []
    for s in SERVICES:
        for g in mech_groups:
            for wk in [f"m26_{m}" for m in range(1, 12)] + [f"m25_{m}" for m in range(1, 13)]:
                rel = robust_select(corpus, wk, services={s["name"]}, mechs=set(GROUPS[g]["mechs"]))
                if rel and len(rel) == 1:
                    cands.append((s["name"], g, wk, rel))
    rng.shuffle(cands)
    used_inc = set()
    for svc, g, wk, rel in cands:
        if cnt >= 22:
            break
        if rel[0]["id"] in used_inc:
            continue
        v, nn = gvars(g)
        variants = [t.format(s=a, past=p, t=tp) for t in T_M for (b, p, pf) in v for a in SVC[svc]["aliases"] for tp in WIN[wk][1]]
        if try_add("single_month", variants, rel):
            cnt += 1
            used_inc.add(rel[0]["id"])
    per_kind["single_month"] = cnt
    # first / last
    cnt = 0
    T_L = ["when was the last time {s} {past}?", "the most recent time {s} {past} — what happened?"]
    T_F = ["when did {s} first {base}?", "what was the very first time {s} {past}?"]
    pairs = [(s["name"], g) for s in SERVICES for g in mech_groups]
    rng.shuffle(pairs)
    for svc, g in pairs:
        if cnt >= 10:
            break
        allr = select(corpus, services={svc}, mechs=set(GROUPS[g]["mechs"]))
        if len(allr) < 3:
            continue
        which = rng.choice(["last", "first"])
        rel = [allr[-1]] if which == "last" else [allr[0]]
        if rel[0]["id"] in used_inc:
            continue
        v, nn = gvars(g)
        variants = [t.format(s=a, base=b, past=p) for t in (T_L if which == "last" else T_F) for (b, p, pf) in v for a in SVC[svc]["aliases"]]
        if try_add(f"single_{which}", variants, rel):
            cnt += 1
            used_inc.add(rel[0]["id"])
    per_kind["single_first_last"] = cnt
    # by day
    cnt = 0
    T_D = ["what happened to {s} on {d}?", "why did {s} go down on {d}?", "{s} on {d} — what broke?", "what was the incident with {s} on {d}?"]
    incs = corpus[:]
    rng.shuffle(incs)
    for i in incs:
        if cnt >= 8:
            break
        if i["id"] in used_inc:
            continue
        day = i["when"].replace(hour=0, minute=0)
        rel = select(corpus, services={i["service"]}, ivs=[(day, day + timedelta(days=1))])
        if len(rel) != 1:
            continue
        if day.year == 2026:  # no year in the question: the same day in 2025 must not be an answer too
            d25 = day.replace(year=2025)
            if select(corpus, services={i["service"]}, ivs=[(d25, d25 + timedelta(days=1))]):
                continue
        d = i["when"]
        ds = rng.choice([f"{MONTHS[d.month-1]} {d.day}", f"the {d.day}{'th' if 10 <= d.day % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(d.day % 10, 'th')} of {MONTHS[d.month-1]}"])
        if d.year == 2025:
            ds += ", 2025" if "of" not in ds else " 2025"
        variants = [t.format(s=a, d=ds) for t in T_D for a in SVC[i["service"]]["aliases"]]
        if try_add("single_day", variants, rel):
            cnt += 1
            used_inc.add(i["id"])
    per_kind["single_day"] = cnt
    # by a concrete detail
    cnt = 0
    DT = {
        "var": (["env_missing"], ["what happened the time {s} came up without {v}?", "when was {v} not set on {s}, and what did it break?", "{s} and the missing {v} — when was that?"]),
        "lib": (["segfault"], ["the {v} crash on {s} — what was it about?", "when did {v} take down {s}?", "which incident had {s} dying inside {v}?"]),
        "bin": (["launchd_path"], ["when could {s} not locate {v}?", "the time {s} couldn't run {v} as an agent — what was the fix?"]),
        "field": (["schema_change"], ["when did {s} break over the {v} field?", "what happened with {v} on {s}?", "{s} and the {v} change — when?"]),
        "dep": (["dep_upgrade_break"], ["which time did the {v} release break {s}?", "when did updating {v} take out {s}?"]),
        "panicmsg": (["panic"], ["when did {s} die with \"{v}\"?"]),
        "lockpath": (["stale_lockfile"], ["the leftover {v} on {s} — when?"]),
    }
    cands = []
    for i in corpus:
        for k, (mechs, temps) in DT.items():
            if i["mech"] in mechs and k in i["slots"]:
                rel = select(corpus, services={i["service"]}, mechs=set(mechs), detail=(k, i["slots"][k]))
                if 1 <= len(rel) <= 3:
                    cands.append((i, k, temps, rel))
    rng.shuffle(cands)
    for i, k, temps, rel in cands:
        if cnt >= 14:
            break
        if any(x["id"] in used_inc for x in rel):
            continue
        variants = [t.format(s=a, v=i["slots"][k]) for t in temps for a in SVC[i["service"]]["aliases"]]
        if try_add("single_detail", variants, rel):
            cnt += 1
            used_inc.update(x["id"] for x in rel)
    per_kind["single_detail"] = cnt
    return per_kind


def main():
    corpus = build_corpus()
    with open(os.path.join(OUT, "corpus.jsonl"), "w") as f:
        for i in corpus:
            rec = {"id": i["id"], "service": i["service"], "date": i["when"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                   "category": MECHS[i["mech"]]["cat"], "summary": i["summary"], "root_cause": i["root_cause"],
                   "recommendation": i["recommendation"]}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    per_kind = make_questions(corpus)
    qs = []
    for n, q in enumerate(QUESTIONS, 1):
        qs.append({"id": f"q-{n}", "question": q["question"], "relevant": q["relevant"], "asked_at": ASKED_S})
    with open(os.path.join(OUT, "questions.json"), "w") as f:
        json.dump(qs, f, indent=1, ensure_ascii=False)
        f.write("\n")
    # hidden metadata for auditing the answer key (not an input to the tool)
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "answer_key_meta.json"), "w") as f:
        json.dump({"question_kinds": {f"q-{n}": q["kind"] for n, q in enumerate(QUESTIONS, 1)},
                   "incident_mechanisms": {i["id"]: i["mech"] for i in corpus}}, f, indent=0)
    print(f"incidents: {len(corpus)}  services: {len({i['service'] for i in corpus})}  questions: {len(qs)}")
    print(per_kind)


if __name__ == "__main__":
    main()
