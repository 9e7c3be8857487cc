#!/usr/bin/env python3
"""Check the second blind memory retrieval set (memory-blind2).

The corpus is shared with ../memory-blind/corpus.jsonl; questions are in questions.json here.

(a) every relevant id exists in corpus.jsonl (plus format checks on both files)
(b) no question shares 3 or more content words with any of its relevant summaries
    (lowercased, [a-z0-9]+ tokens, stopwords removed, trailing 's' stripped)
(c) prints counts

Exit status 0 when everything passes, 1 otherwise.
"""
import collections
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = ["id", "service", "date", "category", "summary", "root_cause", "recommendation"]
CATEGORIES = {"rate_limit", "resource_exhaustion", "deadlock", "dependency_unavailable", "config_error",
              "auth_failure", "crash", "network", "data_error", "unknown"}
STOP = set("""a about above after again against all am an and any are aren aren't as at be because been before being
below between both but by can couldn couldn't could d did didn didn't do does doesn doesn't doing don don't down during each
few for from further had hadn hadn't has hasn hasn't have haven haven't having he her here hers herself him himself his how
i if in into is isn isn't it it's its itself just ll m ma me mightn mightn't more most mustn mustn't my myself needn needn't
no nor not now o of off on once only or other our ours ourselves out over own re s same shan shan't she she's should
should've shouldn shouldn't so some such t than that that'll the their theirs them themselves then there these they this
those through to too under until up ve very was wasn wasn't we were weren weren't what when where which while who whom why
will with won won't wouldn wouldn't y you you'd you'll you're you've your yours yourself yourselves
would ever also us let via""".split())
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def content_words(text):
    out = set()
    for w in re.findall(r"[a-z0-9]+", text.lower()):
        if w in STOP:
            continue
        if len(w) > 2 and w.endswith("s"):
            w = w[:-1]
        out.add(w)
    return out


def main():
    errors = []
    corpus = {}
    with open(os.path.join(HERE, "..", "memory-blind", "corpus.jsonl")) as f:
        for n, line in enumerate(f, 1):
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                errors.append(f"corpus line {n}: bad JSON ({e})")
                continue
            if list(r.keys()) != KEYS:
                errors.append(f"corpus line {n}: keys {list(r.keys())} != {KEYS}")
            if not re.fullmatch(r"pm-\d+", r.get("id", "")):
                errors.append(f"corpus line {n}: bad id {r.get('id')!r}")
            if r.get("id") in corpus:
                errors.append(f"corpus line {n}: duplicate id {r['id']}")
            if r.get("category") not in CATEGORIES:
                errors.append(f"corpus line {n}: bad category {r.get('category')!r}")
            d = r.get("date", "")
            if not DATE_RE.match(d) or not ("2025-01-01" <= d[:10] <= "2026-11-30"):
                errors.append(f"corpus line {n}: date {d!r} not RFC 3339 UTC in 2025-01-01..2026-11-30")
            for k in KEYS:
                if not isinstance(r.get(k), str) or not r.get(k).strip():
                    errors.append(f"corpus line {n}: empty {k}")
            corpus[r.get("id")] = r

    # gen.py writes questions.json; the project splits it into the two halves it scores.
    qs = []
    for half in ("questions.dev.json", "questions.test.json"):
        with open(os.path.join(HERE, half)) as f:
            qs.extend(json.load(f))
    qids = set()
    overlap_viol = 0
    for q in qs:
        if set(q.keys()) != {"id", "question", "relevant", "asked_at"}:
            errors.append(f"{q.get('id')}: keys {sorted(q.keys())}")
        if q["id"] in qids:
            errors.append(f"{q['id']}: duplicate question id")
        qids.add(q["id"])
        if q["asked_at"] != "2026-12-01T12:00:00Z":
            errors.append(f"{q['id']}: asked_at {q['asked_at']}")
        if not q["relevant"]:
            errors.append(f"{q['id']}: empty relevant")
        if len(set(q["relevant"])) != len(q["relevant"]):
            errors.append(f"{q['id']}: duplicate ids in relevant")
        cw = content_words(q["question"])
        for rid in q["relevant"]:
            if rid not in corpus:  # (a)
                errors.append(f"{q['id']}: relevant id {rid} not in corpus")
                continue
            shared = cw & content_words(corpus[rid]["summary"])  # (b)
            if len(shared) >= 3:
                overlap_viol += 1
                errors.append(f"{q['id']}: shares {sorted(shared)} with summary of {rid}")

    # (c) counts
    services = collections.Counter(r["service"] for r in corpus.values())
    cats = collections.Counter(r["category"] for r in corpus.values())
    months = collections.Counter(r["date"][:7] for r in corpus.values())
    sizes = [len(q["relevant"]) for q in qs]
    buckets = collections.Counter("1" if s == 1 else "2-5" if s <= 5 else "6-20" if s <= 20 else ">20" for s in sizes)
    covered = {rid for q in qs for rid in q["relevant"]}
    dates = sorted(r["date"] for r in corpus.values())
    print(f"corpus: {len(corpus)} post-mortems, {len(services)} services, {dates[0]} .. {dates[-1]}, {len(months)} months")
    print("  per service: " + ", ".join(f"{k} {v}" for k, v in sorted(services.items())))
    print("  per category: " + ", ".join(f"{k} {v}" for k, v in sorted(cats.items())))
    print(f"  distinct summaries: {len({r['summary'] for r in corpus.values()})}")
    print(f"questions: {len(qs)}; relevant ids total {sum(sizes)}, distinct {len(covered)}; "
          f"relevant-set size min {min(sizes)} max {max(sizes)} mean {sum(sizes)/len(sizes):.1f}")
    print("  relevant-set sizes: " + ", ".join(f"{k}: {buckets[k]}" for k in ["1", "2-5", "6-20", ">20"]))
    kinds_path = os.path.join(HERE, "kinds.json")
    if os.path.exists(kinds_path):  # audit aid written by gen.py
        kinds = json.load(open(kinds_path))
        if set(kinds) != qids:
            errors.append("kinds.json does not cover exactly the question ids")
        kc = collections.Counter(kinds.values())
        print("  kinds: " + ", ".join(f"{k} {v}" for k, v in sorted(kc.items())))
    texts = collections.Counter(q["question"].lower() for q in qs)
    sets = collections.Counter(tuple(sorted(q["relevant"])) for q in qs)
    for t, n in texts.items():
        if n > 1:
            errors.append(f"duplicate question text: {t!r}")
    for s_, n in sets.items():
        if n > 1:
            errors.append(f"{n} questions share the relevant set {list(s_)[:3]}...")
    print(f"(a) unknown relevant ids: {sum(1 for e in errors if 'not in corpus' in e)}")
    print(f"(b) question/summary pairs sharing >=3 content words: {overlap_viol}")
    if errors:
        print(f"FAIL: {len(errors)} problem(s)")
        for e in errors[:50]:
            print("  " + e)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
