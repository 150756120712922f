//! Throughput of the pure dialog step (no I/O): one client message through `Dialog::step`.
//! Run: `cargo bench --bench dialog`.

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use leadbot::config::Config;
use leadbot::dialog::{Dialog, DialogState, Event, Handover, PhoneReader};
use leadbot::domain::LeadId;

fn dialog() -> Dialog {
    let cfg = Config::load(None).expect("defaults");
    let reader = PhoneReader::new(
        leadbot_phone::Extractor::new("RU").expect("RU"),
        leadbot_phone::Policy::default(),
    );
    Dialog::new(cfg.script, reader, cfg.service.outcome.on_failure, Handover::none()).expect("dialog")
}

fn bench(c: &mut Criterion) {
    let d = dialog();
    let now = Utc::now();
    let (started, _) = d.step(
        DialogState::new(LeadId(1), "webchat", Some("Ольга".into()), now),
        Event::Intake {
            phone: None,
            text: None,
            channel_can_talk: true,
        },
        now,
    );
    let messages = [
        "Здравствуйте, сколько стоит и где вы находитесь?",
        "не дам",
        "8 918 12",
        "мой номер +7 918 123-45-67",
        "а во сколько вы открываетесь в субботу?",
    ];
    let mut group = c.benchmark_group("dialog_step");
    group.throughput(Throughput::Elements(messages.len() as u64));
    group.bench_function("client_messages", |b| {
        b.iter(|| {
            for m in messages {
                let (s, effects) = d.step(started.clone(), Event::ClientMessage { text: m.into() }, now);
                std::hint::black_box((s, effects));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
