//! Extraction throughput on a realistic mix: every labelled message (phones
//! in all forms and the negatives) plus ordinary chat lines without numbers,
//! which are most of what a lead writes.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use leadbot_phone::Extractor;

const LABELLED: &str = include_str!("../tests/data/phones-labelled.jsonl");
const SAMPLE: &str = include_str!("../tests/data/phones-sample.jsonl");

const CHAT: &[&str] = &[
    "Здравствуйте! Сколько стоит доставка в Ростов?",
    "а можно в рассрочку?",
    "Спасибо, жду звонка",
    "какие размеры есть в наличии",
    "Добрый вечер, интересует кухня под заказ, 3 метра",
    "ок",
    "перезвоните мне пожалуйста завтра после обеда",
    "Цена актуальна? 45 000 за комплект?",
];

fn messages() -> Vec<String> {
    let mut out: Vec<String> = LABELLED
        .lines()
        .chain(SAMPLE.lines())
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["region"] == "RU")
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect();
    // Roughly one message in three carries digits in a real lead chat.
    let n = out.len();
    out.extend(CHAT.iter().cycle().take(n).map(|s| s.to_string()));
    out
}

fn bench(c: &mut Criterion) {
    let extractor = Extractor::new("RU").expect("RU is a known region");
    let msgs = messages();
    let mut g = c.benchmark_group("extract");
    g.throughput(Throughput::Elements(msgs.len() as u64));
    g.bench_function("find_mix", |b| {
        b.iter(|| {
            let mut n = 0;
            for m in &msgs {
                n += extractor.find(black_box(m)).len();
            }
            n
        })
    });
    g.bench_function("analyse_mix", |b| {
        b.iter(|| {
            let mut n = 0;
            for m in &msgs {
                n += extractor.analyse(black_box(m)).found.len();
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
