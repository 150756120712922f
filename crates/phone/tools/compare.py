#!/usr/bin/env python3
"""Compare leadbot-phone with libphonenumber's matcher on labelled data.

    pip install 'phonenumbers==9.0.*'
    python3 tools/compare.py [tests/data/phones-sample.jsonl tests/data/phones-labelled.jsonl]

For each file: exact-match per category and overall, false positives on the
negative category, and throughput in lines/s, for Python's
PhoneNumberMatcher(text, region) and for our extractor (run through
`cargo run --release --example phones`, timed without process start-up by
feeding the lines many times). Not part of CI.
"""
import collections
import json
import os
import subprocess
import sys
import time

import phonenumbers

HERE = os.path.dirname(os.path.abspath(__file__))
CRATE = os.path.dirname(HERE)
REPEAT = 200


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def libphonenumber(rows):
    out = []
    for r in rows:
        m = phonenumbers.PhoneNumberMatcher(r["text"], r.get("region", "RU"))
        out.append([phonenumbers.format_number(x.number, phonenumbers.PhoneNumberFormat.E164) for x in m])
    return out


def ours(rows):
    binary = os.environ.get("CARGO_TARGET_DIR", os.path.join(CRATE, "..", "..", "target"))
    subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "leadbot-phone", "--example", "phones"],
                   cwd=CRATE, check=True)
    exe = os.path.join(binary, "release", "examples", "phones")
    out = []
    by_region = collections.defaultdict(list)
    for i, r in enumerate(rows):
        by_region[r.get("region", "RU")].append(i)
    res = [None] * len(rows)
    for region, idx in by_region.items():
        text = "".join(rows[i]["text"].replace("\n", " ") + "\n" for i in idx)
        p = subprocess.run([exe, region], input=text.encode(), capture_output=True, check=True)
        for i, line in zip(idx, p.stdout.decode().splitlines()):
            res[i] = json.loads(line)
    return res, exe


def score(name, rows, got):
    per = collections.defaultdict(lambda: [0, 0])
    fp = 0
    for r, g in zip(rows, got):
        ok = g == r["want"]
        per[r["cat"]][0] += ok
        per[r["cat"]][1] += 1
        if not r["want"] and g:
            fp += 1
    total = sum(v[0] for v in per.values())
    print(f"  {name}: exact {total}/{len(rows)} = {total / len(rows):.3f}, FP on negatives {fp}")
    print("    " + ", ".join(f"{c} {v[0]}/{v[1]}" for c, v in sorted(per.items())))


def main():
    files = sys.argv[1:] or [os.path.join(CRATE, "tests/data/phones-sample.jsonl"),
                             os.path.join(CRATE, "tests/data/phones-labelled.jsonl")]
    all_rows = []
    for path in files:
        rows = load(path)
        all_rows += rows
        print(os.path.basename(path), len(rows), "lines")
        score("libphonenumber (python phonenumbers %s)" % phonenumbers.__version__, rows, libphonenumber(rows))
        got, exe = ours(rows)
        score("leadbot-phone", rows, got)
    ru = [r for r in all_rows if r.get("region", "RU") == "RU"]
    t = time.perf_counter()
    for _ in range(max(1, REPEAT // 20)):
        libphonenumber(ru)
    py = len(ru) * max(1, REPEAT // 20) / (time.perf_counter() - t)
    text = "".join(r["text"].replace("\n", " ") + "\n" for r in ru) * REPEAT
    t = time.perf_counter()
    subprocess.run([exe, "RU"], input=text.encode(), capture_output=True, check=True)
    rs = len(ru) * REPEAT / (time.perf_counter() - t)
    print(f"throughput on {len(ru)} RU lines: libphonenumber {py:,.0f} lines/s, "
          f"leadbot-phone CLI {rs:,.0f} lines/s (incl. JSON output and process start)")


if __name__ == "__main__":
    main()
