//! The cost of a report without I/O: a month of a busy account (20 managers, 20,000 counter
//! increments, 2,000 violations, 5,000 tracked deals, 10,000 leads with 6-line conversations)
//! through the figures and into XLSX. Run: `cargo bench --bench reports`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use criterion::{criterion_group, criterion_main, Criterion};
use leadbot::domain::{ReportCounter, ReportDeal, ReportLead, ReportLine, ReportViolation};
use leadbot::reports::{build, render, Period, PeriodKind, ReportContext, ReportInput, ReportKind, ReportOptions};
use leadbot::sla::{DealFacts, DealState, StageVisit};

const COUNTERS: [&str; 7] = [
    "qualification_entered",
    "qualification_to_meeting",
    "no_shows",
    "returns",
    "repeat_calls",
    "repeat_bookings",
    "repeat_revenue",
];

fn input(start: DateTime<Utc>) -> ReportInput {
    let at = |i: usize| start + Duration::seconds((i as i64 * 97) % (28 * 86_400));
    let manager = |i: usize| Some((i % 20).to_string());
    let counters = (0..20_000)
        .map(|i| ReportCounter {
            crm: "bitrix24".into(),
            deal_id: i.to_string(),
            counter: COUNTERS[i % COUNTERS.len()].into(),
            manager: manager(i),
            amount: 1.0,
            at: at(i),
        })
        .collect();
    let violations = (0..2_000)
        .map(|i| ReportViolation {
            crm: "bitrix24".into(),
            deal_id: i.to_string(),
            robot: ["first_contact_yellow", "deal_speed_36h", "visit_not_confirmed"][i % 3].into(),
            manager: manager(i),
            stage: None,
            started_at: at(i) - Duration::hours(36),
            due_at: at(i),
            detected_at: at(i),
        })
        .collect();
    let stages = ["Неразобранное", "Квалификация", "Назначено", "Успешно"];
    let deals = (0..5_000)
        .map(|i| {
            let mut st = DealState::new("bitrix24", &i.to_string());
            st.facts = Some(DealFacts {
                title: format!("Сделка {i}"),
                stage: stages[i % 4].into(),
                stage_since: None,
                responsible: manager(i),
                created_at: at(i),
                fields: BTreeMap::from([("visit_at".to_string(), at(i + 7).to_rfc3339())]),
                tags: Default::default(),
                tasks: vec![],
                comments: (i % 3) as u32,
                amount: None,
                modified_at: None,
                crm_required_missing: vec![],
            });
            st.visit = Some(StageVisit {
                stage: stages[i % 4].into(),
                entry: 1,
                entered_at: at(i),
                came_from: None,
            });
            ReportDeal {
                crm: "bitrix24".into(),
                deal_id: i.to_string(),
                state: serde_json::to_value(st).unwrap(),
            }
        })
        .collect();
    let leads = (0..10_000)
        .map(|i| {
            let t = at(i);
            let line = |inbound: bool, s: i64, text: &str| ReportLine {
                inbound,
                by_person: false,
                at: t + Duration::milliseconds(s),
                text: text.into(),
            };
            ReportLead {
                id: i as i64,
                channel: ["telegram", "vk", "whatsapp", "webchat"][i % 4].into(),
                status: ["assigned", "low_quality", "queued"][i % 3].into(),
                phone: (i % 3 != 1).then(|| "+79161234567".to_string()),
                created_at: t,
                lines: vec![
                    line(true, 0, "Здравствуйте, сколько стоит?"),
                    line(false, 900, "Добрый день! Оставьте телефон"),
                    line(true, 30_000, "а где вы находитесь"),
                    line(false, 31_200, "Мы на Ленина, 1"),
                    line(true, 60_000, "8 916 123-45-67"),
                    line(false, 60_800, "Спасибо!"),
                ],
            }
        })
        .collect();
    ReportInput {
        deals,
        violations,
        counters,
        leads,
        csat: Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let tz: Tz = "Asia/Tashkent".parse().unwrap();
    let now = DateTime::parse_from_rfc3339("2026-12-01T04:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let month = Period::containing(PeriodKind::Month, tz, now - Duration::days(2));
    let day = Period::containing(PeriodKind::Day, tz, now);
    let rows = input(month.from);
    let opts = ReportOptions::default();
    let names = (0..20)
        .map(|i| (format!("bitrix24:{i}"), format!("Менеджер {i}")))
        .collect::<BTreeMap<_, _>>();
    let ctx = ReportContext {
        options: &opts,
        time_zone: tz,
        names: &names,
        now,
    };
    let mut g = c.benchmark_group("reports");
    g.sample_size(10);
    g.bench_function("monthly_figures", |b| {
        b.iter(|| build(ReportKind::Monthly, &ctx, &month, &rows))
    });
    g.bench_function("end_of_day_figures", |b| {
        b.iter(|| build(ReportKind::EndOfDay, &ctx, &day, &rows))
    });
    let report = build(ReportKind::Monthly, &ctx, &month, &rows);
    g.bench_function("monthly_xlsx", |b| b.iter(|| render::xlsx(&report).unwrap()));
    let eod = build(ReportKind::EndOfDay, &ctx, &day, &rows);
    g.bench_function("end_of_day_xlsx", |b| b.iter(|| render::xlsx(&eod).unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
