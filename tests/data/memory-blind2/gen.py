#!/usr/bin/env python3
"""Deterministic generator for the memory-blind2 question set.

Inputs (read only): ../memory-blind/corpus.jsonl and the per-incident mechanism labels in
../memory-blind/gen/answer_key_meta.json ("incident_mechanisms" only).
Outputs: questions.json and kinds.json (question id -> kind, audit aid) next to this file.

Every `relevant` list is computed from the metadata (service, mechanism, category, date,
or a detail string found in the incident text); nothing is picked by hand.
Run:  python3 gen.py
"""
import collections
import datetime as dt
import json
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BLIND = os.path.join(HERE, "..", "memory-blind")
sys.path.insert(0, HERE)
from check import content_words  # same tokenisation as the checker  # noqa: E402

SEED = 20261202
ASKED_AT = "2026-12-01T12:00:00Z"
UTC = dt.timezone.utc
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
H = dt.timedelta(hours=1)


def D(y, m, d, h=0, mi=0):
    return dt.datetime(y, m, d, h, mi, tzinfo=UTC)


# ---------------------------------------------------------------- corpus
CORPUS = [json.loads(l) for l in open(os.path.join(BLIND, "corpus.jsonl"))]
MECH = json.load(open(os.path.join(BLIND, "gen", "answer_key_meta.json")))["incident_mechanisms"]
BYID = {r["id"]: r for r in CORPUS}
for r in CORPUS:
    r["mech"] = MECH[r["id"]]
    r["t"] = dt.datetime.strptime(r["date"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    r["text"] = " ".join([r["summary"], r["root_cause"], r["recommendation"]])
ORDER = {r["id"]: i for i, r in enumerate(CORPUS)}


def ids(recs):
    return sorted((r["id"] for r in recs), key=lambda i: ORDER[i])


# ---------------------------------------------------------------- services (own aliases)
SVC = {
    "polymarket-bot": ["the poly bot", "my prediction market bot", "the polymkt trader"],
    "kalshi-arb": ["the kalshi arber", "my arbitrage bot", "kalshi arb"],
    "binance-grid-bot": ["gridbot", "the grid trader", "the binance grid thing"],
    "funding-rate-monitor": ["the funding watcher", "the perp funding tracker", "funding monitor"],
    "content-pipeline-v2": ["the article pipeline", "pipeline v2", "the blog post generator"],
    "newsletter-digest": ["the digest job", "the weekly digest", "the newsletter sender"],
    "shorts-renderer": ["the video renderer", "the shorts maker", "the clip renderer"],
    "feed-ingester": ["the rss ingester", "the feed puller", "feed ingest"],
    "discord-helper-bot": ["the discord bot", "discord helper", "my discord assistant"],
    "telegram-alerts-bot": ["the telegram notifier", "tg notify bot", "the alerts bot on telegram"],
    "support-chatbot": ["the support bot", "the helpdesk bot", "the customer chat bot"],
    "pricing-api": ["the pricing service", "the quotes api", "pricing endpoint"],
    "webhook-relay": ["the webhook forwarder", "the hook relay", "the relay service"],
    "invoice-api": ["the invoicing api", "the billing api", "invoice service"],
    "rental-scraper": ["the apartment scraper", "the rentals crawler", "the flat hunter"],
    "sec-filings-scraper": ["the sec crawler", "the filings grabber", "the 10-k scraper"],
    "price-tracker": ["the price watcher", "the amazon price tracker", "price tracking job"],
    "cron-scheduler": ["the job scheduler", "our cron service", "the scheduler daemon"],
    "backup-runner": ["the backup job", "backups", "the nightly backup thing"],
}
GROUPS = {
    "trading": (["my trading bots", "the trading bots", "the bots that trade"],
                ["polymarket-bot", "kalshi-arb", "binance-grid-bot", "funding-rate-monitor"]),
    "content": (["the content jobs", "the publishing pipelines"],
                ["content-pipeline-v2", "newsletter-digest", "shorts-renderer", "feed-ingester"]),
    "chat": (["the chat bots", "my chatbots"], ["discord-helper-bot", "telegram-alerts-bot", "support-chatbot"]),
    "apis": (["the http apis", "my api services"], ["pricing-api", "webhook-relay", "invoice-api"]),
    "scrapers": (["the scrapers", "my crawlers"], ["rental-scraper", "sec-filings-scraper", "price-tracker"]),
    "sched": (["the scheduled jobs (cron and backups)", "the scheduler and backup boxes"],
              ["cron-scheduler", "backup-runner"]),
}

# ---------------------------------------------------------------- symptom phrases per mechanism
# verbs: (base, past, past participle); nouns: noun phrases.  Own everyday wording.
def V(base, past, pp=None):
    return (base, past, pp or past)


SYM = {
    "rl_retry_storm": dict(
        verbs=[V("keep hammering an api that was telling it to slow down",
                 "kept hammering an api that was telling it to slow down"),
               V("retry like crazy after getting throttled", "retried like crazy after getting throttled"),
               V("spam retries at a provider that was limiting it",
                 "spammed retries at a provider that was limiting it")],
        nouns=["runaway retries after being throttled", "a throttled api getting hammered with retries",
               "retry floods against a provider that said slow down"]),
    "rl_quota": dict(
        verbs=[V("burn through its paid api allowance too early", "burned through its paid api allowance too early"),
               V("use up the usage budget on an outside api", "used up the usage budget on an outside api")],
        nouns=["the api usage allowance running out early", "paid api credits running out before the period ended"]),
    "scraper_blocked": dict(
        verbs=[V("get flagged as a bot and shut out", "got flagged as a bot and shut out", "been flagged as a bot and shut out"),
               V("get kicked off the website it scrapes", "got kicked off the website it scrapes", "been kicked off the website it scrapes")],
        nouns=["the target site blocking it as a bot", "anti-scraping walls shutting the crawler out"]),
    "oom": dict(
        verbs=[V("balloon in ram until the system killed it", "ballooned in ram until the system killed it"),
               V("get killed for hogging ram", "got killed for hogging ram", "been killed for hogging ram")],
        nouns=["ram blowups", "kills for using too much ram"]),
    "disk_full": dict(
        verbs=[V("fill the drive up", "filled the drive up"),
               V("run the box out of storage", "ran the box out of storage", "run the box out of storage")],
        nouns=["a completely full drive", "the box running out of storage"]),
    "fd_limit": dict(
        verbs=[V("hit the ceiling on open handles", "hit the ceiling on open handles"),
               V("leak handles until the os said no more", "leaked handles until the os said no more")],
        nouns=["handle leaks hitting the os ceiling", "file handles running out"]),
    "db_pool": dict(
        verbs=[V("run dry on db connections", "ran dry on db connections", "run dry on db connections"),
               V("have every pooled db connection checked out and stuck", "had every pooled db connection checked out and stuck")],
        nouns=["the db connection pool running dry", "all the pooled db connections being used up"]),
    "lock_deadlock": dict(
        verbs=[V("freeze with two threads waiting on each other", "froze with two threads waiting on each other",
                 "frozen with two threads waiting on each other")],
        nouns=["two threads stuck waiting on each other forever", "threads locking each other up"]),
    "event_loop_block": dict(
        verbs=[V("go unresponsive because one slow call held up the async loop",
                 "went unresponsive because one slow call held up the async loop",
                 "gone unresponsive because one slow call held up the async loop"),
               V("stop answering while a sync call jammed its async loop",
                 "stopped answering while a sync call jammed its async loop")],
        nouns=["one slow sync call freezing the whole async loop", "a jammed async loop"]),
    "infinite_loop": dict(
        verbs=[V("spin in circles forever", "spun in circles forever"),
               V("go round and round at full cpu without getting anywhere",
                 "went round and round at full cpu without getting anywhere",
                 "gone round and round at full cpu without getting anywhere")],
        nouns=["endless loops pinning the cpu", "loops that spin forever without progress"]),
    "sqlite_locked": dict(
        verbs=[V("get stuck because its sqlite file was held by another writer",
                 "got stuck because its sqlite file was held by another writer",
                 "been stuck because its sqlite file was held by another writer")],
        nouns=["write contention on its sqlite file", "a sqlite file held hostage by another writer"]),
    "stale_lockfile": dict(
        verbs=[V("skip its jobs because a dead run left its lock behind", "skipped its jobs because a dead run left its lock behind")],
        nouns=["leftover lock files from dead runs blocking new ones", "a stale lock from an old run that never got cleaned up"]),
    "db_down": dict(
        verbs=[V("lose its postgres server", "lost its postgres server")],
        nouns=["postgres being unreachable", "the postgres server going away"]),
    "redis_down": dict(
        verbs=[V("lose its redis", "lost its redis")],
        nouns=["redis dropping out", "the redis cache disappearing"]),
    "upstream_outage": dict(
        verbs=[V("get taken out by a vendor's outage", "got taken out by a vendor's outage", "been taken out by a vendor's outage"),
               V("sit idle because an outside api was down on their end",
                 "sat idle because an outside api was down on their end")],
        nouns=["outages at a third-party provider", "a vendor api being down on their side"]),
    "env_missing": dict(
        verbs=[V("start up without an env var it needed", "started up without an env var it needed")],
        nouns=["a missing env var", "an environment variable that never got set"]),
    "launchd_path": dict(
        verbs=[V("fail to find a command-line tool when run as a launch agent",
                 "failed to find a command-line tool when run as a launch agent")],
        nouns=["tools not being found when run as a mac launch agent", "the launch agent search-path problem"]),
    "tcc_denied": dict(
        verbs=[V("get locked out of folders by macos privacy rules", "got locked out of folders by macos privacy rules",
                 "been locked out of folders by macos privacy rules")],
        nouns=["macos privacy permissions blocking file access", "the mac privacy settings refusing folder access"]),
    "bad_config_value": dict(
        verbs=[V("get a wrong value in its settings file", "got a wrong value in its settings file",
                 "had a wrong value in its settings file")],
        nouns=["a typo or wrong value in the settings file", "a bad setting in the yaml"]),
    "dst_shift": dict(
        verbs=[V("mess up its schedule when the clocks changed", "messed up its schedule when the clocks changed")],
        nouns=["daylight saving time mixups", "the clocks changing for daylight saving"]),
    "token_expired": dict(
        verbs=[V("have its api token run out", "had its api token run out")],
        nouns=["an api token running past its expiry", "a key that timed out and was never renewed"]),
    "clock_skew_sig": dict(
        verbs=[V("get its orders bounced because the system time had drifted",
                 "got its orders bounced because the system time had drifted",
                 "had its orders bounced because the system time had drifted")],
        nouns=["orders bounced because the computer's time had drifted", "system time drift breaking signed requests"]),
    "secret_rotated": dict(
        verbs=[V("reject incoming hooks after the provider changed the signing secret",
                 "rejected incoming hooks after the provider changed the signing secret")],
        nouns=["the provider changing the hook signing secret on us"]),
    "uncaught_exc": dict(
        verbs=[V("die over and over on an unhandled error in our code", "died over and over on an unhandled error in our code")],
        nouns=["crash loops from an unhandled error in our own code", "an unhandled error killing the process repeatedly"]),
    "segfault": dict(
        verbs=[V("die hard inside a native library", "died hard inside a native library")],
        nouns=["hard native crashes in a compiled library", "a native-code crash"]),
    "panic": dict(
        verbs=[V("blow up with a panic", "blew up with a panic", "blown up with a panic")],
        nouns=["panics that kill the binary", "a panic taking the binary down"]),
    "dep_upgrade_break": dict(
        verbs=[V("refuse to start after a package got bumped", "refused to start after a package got bumped")],
        nouns=["a package bump breaking startup", "an unpinned dependency update breaking things"]),
    "dns_fail": dict(
        verbs=[V("fail to look up hostnames", "failed to look up hostnames")],
        nouns=["failed hostname lookups", "dns trouble"]),
    "tls_cert": dict(
        verbs=[V("choke on an ssl certificate", "choked on an ssl certificate")],
        nouns=["ssl certificate errors", "https cert trouble"]),
    "isp_outage": dict(
        verbs=[V("go offline because the home internet dropped", "went offline because the home internet dropped",
                 "gone offline because the home internet dropped")],
        nouns=["home internet dropouts", "the home internet line going down"]),
    "ws_stale": dict(
        verbs=[V("keep working off frozen prices because the streaming feed quietly died",
                 "kept working off frozen prices because the streaming feed quietly died")],
        nouns=["a live price stream going quiet without disconnecting", "trades on frozen prices from a silent stream"]),
    "schema_change": dict(
        verbs=[V("break because an api renamed or moved a field", "broke because an api renamed or moved a field",
                 "broken because an api renamed or moved a field")],
        nouns=["an api reshaping its json responses", "a provider renaming or moving response fields"]),
    "html_change": dict(
        verbs=[V("come back empty-handed after the site got a redesign", "came back empty-handed after the site got a redesign",
                 "come back empty-handed after the site got a redesign")],
        nouns=["website redesigns breaking the scraping", "the target site changing its page layout"]),
    "bad_encoding": dict(
        verbs=[V("choke on a badly encoded input file", "choked on a badly encoded input file")],
        nouns=["weird characters or broken encoding in input files", "mangled text encoding in a feed or csv"]),
    "bad_value": dict(
        verbs=[V("take in nonsense numbers from a data feed", "took in nonsense numbers from a data feed",
                 "taken in nonsense numbers from a data feed")],
        nouns=["garbage numbers like NaN or crazy spikes in the market data", "nonsense prices coming in from a feed"]),
    "llm_context_overflow": dict(
        verbs=[V("send the model more text than it can take", "sent the model more text than it could take")],
        nouns=["prompts too big for the model", "inputs bigger than the model accepts"]),
    "unknown_hang": dict(
        verbs=[V("stall with no explanation", "stalled with no explanation")],
        nouns=["stalls nobody could explain"]),
}
# combined symptom groups (each names exactly the mechanisms it covers)
COMBO = {
    "store_down": (["db_down", "redis_down"], dict(
        verbs=[V("lose its database or cache server", "lost its database or cache server")],
        nouns=["its postgres or redis going down"])),
    "sig_fail": (["clock_skew_sig", "secret_rotated"], dict(
        verbs=[V("fail signature checks because of clock drift or a changed secret",
                 "failed signature checks because of clock drift or a changed secret")],
        nouns=["signature checks failing, either from clock drift or a changed signing secret"])),
    "scrape_break": (["scraper_blocked", "html_change"], dict(
        verbs=[V("stop collecting because the site either blocked it or changed its layout",
                 "stopped collecting because the site either blocked it or changed its layout")],
        nouns=["a target site blocking the crawler or changing its layout"])),
}

# ---------------------------------------------------------------- categories in plain words (taxonomy, strictly)
CAT = {
    "rate_limit": dict(
        verbs=[V("get throttled, capped or shut out by an outside service (too many requests, usage limits, bot walls)",
                 "got throttled, capped or shut out by an outside service (too many requests, usage limits, bot walls)",
                 "been throttled, capped or shut out by an outside service (too many requests, usage limits, bot walls)")],
        nouns=["being throttled or capped by someone else's api (rate limits, usage caps, bot walls)"]),
    "resource_exhaustion": dict(
        verbs=[V("run out of ram, storage, file handles or db connections",
                 "ran out of ram, storage, file handles or db connections",
                 "run out of ram, storage, file handles or db connections")],
        nouns=["running out of something: ram, storage, handles or pooled connections"]),
    "deadlock": dict(
        verbs=[V("hang by itself (stuck locks, a jammed loop, an endless loop) with nothing outside to blame",
                 "hung by itself (stuck locks, a jammed loop, an endless loop) with nothing outside to blame")],
        nouns=["self-inflicted hangs: stuck locks, jammed or endless loops, nothing external to blame"]),
    "dependency_unavailable": dict(
        verbs=[V("go down because something it relies on (db, cache, vendor api) was down",
                 "went down because something it relies on (db, cache, vendor api) was down",
                 "gone down because something it relies on (db, cache, vendor api) was down")],
        nouns=["a dependency being down: a db, a cache or a vendor's api"]),
    "config_error": dict(
        verbs=[V("break because of a setup mistake (env vars, settings values, time zone, PATH, permissions)",
                 "broke because of a setup mistake (env vars, settings values, time zone, PATH, permissions)",
                 "broken because of a setup mistake (env vars, settings values, time zone, PATH, permissions)")],
        nouns=["setup mistakes: env vars, wrong settings, time zone, PATH or permission problems"]),
    "auth_failure": dict(
        verbs=[V("get locked out over credentials (expired or revoked keys, rejected signatures)",
                 "got locked out over credentials (expired or revoked keys, rejected signatures)",
                 "been locked out over credentials (expired or revoked keys, rejected signatures)")],
        nouns=["credential problems: expired or revoked keys, rejected signatures, 401s"]),
    "crash": dict(
        verbs=[V("crash outright on a bug (unhandled error, panic, native crash, broken package)",
                 "crashed outright on a bug (unhandled error, panic, native crash, broken package)")],
        nouns=["outright crashes: unhandled errors, panics, native crashes, broken packages"]),
    "network": dict(
        verbs=[V("have network-level trouble (dns, certs, the internet line, a dead stream)",
                 "had network-level trouble (dns, certs, the internet line, a dead stream)")],
        nouns=["network-level trouble: dns, certificates, the internet line, streams going dead"]),
    "data_error": dict(
        verbs=[V("choke on bad or unexpected input (malformed files, changed formats, junk values, oversized prompts)",
                 "choked on bad or unexpected input (malformed files, changed formats, junk values, oversized prompts)")],
        nouns=["bad input data: malformed files, reshaped responses, junk values, oversized prompts"]),
    "unknown": dict(
        verbs=[V("fall over for a reason we never worked out", "fell over for a reason we never worked out",
                 "fallen over for a reason we never worked out")],
        nouns=["failures we never found a cause for"]),
}

# ---------------------------------------------------------------- time phrases
MON = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
       "November", "December"]
MON3 = ["jan", "feb", "march", "april", "may", "june", "july", "aug", "sept", "oct", "nov", "dec"]


def month_iv(y, m):
    return (D(y, m, 1), D(y + (m == 12), m % 12 + 1, 1))


class Phrase:
    """A time phrase with all its readings. Each reading is a list of [start, end) intervals.
    Date-bounded readings are also tried shifted by +-1h (operator time zone / DST slack)."""

    def __init__(self, texts, readings, shift=True, hours=None, weekend=False):
        self.texts = texts if isinstance(texts, list) else [texts]
        self.readings = readings
        self.shift = shift
        self.hours = hours  # list of (start_h, end_h) readings, wrapping past midnight
        self.weekend = weekend

    def preds(self):
        out = []
        if self.readings:
            for rd in self.readings:
                for sh in ((-H, 0 * H, H) if self.shift else (0 * H,)):
                    out.append(lambda t, rd=rd, sh=sh: any(a + sh <= t < b + sh for a, b in rd))
        if self.hours:
            for s, e in self.hours:
                out.append(lambda t, s=s, e=e: (t.hour >= s or t.hour < e) if s > e else (s <= t.hour < e))
        if self.weekend:
            for sh in (-H, 0 * H, H):
                out.append(lambda t, sh=sh: (t + sh).weekday() >= 5)
        return out

    def robust(self, pool):
        sets = [frozenset(r["id"] for r in pool if p(r["t"])) for p in self.preds()]
        return sets[0] if all(s == sets[0] for s in sets) else None


def season(y, name):
    met = {"spring": (D(y, 3, 1), D(y, 6, 1)), "summer": (D(y, 6, 1), D(y, 9, 1)),
           "autumn": (D(y, 9, 1), D(y, 12, 1))}[name]
    ast = {"spring": (D(y, 3, 20), D(y, 6, 21)), "summer": (D(y, 6, 21), D(y, 9, 23)),
           "autumn": (D(y, 9, 22), D(y, 12, 21))}[name]
    return met, ast


def window_phrases():
    P = []
    P.append(Phrase(["last week", "during last week"],
                    [[(D(2026, 11, 23), D(2026, 11, 30))], [(D(2026, 11, 22), D(2026, 11, 29))],
                     [(NOW - dt.timedelta(days=7), NOW)]]))
    P.append(Phrase(["yesterday"], [[(D(2026, 11, 30), D(2026, 12, 1))]]))
    P.append(Phrase(["last month", "over the past month"],
                    [[(D(2026, 11, 1), D(2026, 12, 1))], [(NOW - dt.timedelta(days=30), NOW)]]))
    P.append(Phrase(["in the past two weeks", "over the last fortnight"],
                    [[(NOW - dt.timedelta(days=14), NOW)], [(D(2026, 11, 16), NOW)], [(D(2026, 11, 16), D(2026, 11, 30))]]))
    P.append(Phrase(["over the past 3 months", "in the last three months"],
                    [[(D(2026, 9, 1), NOW)], [(NOW - dt.timedelta(days=90), NOW)], [(D(2026, 9, 1, 12), NOW)]]))
    P.append(Phrase(["in the last six months", "over the past half year"],
                    [[(D(2026, 6, 1), NOW)], [(NOW - dt.timedelta(days=182), NOW)], [(D(2026, 6, 1, 12), NOW)]]))
    P.append(Phrase(["so far this year", "this year", "in 2026"], [[(D(2026, 1, 1), NOW)]]))
    P.append(Phrase(["in 2025", "back in 2025", "during 2025"], [[(D(2025, 1, 1), D(2026, 1, 1))]]))
    P.append(Phrase(["in the first half of 2025", "between january and june 2025"], [[(D(2025, 1, 1), D(2025, 7, 1))]]))
    P.append(Phrase(["in the second half of 2025", "in the back half of 2025"], [[(D(2025, 7, 1), D(2026, 1, 1))]]))
    P.append(Phrase(["in the first half of this year"], [[(D(2026, 1, 1), D(2026, 7, 1))]]))
    for q, (a, b) in enumerate([(1, 4), (4, 7), (7, 10), (10, 13)], 1):
        P.append(Phrase([f"in Q{q} 2025", f"during q{q} 2025"],
                        [[(D(2025, a, 1), D(2025 + (b == 13), b if b < 13 else 1, 1))]]))
        if q < 4:
            P.append(Phrase([f"in Q{q} this year", f"during q{q} of 2026"], [[(D(2026, a, 1), D(2026, b, 1))]]))
    for m in range(1, 12):
        iv26, iv25 = month_iv(2026, m), month_iv(2025, m)
        P.append(Phrase([f"in {MON[m-1]}", f"in {MON3[m-1]}", f"back in {MON[m-1]}"], [[iv26], [iv26, iv25]]))
        P.append(Phrase([f"in {MON[m-1]} 2026", f"in {MON[m-1]} this year"], [[iv26]]))
    for m in range(1, 13):
        P.append(Phrase([f"in {MON[m-1]} 2025", f"back in {MON[m-1]} last year", f"in {MON3[m-1]} 2025"],
                        [[month_iv(2025, m)]]))
    for name, texts in [("spring", ["this spring", "this past spring"]), ("summer", ["over the summer", "this summer"]),
                        ("autumn", ["this autumn", "this fall"])]:
        met, ast = season(2026, name)
        if name == "autumn":
            met, ast = (met[0], NOW), (ast[0], NOW)
        P.append(Phrase(texts, [[met], [ast]]))
    for name, texts in [("spring", ["in spring 2025", "in the spring of 2025"]),
                        ("summer", ["in summer 2025", "during the 2025 summer"]),
                        ("autumn", ["in autumn 2025", "in the fall of 2025"])]:
        met, ast = season(2025, name)
        P.append(Phrase(texts, [[met], [ast]]))
    P.append(Phrase(["last winter", "over the winter"],
                    [[(D(2025, 12, 1), D(2026, 3, 1))], [(D(2025, 12, 21), D(2026, 3, 20))]]))
    P.append(Phrase(["earlier this year, before summer", "before the summer this year"],
                    [[(D(2026, 1, 1), D(2026, 6, 1))], [(D(2026, 1, 1), D(2026, 6, 21))]]))
    P.append(Phrase(["between christmas and new year last year", "over the christmas week last year"],
                    [[(D(2025, 12, 25), D(2026, 1, 1))], [(D(2025, 12, 24), D(2026, 1, 2))]]))
    for m in range(2, 12):
        P.append(Phrase([f"since the start of {MON[m-1]}", f"since {MON[m-1]} 1st"], [[(D(2026, m, 1), NOW)]]))
        for d in (10, 15, 20):
            P.append(Phrase([f"since {MON[m-1]} {d}", f"since the {d}th of {MON3[m-1]}"], [[(D(2026, m, d), NOW)]]))
    return P


NIGHT = [Phrase(["at night", "overnight", "in the middle of the night"], None, hours=[(22, 6), (23, 5), (21, 7)]),
         Phrase(["between midnight and 6am UTC", "after midnight UTC but before 6"], None, hours=[(0, 6)]),
         Phrase(["between 10pm and 6am UTC"], None, hours=[(22, 6)])]
WEEKEND = [Phrase(["on weekends", "on a saturday or sunday", "over weekends"], None, weekend=True)]

# change events (from the corpus text): start of readings = event incident time, the 1st of the month, the day
CHANGES = {
    "binance-grid-bot": dict(day=D(2026, 6, 9), month=D(2026, 6, 1), texts=[
        "since the june migration", "since we moved it to the new box in june"]),
    "content-pipeline-v2": dict(day=D(2026, 3, 10), month=D(2026, 3, 1), texts=[
        "since the switch to the batch endpoint in march", "after we moved the summarizer to batch calls in march"]),
    "discord-helper-bot": dict(day=D(2026, 8, 4), month=D(2026, 8, 1), texts=[
        "since the big library upgrade in august", "since the august discord.py bump"]),
}


def event_start(svc):
    c = CHANGES[svc]
    evs = [r for r in CORPUS if r["service"] == svc and c["day"] <= r["t"] < c["day"] + dt.timedelta(days=1)]
    return min(r["t"] for r in evs) if evs else c["day"]


# ---------------------------------------------------------------- templates (own wording)
T = {
    "cluster": [
        "has {a} {pp} before?", "how many times has {a} {pp}", "{A} {past} again today. happened before?",
        "is this the first time {a} {past}? pull up the old ones", "show me every time {a} {past}",
        "old incidents where {a} {past}", "{a}: history of {n}?", "did we ever see {n} on {a} before",
        "{a} and {n}, how often has that come up", "remind me of past cases of {n} on {a}",
    ],
    "cluster_fleet": [
        "which services have had {n}?", "anything in the fleet that {past}?", "list every incident with {n}, any service",
        "which of my apps {past} at some point", "across all services, every case of {n}",
        "who else has {pp}? all services",
    ],
    "group_symptom": [
        "have any of {g} {pp}?", "{n} across {g}?", "did {g} ever {base}", "every time one of {g} {past}",
    ],
    "time_service_symptom": [
        "did {a} {base} {t}?", "{a} {past} {t}? what happened", "any cases of {n} on {a} {t}", "{T}, how often did {a} {base}",
        "{T} did {a} {base}", "were there cases of {n} on {a} {t}?", "list the times {a} {past} {t}",
    ],
    "time_service_any": [
        "anything break on {a} {t}?", "{a} incidents {t}", "list {a}'s problems {t}",
        "was {a} healthy {t}? show me the incidents", "{T}, what problems did {a} have", "what did {a} go through {t}",
        "any trouble with {a} {t}",
    ],
    "time_fleet_symptom": [
        "did any service {base} {t}?", "cases of {n} anywhere {t}?", "{T}, did anything {base}", "{n} {t}, any service",
    ],
    "time_service_night": [
        "does {a} {base} {t}? show me those", "{a}: {n} {t}?", "times {a} {past} {t}", "{T}, has {a} {pp}?",
    ],
    "time_service_any_night": ["what broke on {a} {t}?", "{a} incidents {t}", "{T}, what went sideways with {a}"],
    "time_weekend": ["did {a} {base} {t}?", "{a}: {n} {t}", "{T}, has {a} {pp}"],
    "since_change": [
        "{T}, has {a} {pp}?", "how often has {a} {pp} {t}", "{a}: {n} {t}?", "times {a} {past} {t}",
    ],
    "since_change_any": ["everything that went wrong with {a} {t}", "{T}, what problems has {a} had?"],
    "category_plain": [
        "when did anything {base}?", "every incident where a service {past}", "all cases of {n}, whole fleet",
        "which services have {pp}?",
    ],
    "category_window": [
        "{T}, did anything {base}?", "which services {past} {t}", "{n} {t}?", "all incidents of {n} {t}",
    ],
    "category_service": [
        "has {a} ever {pp}?", "{a}: every case of {n}", "times {a} {past}", "how often did {a} {base}",
    ],
    "category_service_window": [
        "did {a} {base} {t}?", "{a}, {n}, {t}", "{T}, times {a} {past}",
    ],
    "category_group": ["have {g} ever {pp}?", "{n} across {g}"],
    "single_month": [
        "{a} {past} {t}, what was that about?", "that time {a} {past} {t}", "{T} {a} {past}. what was the cause",
        "what went on when {a} {past} {t}", "find the incident where {a} {past} {t}",
    ],
    "single_day": [
        "what happened to {a} on {d}?", "{a} broke on {d}, why?", "incident for {a} on {d}", "on {d} {a} had a problem. what was it",
    ],
    "single_day_symptom": ["{a} {past} on {d}, what caused it?", "on {d}, {a} {past}. details?"],
    "single_first": ["when did {a} first {base}?", "the very first time {a} {past}, when was it",
                     "earliest case of {n} on {a}"],
    "single_last": ["most recent time {a} {past}?", "when did {a} last {base}", "latest case of {n} on {a}"],
    "single_detail": [],  # per-detail templates below
}

# ---------------------------------------------------------------- details (strings found in incident text)
ENVV = ["DATABASE_URL", "HTTP_PROXY", "LOG_DIR", "SENTRY_DSN", "PG_DSN", "FEEDS_FILE", "PROXY_URL", "REDIS_URL",
        "DATA_DIR", "CLOB_API_SECRET", "SMTP_PASSWORD", "TG_CHAT_ID", "HC_PING_URL", "ALERT_WEBHOOK", "SCHED_DSN",
        "RESTIC_PASSWORD_FILE", "STRIPE_WEBHOOK_SECRET"]
LIBS = ["orjson", "lxml", "Pillow", "onnxruntime", "undici", "playwright", "pydantic", "httpx", "pandas",
        "sqlalchemy", "urllib3"]
FIELDS = ["fundingRate", "instId", "next_run", "best_bid", "nextFundingTime", "lastPrice", "stepSize", "published_at"]
TOOLS = ["cwebp", "pandoc", "tesseract", "ffmpeg", "chromedriver"]
VENDORS = ["Pinecone", "Keepa", "Zillow", "buttondown", "Kraken", "Synology", "Feedly", "Unsplash", "Postmark", "OKX",
           "Apartments.com", "Shopify", "Intercom", "Healthchecks.io", "ElevenLabs"]
DETAIL_T = {
    "env": ["when did {x} go missing?", "which services started without {x}", "{x} not set, has that bitten us before",
            "incidents where {x} was absent"],
    "env_svc": ["did {a} ever come up without {x}?", "{a} missing {x}, when?"],
    "lib": ["has {x} broken anything?", "incidents involving {x}", "which services got hurt by {x}", "{x} trouble, when?"],
    "field": ["when did the '{x}' field cause trouble", "which incidents had the '{x}' field go wrong",
              "'{x}' field missing or changed, when was that"],
    "tool": ["when couldn't {x} be found", "{x} not on the path, which incidents", "times {x} was missing for a job"],
    "vendor": ["anything involving {x}?", "which incidents had to do with {x}", "has {x} caused us grief", "{x} related problems"],
    "vendor_svc": ["did {x} cause trouble for {a}", "{a} problems tied to {x}"],
    "version": ["anything related to the {x} upgrade?", "incidents mentioning {x}"],
}


DETAIL_WORDS = set(ENVV + LIBS + FIELDS + TOOLS + VENDORS + ["TZ", "B2", "EDGAR", "Craigslist", "Polygon", "Stripe"]) | \
    {w.lower() for w in LIBS + TOOLS}


def mentions(x):
    if x == "TZ":
        rx = re.compile(r"\bTZ\b(?! observes| on the host|=)")
        return [r for r in CORPUS if rx.search(r["text"])]
    if x == "Bybit v5":
        rx = re.compile(r"Bybit v5", re.I)
    else:
        rx = re.compile(r"(?<![\w.])" + re.escape(x) + r"(?![\w])", re.I)
    return [r for r in CORPUS if rx.search(r["text"])]


# ---------------------------------------------------------------- machinery
rng = random.Random(SEED)
QUESTIONS = []
KINDS = {}
USED = set()
TYPOS = {"before": "befor", "which": "whcih", "services": "serivces", "again": "agian", "anything": "anythign",
         "incidents": "incidnets", "problems": "probelms", "happened": "happend", "every": "evrey", "there": "tehre"}


def ok_lex(text, rel):
    cw = content_words(text)
    return all(len(cw & content_words(BYID[i]["summary"])) < 3 for i in rel)


def style(text, rel):
    """casual typing: case of the first letter, missing question mark, rare typo (re-checked)."""
    u = rng.random()
    first = text.split()[0].strip("'?,:")
    keep = first.lower() != first or first in DETAIL_WORDS  # leave names like OKX, lxml, 'instId' alone
    if not keep:
        text = text[0].lower() + text[1:] if u < 0.45 else text[0].upper() + text[1:]
    if text.endswith("?") and rng.random() < 0.28:
        text = text[:-1]
    elif "?" not in text and re.match(r"(?i)(has|have|did|does|when|which|what|is|was|were|how|any|anything)\b",
                                             text) and rng.random() < 0.85:
        text += "?"
    elif "?" not in text and rng.random() < 0.3:
        text += "?"
    if rng.random() < 0.08:
        words = [w for w in TYPOS if re.search(r"\b" + w + r"\b", text)]
        if words:
            w = rng.choice(words)
            t2 = re.sub(r"\b" + w + r"\b", TYPOS[w], text, count=1)
            if ok_lex(t2, rel):
                text = t2
    return text


def fill(tpl, **kw):
    s = tpl
    if "{T}" in s:
        kw["T"] = kw["t"][0].upper() + kw["t"][1:]
    if "{A}" in s:
        kw["A"] = kw["a"][0].upper() + kw["a"][1:]
    return s.format(**kw)


NOSINCE = ("healthy {t}", "{past} {t}? what happened", "{past} {t}?", "{T}, what problems did")


def tpl_ok(tpl, t):
    return not (t.startswith("since") and any(x in tpl for x in NOSINCE))


def add(kind, rel, variants):
    """variants: list of candidate texts (already filled); keep the first that passes the lexical rule."""
    rel = ids([BYID[i] for i in rel])
    key = tuple(rel)
    if not rel or key in USED:
        return False
    variants = list(dict.fromkeys(variants))
    rng.shuffle(variants)
    for v in variants:
        v = re.sub(r"\s+", " ", v).strip()
        if ok_lex(v, rel):
            q = style(v, rel)
            qid = f"r-{len(QUESTIONS) + 1}"
            QUESTIONS.append({"id": qid, "question": q, "relevant": rel, "asked_at": ASKED_AT})
            KINDS[qid] = kind
            USED.add(key)
            return True
    return False


def sym_variants(tpls, bank, aliases=("",), times=("",), groups=("",), extra=None):
    out = []
    for tpl in tpls:
        for a in aliases:
            for t in times:
                if not tpl_ok(tpl, t):
                    continue
                for g in groups:
                    for (b, p, pp) in bank["verbs"]:
                        for n in bank["nouns"]:
                            kw = dict(a=a, t=t, g=g, base=b, past=p, pp=pp, n=n)
                            if extra:
                                kw.update(extra)
                            out.append(fill(tpl, **kw))
    return out


def recs(svc=None, mechs=None, cat=None, services=None):
    out = CORPUS
    if svc:
        out = [r for r in out if r["service"] == svc]
    if services:
        out = [r for r in out if r["service"] in services]
    if mechs:
        out = [r for r in out if r["mech"] in mechs]
    if cat:
        out = [r for r in out if r["category"] == cat]
    return out


PAIRS = collections.Counter((r["service"], r["mech"]) for r in CORPUS)
WIN = window_phrases()


def family(ph):
    t = ph.texts[0].lower()
    if t.startswith("since"):
        return "since"
    if re.search(r"\bq[1-4]\b", t):
        return "quarter"
    if any(w in t for w in ("spring", "summer", "autumn", "fall", "winter", "christmas")):
        return "season"
    if "half" in t:
        return "half"
    if any(m.lower() in t for m in MON):
        return "month"
    if re.search(r"2025|2026|this year", t):
        return "year"
    return "recent"


def pick_windows(pool, lo, hi, phrases):
    """robust phrases giving a non-empty strict subset of the pool with size in [lo, hi],
    ordered so that phrase families (recent, since, month, season, quarter, half, year) take turns"""
    out = []
    for ph in phrases:
        s = ph.robust(pool)
        if s is not None and lo <= len(s) <= hi and len(s) < len(pool):
            out.append((ph, s))
    fams = sorted({family(ph) for ph, _ in out})
    rng.shuffle(fams)
    rank = {f: i for i, f in enumerate(fams)}
    keyed = [(rank[family(ph)], rng.random(), i) for i, (ph, _) in enumerate(out)]
    return [out[i] for _, _, i in sorted(keyed)]


# ---------------------------------------------------------------- kinds
def gen_cluster(quota):
    cands = [k for k, n in PAIRS.items() if n >= 3 and k[1] in SYM]
    rng.shuffle(cands)
    cands.sort(key=lambda k: -min(PAIRS[k], 8))  # prefer real recurring clusters first
    got = 0
    for svc, mech in cands:
        if got >= quota:
            break
        rel = [r["id"] for r in recs(svc, [mech])]
        if add("cluster", rel, sym_variants(T["cluster"], SYM[mech], SVC[svc])):
            got += 1


def gen_cluster_fleet(quota):
    cands = [m for m in SYM if 2 <= len(recs(mechs=[m])) <= 60] + \
        [c for c in COMBO if len(recs(mechs=COMBO[c][0])) <= 60]
    rng.shuffle(cands)
    got = 0
    for m in cands:
        if got >= quota:
            break
        mechs, bank = (COMBO[m][0], COMBO[m][1]) if m in COMBO else ([m], SYM[m])
        rel = [r["id"] for r in recs(mechs=mechs)]
        if add("cluster_fleet", rel, sym_variants(T["cluster_fleet"], bank)):
            got += 1


def gen_group_symptom(quota):
    cands = []
    for gk, (gal, gsv) in GROUPS.items():
        for m in SYM:
            rel = recs(mechs=[m], services=gsv)
            svcs = {r["service"] for r in rel}
            if len(svcs) >= 2 and 3 <= len(rel) <= 45:
                cands.append((gk, m))
    rng.shuffle(cands)
    got = 0
    for gk, m in cands:
        if got >= quota:
            break
        rel = [r["id"] for r in recs(mechs=[m], services=GROUPS[gk][1])]
        if add("group_symptom", rel, sym_variants(T["group_symptom"], SYM[m], groups=GROUPS[gk][0])):
            got += 1


def gen_time_service_symptom(quota):
    cands = [k for k, n in PAIRS.items() if n >= 5 and k[1] in SYM]
    rng.shuffle(cands)
    got = 0
    used_pairs = collections.Counter()
    for rnd in range(3):
        for svc, mech in cands:
            if got >= quota:
                return
            if used_pairs[(svc, mech)] > rnd:
                continue
            pool = recs(svc, [mech])
            ws = pick_windows(pool, 2, 40, WIN)
            for ph, s in ws:
                if add("time_service_symptom", list(s),
                       sym_variants(T["time_service_symptom"], SYM[mech], SVC[svc], ph.texts)):
                    got += 1
                    used_pairs[(svc, mech)] += 1
                    break


def gen_time_service_any(quota):
    svcs = list(SVC)
    rng.shuffle(svcs)
    got = 0
    for rnd in range(2):
        for svc in svcs:
            if got >= quota:
                return
            pool = recs(svc)
            ws = pick_windows(pool, 1, 25, WIN)
            for ph, s in ws:
                vs = [fill(tpl, a=a, t=t) for tpl in T["time_service_any"] for a in SVC[svc] for t in ph.texts
                      if tpl_ok(tpl, t)]
                if add("time_service_any", list(s), vs):
                    got += 1
                    break


def gen_time_fleet_symptom(quota):
    ms = list(SYM)
    rng.shuffle(ms)
    got = 0
    for m in ms:
        if got >= quota:
            return
        pool = recs(mechs=[m])
        ws = pick_windows(pool, 2, 40, WIN)
        for ph, s in ws:
            if len({BYID[i]["service"] for i in s}) < 2:
                continue
            if add("time_fleet_symptom", list(s), sym_variants(T["time_fleet_symptom"], SYM[m], times=ph.texts)):
                got += 1
                break


def gen_night(quota_sym, quota_any):
    cands = [k for k, n in PAIRS.items() if n >= 6 and k[1] in SYM]
    rng.shuffle(cands)
    got = 0
    for svc, mech in cands:
        if got >= quota_sym:
            break
        pool = recs(svc, [mech])
        for ph in rng.sample(NIGHT, len(NIGHT)):
            s = ph.robust(pool)
            if s and 2 <= len(s) < len(pool):
                if add("time_night", list(s), sym_variants(T["time_service_night"], SYM[mech], SVC[svc], ph.texts)):
                    got += 1
                    break
    svcs = list(SVC)
    rng.shuffle(svcs)
    got = 0
    for svc in svcs:
        if got >= quota_any:
            break
        pool = recs(svc)
        for ph in rng.sample(NIGHT, len(NIGHT)):
            s = ph.robust(pool)
            if s and 2 <= len(s) <= 40:
                vs = [fill(tpl, a=a, t=t) for tpl in T["time_service_any_night"] for a in SVC[svc] for t in ph.texts]
                if add("time_night_any", list(s), vs):
                    got += 1
                    break


def gen_weekend(quota):
    cands = [k for k, n in PAIRS.items() if n >= 6 and k[1] in SYM]
    rng.shuffle(cands)
    got = 0
    for svc, mech in cands:
        if got >= quota:
            break
        pool = recs(svc, [mech])
        s = WEEKEND[0].robust(pool)
        if s and 2 <= len(s) < len(pool):
            if add("time_weekend", list(s), sym_variants(T["time_weekend"], SYM[mech], SVC[svc], WEEKEND[0].texts)):
                got += 1


def gen_since_change():
    for svc, c in CHANGES.items():
        ev = event_start(svc)
        starts = [ev, c["month"], c["day"]]
        # the mechanisms on this service after the change, most frequent first
        after = collections.Counter(r["mech"] for r in recs(svc) if r["t"] >= ev)
        for mech, _ in after.most_common(3):
            pool = recs(svc, [mech])
            sets = {frozenset(r["id"] for r in pool if r["t"] >= st) for st in starts}
            if len(sets) == 1:
                s = next(iter(sets))
                if len(s) >= 2 and mech in SYM:
                    add("since_change", list(s), sym_variants(T["since_change"], SYM[mech], SVC[svc], c["texts"]))
        pool = recs(svc)
        sets = {frozenset(r["id"] for r in pool if r["t"] >= st) for st in starts}
        if len(sets) == 1:
            vs = [fill(tpl, a=a, t=t) for tpl in T["since_change_any"] for a in SVC[svc] for t in c["texts"]]
            add("since_change_any", list(next(iter(sets))), vs)


def gen_category_plain():
    for cat in CAT:
        rel = [r["id"] for r in recs(cat=cat)]
        if len(rel) <= 65:
            add("category_plain", rel, sym_variants(T["category_plain"], CAT[cat]))


def gen_category_window(quota):
    cats = [c for c in CAT if c != "unknown"]
    rng.shuffle(cats)
    got = 0
    for rnd in range(2):
        for cat in cats:
            if got >= quota:
                return
            pool = recs(cat=cat)
            ws = pick_windows(pool, 2, 60, WIN)
            for ph, s in ws:
                if add("category_window", list(s), sym_variants(T["category_window"], CAT[cat], times=ph.texts)):
                    got += 1
                    break


def gen_category_service(quota):
    cands = [(s, c) for s in SVC for c in CAT if c != "unknown"]
    rng.shuffle(cands)
    got = 0
    for svc, cat in cands:
        if got >= quota:
            break
        pool = recs(svc, cat=cat)
        mechs = {r["mech"] for r in pool}
        if len(mechs) < 2 or not (3 <= len(pool) <= 45):  # only where the category is wider than one mechanism
            continue
        if add("category_service", [r["id"] for r in pool], sym_variants(T["category_service"], CAT[cat], SVC[svc])):
            got += 1


def gen_category_service_window(quota):
    cands = [(s, c) for s in SVC for c in CAT if c != "unknown"]
    rng.shuffle(cands)
    got = 0
    for svc, cat in cands:
        if got >= quota:
            break
        pool = recs(svc, cat=cat)
        if len(pool) < 6:
            continue
        ws = pick_windows(pool, 2, 30, WIN)
        for ph, s in ws:
            if len({BYID[i]["mech"] for i in s}) < 2:
                continue
            if add("category_service_window", list(s),
                   sym_variants(T["category_service_window"], CAT[cat], SVC[svc], ph.texts)):
                got += 1
                break


def gen_category_group(quota):
    cands = [(g, c) for g in GROUPS for c in CAT if c != "unknown"]
    rng.shuffle(cands)
    got = 0
    for gk, cat in cands:
        if got >= quota:
            break
        pool = recs(cat=cat, services=GROUPS[gk][1])
        if not (4 <= len(pool) <= 60):
            continue
        if add("category_group", [r["id"] for r in pool], sym_variants(T["category_group"], CAT[cat], groups=GROUPS[gk][0])):
            got += 1


def month_phrases_for(m, y):
    """month phrases (robustness checked by caller) for month m of year y"""
    out = [ph for ph in WIN if len(ph.readings) <= 2 and ph.texts[0].startswith("in ") and any(
        ph.readings[0] == [month_iv(y, m)] for _ in [0])]
    return out


def gen_single_month(quota):
    cands = [k for k, n in PAIRS.items() if n >= 2 and k[1] in SYM]
    rng.shuffle(cands)
    got = 0
    for svc, mech in cands:
        if got >= quota:
            break
        pool = recs(svc, [mech])
        months = collections.Counter((r["t"].year, r["t"].month) for r in pool)
        singles = [ym for ym, n in months.items() if n == 1]
        rng.shuffle(singles)
        for (y, m) in singles:
            phs = month_phrases_for(m, y)
            good = []
            for ph in phs:
                s = ph.robust(pool)
                if s is not None and len(s) == 1:
                    good.append(ph)
            if not good:
                continue
            texts = [t for ph in good for t in ph.texts]
            if add("single_month", list(good[0].robust(pool)),
                   sym_variants(T["single_month"], SYM[mech], SVC[svc], texts)):
                got += 1
                break


def ordinal(d):
    return f"{d}{'th' if 11 <= d <= 13 else {1: 'st', 2: 'nd', 3: 'rd'}.get(d % 10, 'th')}"


def day_phrases(t):
    y, m, d = t.year, t.month, t.day
    day = [(D(y, m, d), D(y, m, d) + dt.timedelta(days=1))]
    other = [(D(2025, m, d), D(2025, m, d) + dt.timedelta(days=1))] if y == 2026 and not (m == 2 and d == 29) else None
    wd = t.strftime("%A")
    out = [Phrase([f"{MON[m-1]} {ordinal(d)} {y}", f"the {ordinal(d)} of {MON[m-1]} {y}", f"{wd} {d} {MON3[m-1]} {y}"],
                  [day])]
    if other:
        out.append(Phrase([f"{MON[m-1]} {ordinal(d)}", f"the {ordinal(d)} of {MON3[m-1]}"], [day, day + other]))
    return out


def gen_single_day(quota, quota_sym):
    pool_ids = list(CORPUS)
    rng.shuffle(pool_ids)
    got = got_sym = 0
    for r in pool_ids:
        if got >= quota and got_sym >= quota_sym:
            break
        svc = r["service"]
        pool = recs(svc)
        for ph in day_phrases(r["t"]):
            s = ph.robust(pool)
            if got < quota and s is not None and s == {r["id"]}:
                vs = [fill(tpl, a=a, d=d) for tpl in T["single_day"] for a in SVC[svc] for d in ph.texts]
                if add("single_day", [r["id"]], vs):
                    got += 1
                    break
            # symptom + day: unique within (service, mechanism) but not within the service
            spool = recs(svc, [r["mech"]])
            s2 = ph.robust(spool)
            if got_sym < quota_sym and s is not None and len(s) > 1 and s2 == {r["id"]} and r["mech"] in SYM:
                vs = [fill(tpl, a=a, d=d, past=p) for tpl in T["single_day_symptom"] for a in SVC[svc]
                      for d in ph.texts for (_, p, _) in SYM[r["mech"]]["verbs"]]
                if add("single_day_symptom", [r["id"]], vs):
                    got_sym += 1
                    break


def gen_first_last(qf, ql):
    cands = [k for k, n in PAIRS.items() if n >= 4 and k[1] in SYM]
    rng.shuffle(cands)
    gf = gl = 0
    for svc, mech in cands:
        pool = sorted(recs(svc, [mech]), key=lambda r: r["t"])
        if gf < qf and add("single_first", [pool[0]["id"]], sym_variants(T["single_first"], SYM[mech], SVC[svc])):
            gf += 1
            continue
        if gl < ql and add("single_last", [pool[-1]["id"]], sym_variants(T["single_last"], SYM[mech], SVC[svc])):
            gl += 1


def gen_details():
    quota = {"env": 5, "lib": 4, "field": 3, "tool": 2, "vendor": 4, "version": 1}
    got = collections.Counter()
    items = [("env", x) for x in ENVV + ["TZ"]] + [("lib", x) for x in LIBS] + [("field", x) for x in FIELDS] + \
            [("tool", x) for x in TOOLS] + [("vendor", x) for x in VENDORS + ["Bybit v5"]] + \
            [("version", "discord.py 2.4")]
    rng.shuffle(items)
    for kind, x in items:
        if got[kind] >= quota[kind]:
            continue
        hits = mentions(x)
        if not hits:
            continue
        vs = [fill(tpl, x=x) for tpl in DETAIL_T[kind]]
        if add("single_detail", [r["id"] for r in hits], vs):
            got[kind] += 1
            continue
        if kind in ("env", "vendor"):  # service-scoped wording when the bare form fails
            for svc in sorted({r["service"] for r in hits}):
                sub = [r["id"] for r in hits if r["service"] == svc]
                vs = [fill(tpl, x=x, a=a) for tpl in DETAIL_T[kind + "_svc"] for a in SVC[svc]]
                if add("single_detail", sub, vs):
                    got[kind] += 1
                    break
    # a vendor that one service meets in several different failure modes
    vend = ["Craigslist", "EDGAR", "Polygon", "Stripe", "B2"]
    rng.shuffle(vend)
    n = 0
    for x in vend:
        if n >= 2:
            break
        by = collections.defaultdict(list)
        for r in mentions(x):
            by[r["service"]].append(r["id"])
        for svc, sub in sorted(by.items()):
            vs = [fill(tpl, x=x, a=a) for tpl in DETAIL_T["vendor_svc"] for a in SVC[svc]]
            if len(sub) <= 20 and add("single_detail", sub, vs):
                n += 1
                break


def gen_recent(q_any, q_sym, q_cat):
    """make sure the short relative phrases (last week, last month, the past two weeks) are represented"""
    recent = [ph for ph in WIN if ph.texts[0] in ("last week", "last month", "in the past two weeks")]
    svcs = list(SVC)
    rng.shuffle(svcs)
    got = 0
    for svc in svcs:
        if got >= q_any:
            break
        for ph in recent:  # "last week" first where it is robust
            s = ph.robust(recs(svc))
            if s:
                vs = [fill(tpl, a=a, t=t) for tpl in T["time_service_any"] for a in SVC[svc] for t in ph.texts]
                if add("time_service_any", list(s), vs):
                    got += 1
                    break
    cands = [k for k, n in PAIRS.items() if k[1] in SYM]
    rng.shuffle(cands)
    got = 0
    for svc, mech in cands:
        if got >= q_sym:
            break
        pool = recs(svc, [mech])
        for ph in rng.sample(recent, len(recent)):
            s = ph.robust(pool)
            if s and len(s) < len(pool):
                if add("time_service_symptom", list(s),
                       sym_variants(T["time_service_symptom"], SYM[mech], SVC[svc], ph.texts)):
                    got += 1
                    break
    cats = list(CAT)
    rng.shuffle(cats)
    got = 0
    for cat in cats:
        if got >= q_cat:
            break
        for ph in rng.sample(recent, len(recent)):
            s = ph.robust(recs(cat=cat))
            if s:
                if add("category_window", list(s), sym_variants(T["category_window"], CAT[cat], times=ph.texts)):
                    got += 1
                    break


def main():
    gen_details()
    gen_single_month(44)
    gen_single_day(18, 8)
    gen_first_last(9, 8)
    gen_since_change()
    gen_recent(6, 4, 3)
    gen_cluster(30)
    gen_cluster_fleet(12)
    gen_group_symptom(6)
    gen_time_service_symptom(20)
    gen_time_service_any(13)
    gen_time_fleet_symptom(8)
    gen_night(8, 3)
    gen_weekend(4)
    gen_category_plain()
    gen_category_window(10)
    gen_category_service(10)
    gen_category_service_window(6)
    gen_category_group(4)
    with open(os.path.join(HERE, "questions.json"), "w") as f:
        json.dump(QUESTIONS, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(HERE, "kinds.json"), "w") as f:
        json.dump(KINDS, f, indent=1)
        f.write("\n")
    kc = collections.Counter(KINDS.values())
    sizes = [len(q["relevant"]) for q in QUESTIONS]
    print(len(QUESTIONS), "questions")
    for k, v in kc.items():
        print(f"  {k}: {v}")
    b = collections.Counter("1" if s == 1 else "2-5" if s <= 5 else "6-20" if s <= 20 else "21-60" if s <= 60 else ">60"
                            for s in sizes)
    print("  sizes:", dict(sorted(b.items())), "max", max(sizes))


if __name__ == "__main__":
    main()
