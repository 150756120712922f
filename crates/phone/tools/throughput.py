#!/usr/bin/env python3
"""End-to-end throughput of `leadbot phones` against Python phonenumbers.

    pip install 'phonenumbers==9.0.*'
    cargo build --release -p leadbot-phone --example phones
    python3 crates/phone/tools/throughput.py [--runs 5] [--bin PATH] [--lines 100000]

Builds 100 000 lines cycled from the RU lines of the labelled sets (sample,
own, families, blind) plus as many ordinary chat lines without numbers (the
same mix as benches/extract.rs), then alternates runs of
 - our binary (`PATH RU < lines > /dev/null`: process start, reading, JSON
   output, wall time; the example is the same `run_cli` as `leadbot phones`),
 - Python: `PhoneNumberMatcher(line, "RU")`, each number formatted E.164 and
   the line's list dumped as JSON, timed in-process (interpreter start and
   module import not counted, which favours Python),
and prints each run and the medians in lines/s and their ratio, by wall time and by CPU
time (user + system: the binary's from its rusage, Python's process time), which moves
less when other work shares the machine.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import phonenumbers

CRATE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = ["phones-sample.jsonl", "phones-labelled.jsonl", "phones-families.jsonl", "phones-blind.jsonl"]
CHAT = [
    "Здравствуйте! Сколько стоит доставка в Ростов?",
    "а можно в рассрочку?",
    "Спасибо, жду звонка",
    "какие размеры есть в наличии",
    "Добрый вечер, интересует кухня под заказ, 3 метра",
    "ок",
    "перезвоните мне пожалуйста завтра после обеда",
    "Цена актуальна? 45 000 за комплект?",
]


def lines(n):
    ru = []
    for name in DATA:
        with open(os.path.join(CRATE, "tests", "data", name), encoding="utf-8") as f:
            for l in f:
                if l.strip():
                    r = json.loads(l)
                    if r.get("region", "RU") == "RU":
                        ru.append(r["text"].replace("\n", " ").replace("\r", " "))
    mix = []
    for i in range(len(ru)):
        mix.append(ru[i])
        mix.append(CHAT[i % len(CHAT)])
    return [mix[i % len(mix)] for i in range(n)]


def python_run(msgs):
    t, c = time.perf_counter(), time.process_time()
    out = []
    for m in msgs:
        found = [phonenumbers.format_number(x.number, phonenumbers.PhoneNumberFormat.E164)
                 for x in phonenumbers.PhoneNumberMatcher(m, "RU")]
        out.append(json.dumps(found))
    return len(msgs) / (time.perf_counter() - t), len(msgs) / (time.process_time() - c)


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def ours_run(exe, path, n):
    with open(path, "rb") as f:
        t, c = time.perf_counter(), child_cpu()
        subprocess.run([exe, "RU"], stdin=f, stdout=subprocess.DEVNULL, check=True)
        return n / (time.perf_counter() - t), n / (child_cpu() - c)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--lines", type=int, default=100_000)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(CRATE, "..", "..", "target"))
    ap.add_argument("--bin", default=os.path.join(target, "release", "examples", "phones"))
    a = ap.parse_args()
    msgs = lines(a.lines)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
        f.write("".join(m + "\n" for m in msgs))
        path = f.name
    py, rs = [], []
    try:
        for i in range(a.runs):
            rs.append(ours_run(a.bin, path, len(msgs)))
            py.append(python_run(msgs))
            print(f"run {i + 1}: leadbot-phone {rs[-1][0]:,.0f} lines/s wall, {rs[-1][1]:,.0f} CPU; "
                  f"python phonenumbers {py[-1][0]:,.0f} wall, {py[-1][1]:,.0f} CPU", flush=True)
    finally:
        os.unlink(path)
    for k, name in [(0, "wall"), (1, "CPU")]:
        mr, mp = statistics.median(r[k] for r in rs), statistics.median(r[k] for r in py)
        print(f"{len(msgs)} lines, {a.runs} runs, {name} time medians: leadbot-phone {mr:,.0f} lines/s, "
              f"python phonenumbers {mp:,.0f} lines/s, ratio {mr / mp:.1f}x")


if __name__ == "__main__":
    sys.exit(main())
