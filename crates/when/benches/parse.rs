//! What reading one client message costs: `parse` over messages as clients
//! write them (with and without a time), and `windows` over two weeks.
//! Run: `cargo bench -p leadbot-when --bench parse`.

use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

const MESSAGES: &[&str] = &[
    "Здравствуйте! Можно записаться на завтра на 15:00?",
    "в субботу утром",
    "Запишите меня пожалуйста на 14.12 в 15.00 к мастеру Ольге, стрижка + укладка, 2500 руб",
    "Здравствуйте, меня зовут Анна, мой телефон 8 912 345 67 89, хочу записаться на маникюр в субботу в 12",
    "на следующей неделе в четверг или пятницу вечером",
    "сколько стоит маникюр с покрытием?",
    "спасибо, до встречи!",
    "+7 (999) 000 11 22",
    "в эту субботу не могу, в следующую",
    "полчетвёртого",
];

fn bench(c: &mut Criterion) {
    let now: DateTime<Utc> = "2026-12-02T07:00:00Z".parse().expect("now");
    let tz = chrono_tz::Europe::Moscow;
    c.bench_function("parse 10 messages", |b| {
        b.iter(|| {
            for m in MESSAGES {
                black_box(leadbot_when::parse(black_box(m), now, tz));
            }
        })
    });
    let wish = leadbot_when::parse("в будни после 19", now, tz).expect("a wish");
    c.bench_function("windows of \"в будни после 19\" over 14 days", |b| {
        b.iter(|| black_box(wish.windows(now, tz, 14)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
