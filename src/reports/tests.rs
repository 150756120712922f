//! Figures from a seeded pipeline history, checked against values computed by hand.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::figures::{self, counters::*};
use super::period::{Period, PeriodKind};
use super::*;
use crate::domain::{ReportCounter, ReportDeal, ReportLead, ReportLine, ReportViolation};
use crate::sla::{DealFacts, DealState, DealTask, StageVisit};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn names() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("bitrix24:7".to_string(), "Анна".to_string()),
        ("bitrix24:9".to_string(), "Борис".to_string()),
    ])
}

fn c(counter: &str, manager: &str, at: &str, amount: f64) -> ReportCounter {
    ReportCounter {
        crm: "bitrix24".into(),
        deal_id: format!("d-{at}"),
        counter: counter.into(),
        manager: Some(manager.into()),
        amount,
        at: t(at),
    }
}

fn v(robot: &str, manager: &str, started: &str, detected: &str) -> ReportViolation {
    ReportViolation {
        crm: "bitrix24".into(),
        deal_id: format!("v-{detected}"),
        robot: robot.into(),
        manager: Some(manager.into()),
        stage: None,
        started_at: t(started),
        due_at: t(detected),
        detected_at: t(detected),
    }
}

struct D<'a> {
    id: &'a str,
    stage: &'a str,
    entered: &'a str,
    manager: &'a str,
    tasks: usize,
    comments: u32,
    touch: Option<&'a str>,
    visit_at: Option<&'a str>,
}

fn deal(d: D<'_>) -> ReportDeal {
    let mut st = DealState::new("bitrix24", d.id);
    let mut fields = BTreeMap::new();
    if let Some(at) = d.visit_at {
        fields.insert("visit_at".to_string(), at.to_string());
    }
    st.facts = Some(DealFacts {
        title: format!("Сделка {}", d.id),
        stage: d.stage.into(),
        stage_since: None,
        responsible: Some(d.manager.into()),
        created_at: t(d.entered),
        fields,
        tags: Default::default(),
        tasks: (0..d.tasks)
            .map(|i| DealTask {
                id: i.to_string(),
                title: "Позвонить".into(),
                due: None,
            })
            .collect(),
        comments: d.comments,
        amount: None,
        modified_at: None,
        crm_required_missing: vec![],
    });
    st.visit = Some(StageVisit {
        stage: d.stage.into(),
        entry: 1,
        entered_at: t(d.entered),
        came_from: None,
    });
    st.last_touch_at = d.touch.map(t);
    ReportDeal {
        crm: "bitrix24".into(),
        deal_id: d.id.into(),
        state: serde_json::to_value(&st).unwrap(),
    }
}

fn d<'a>(id: &'a str, stage: &'a str, entered: &'a str) -> D<'a> {
    D {
        id,
        stage,
        entered,
        manager: "7",
        tasks: 1,
        comments: 1,
        touch: None,
        visit_at: None,
    }
}

/// The week of 30.11–06.12.2026: Moscow's runs [29.11 21:00Z, 06.12 21:00Z), Tashkent's
/// [29.11 19:00Z, 06.12 19:00Z); the rows at 29.11 20:30Z and 06.12 19:30–20:00Z fall in
/// different weeks in the two zones.
fn history() -> ReportInput {
    let counters = vec![
        c(QUALIFICATION_ENTERED, "7", "2026-11-29T20:30:00Z", 1.0),
        c(QUALIFICATION_ENTERED, "7", "2026-11-30T07:00:00Z", 1.0),
        c(QUALIFICATION_ENTERED, "7", "2026-12-01T07:00:00Z", 1.0),
        c(QUALIFICATION_TO_MEETING, "7", "2026-12-02T07:00:00Z", 1.0),
        c(QUALIFICATION_TO_MEETING, "7", "2026-12-06T20:00:00Z", 1.0),
        c(QUALIFICATION_ENTERED, "9", "2026-11-30T08:00:00Z", 1.0),
        c(QUALIFICATION_ENTERED, "9", "2026-11-30T08:00:01Z", 1.0),
        c(QUALIFICATION_TO_MEETING, "9", "2026-12-03T08:00:00Z", 1.0),
        c(NO_SHOWS, "7", "2026-12-01T10:00:00Z", 1.0),
        c(NO_SHOWS, "7", "2026-12-02T10:00:00Z", 1.0),
        c(RETURNS, "7", "2026-12-04T10:00:00Z", 1.0),
        c(NO_SHOWS, "7", "2026-12-06T19:30:00Z", 1.0),
        c(REPEAT_CALLS, "9", "2026-12-01T09:00:00Z", 1.0),
        c(REPEAT_CALLS, "9", "2026-12-01T09:10:00Z", 1.0),
        c(REPEAT_CALLS, "9", "2026-12-02T09:00:00Z", 1.0),
        c(REPEAT_CALLS, "9", "2026-12-03T09:00:00Z", 1.0),
        c(REPEAT_BOOKINGS, "9", "2026-12-01T09:30:00Z", 1.0),
        c(REPEAT_BOOKINGS, "9", "2026-12-03T09:30:00Z", 1.0),
        c(REPEAT_REVENUE, "9", "2026-12-04T09:30:00Z", 1_500_000.0),
        c(REPEAT_REVENUE, "9", "2026-12-05T09:30:00Z", 2_500_000.0),
        // Not a counter the reports know.
        c("something_else", "9", "2026-12-05T09:30:00Z", 5.0),
    ];
    let violations = vec![
        v("deal_speed_36h", "7", "2026-12-01T06:00:00Z", "2026-12-02T18:00:00Z"),
        v(
            "visit_not_confirmed",
            "9",
            "2026-12-03T07:00:00Z",
            "2026-12-03T10:00:00Z",
        ),
    ];
    let deals = vec![
        deal(D {
            visit_at: Some("2026-12-03T13:00:00Z"),
            ..d("v1", "Назначено", "2026-12-01T10:00:00Z")
        }),
        deal(D {
            visit_at: Some("2026-12-04T10:00:00+03:00"),
            ..d("v2", "Назначено", "2026-12-01T10:00:00Z")
        }),
        deal(D {
            visit_at: Some("2026-12-08T10:00:00Z"),
            ..d("v3", "Назначено", "2026-12-01T10:00:00Z")
        }),
    ];
    ReportInput {
        deals,
        violations,
        counters,
        leads: Vec::new(),
        csat: Vec::new(),
    }
}

fn week(tz: &str) -> (Tz, Period) {
    let tz: Tz = tz.parse().unwrap();
    let p = Period::containing(PeriodKind::Week, tz, t("2026-12-02T12:00:00Z"));
    (tz, p)
}

#[test]
fn weekly_figures_in_moscow() {
    let (_, p) = week("Europe/Moscow");
    let o = ReportOptions::default();
    let h = history();
    let f = figures::pipeline(&o, &p, &h.deals, &h.counters, &h.violations, &names());
    // Анна: entered 30.11 07:00 and 01.12 (29.11 20:30Z is Sunday 23:30 in Moscow), meetings
    // 02.12 and 06.12 20:00Z (Sunday 23:00): 2 / 2. Борис: 1 / 2. Everyone: 3 / 4.
    let anna = &f.conversion[0];
    assert_eq!(
        (anna.manager.name.as_str(), anna.qualified, anna.meetings),
        ("Анна", 2, 2)
    );
    assert_eq!(anna.pct, Some(100.0));
    let boris = &f.conversion[1];
    assert_eq!((boris.qualified, boris.meetings, boris.pct), (2, 1, Some(50.0)));
    assert_eq!(f.conversion_total.pct, Some(75.0));
    assert!(!f.conversion_total.alert);
    assert!(f.alerts.iter().all(|a| !a.contains("конверсия")), "{:?}", f.alerts);
    // Three no-shows (one Sunday 22:30), one return: 33.3 %.
    assert_eq!((f.returns_total.no_shows, f.returns_total.returns), (3, 1));
    assert!((f.returns_total.pct.unwrap() - 100.0 / 3.0).abs() < 1e-9);
    // Repeat sales: 4 calls, 2 bookings (50 %), 4 000 000 revenue; the plan of 40 a month is
    // 40 × 7 / 30 for a week starting in November.
    assert_eq!((f.repeat_total.calls, f.repeat_total.bookings), (4, 2));
    assert_eq!(f.repeat_total.pct, Some(50.0));
    assert_eq!(f.repeat_total.revenue, 4_000_000.0);
    assert!((f.bookings_plan - 28.0 / 3.0).abs() < 1e-9);
    assert!((f.bookings_plan_pct.unwrap() - 2.0 / (28.0 / 3.0) * 100.0).abs() < 1e-9);
    assert!((f.revenue_target_pct.unwrap() - 4.0 / (280.0 / 30.0) * 100.0).abs() < 1e-9);
    // One slow deal, 36 h from the first reply.
    assert_eq!(f.slow_deals.len(), 1);
    assert_eq!(f.slow_deals[0].hours, 36.0);
    assert_eq!(f.slow_deals[0].manager.name, "Анна");
    // Two visits in the week (the third is on 08.12), one not confirmed.
    assert_eq!(
        (f.visits.visits, f.visits.unconfirmed, f.visits.confirmed_pct),
        (2, 1, Some(50.0))
    );
}

#[test]
fn weekly_figures_in_tashkent() {
    let (_, p) = week("Asia/Tashkent");
    let o = ReportOptions::default();
    let h = history();
    let f = figures::pipeline(&o, &p, &h.deals, &h.counters, &h.violations, &names());
    // 29.11 20:30Z is Monday 01:30 in Tashkent: in; 06.12 20:00Z is next Monday 01:00: out.
    let anna = &f.conversion[0];
    assert_eq!((anna.qualified, anna.meetings), (3, 1));
    assert!((anna.pct.unwrap() - 100.0 / 3.0).abs() < 1e-9);
    assert!(anna.alert);
    // Everyone: 2 / 5 = 40 %, exactly the threshold: no alert.
    assert_eq!((f.conversion_total.qualified, f.conversion_total.meetings), (5, 2));
    assert_eq!(f.conversion_total.pct, Some(40.0));
    assert!(!f.conversion_total.alert);
    assert_eq!(
        f.alerts.iter().filter(|a| a.starts_with("Анна")).count(),
        1,
        "{:?}",
        f.alerts
    );
    // The Sunday-night no-show is next week's here.
    assert_eq!((f.returns_total.no_shows, f.returns_total.returns), (2, 1));
    assert_eq!(f.returns_total.pct, Some(50.0));
}

#[test]
fn a_raised_threshold_alerts_on_the_total() {
    let (tz, p) = week("Europe/Moscow");
    let o = ReportOptions {
        conversion_alert_below_pct: 80.0,
        ..ReportOptions::default()
    };
    let names = names();
    let ctx = ReportContext {
        options: &o,
        time_zone: tz,
        names: &names,
        now: t("2026-12-07T06:00:00Z"),
    };
    let r = build(ReportKind::Weekly, &ctx, &p, &history());
    assert_eq!(r.sections[0].id, "alerts");
    assert!(r.alerts[0].contains("75.0 %"), "{:?}", r.alerts);
    let conv = r.section("conversion").unwrap();
    // Анна, Борис, Итого.
    assert_eq!(conv.rows.len(), 3);
    assert_eq!(conv.rows[1][3], Cell::Num(50.0));
    assert_eq!(conv.rows[1][4], Cell::text("Да"));
    assert_eq!(conv.rows[2][0], Cell::text("Итого"));
    let plan = r.section("repeat_plan").unwrap();
    assert_eq!(plan.rows[0][2], Cell::Num(9.3));
    assert_eq!(plan.rows[0][3], Cell::Num(21.4));
    assert_eq!(plan.rows[1][3], Cell::Num(42.9));
}

#[test]
fn a_calendar_month_takes_the_whole_plan() {
    let tz: Tz = "Asia/Tashkent".parse().unwrap();
    let p = Period::containing(PeriodKind::Month, tz, t("2026-12-10T00:00:00Z"));
    let h = history();
    let f = figures::pipeline(
        &ReportOptions::default(),
        &p,
        &h.deals,
        &h.counters,
        &h.violations,
        &names(),
    );
    assert_eq!(f.bookings_plan, 40.0);
    assert_eq!(f.revenue_target, 40_000_000.0);
    assert_eq!(f.bookings_plan_pct, Some(5.0));
    assert_eq!(f.revenue_target_pct, Some(10.0));
}

#[test]
fn end_of_day_lists_and_violations() {
    let msk: Tz = "Europe/Moscow".parse().unwrap();
    let day = Period::containing(PeriodKind::Day, msk, t("2026-12-02T16:00:00Z"));
    assert_eq!(day.from, t("2026-12-01T21:00:00Z"));
    let now = t("2026-12-02T16:00:00Z"); // 19:00 in Moscow
    let deals = vec![
        deal(D {
            tasks: 0,
            comments: 0,
            ..d("d1", "Неразобранное", "2026-12-02T06:00:00Z")
        }),
        deal(D {
            manager: "9",
            touch: Some("2026-12-01T09:00:00Z"),
            comments: 2,
            ..d("d2", "Квалификация", "2026-11-30T10:00:00Z")
        }),
        deal(D {
            tasks: 0,
            ..d("d3", "Успешно", "2026-11-01T10:00:00Z")
        }),
        deal(D {
            tasks: 0,
            ..d("d4", "Назначено", "2026-12-02T12:00:00Z")
        }),
        // In «Неразобранное» for 20 minutes only: not stuck yet.
        deal(D {
            ..d("d5", "Неразобранное", "2026-12-02T15:40:00Z")
        }),
    ];
    let violations = vec![
        v(
            "first_contact_yellow",
            "7",
            "2026-12-02T06:00:00Z",
            "2026-12-02T06:15:00Z",
        ),
        v(
            "first_contact_yellow",
            "7",
            "2026-12-02T07:00:00Z",
            "2026-12-02T07:15:00Z",
        ),
        v("touches_24h", "7", "2026-12-01T07:00:00Z", "2026-12-02T07:00:00Z"),
        v(
            "qualification_yellow",
            "9",
            "2026-12-02T08:00:00Z",
            "2026-12-02T08:30:00Z",
        ),
        // 23:59 the day before in Moscow.
        v(
            "qualification_yellow",
            "9",
            "2026-12-01T20:00:00Z",
            "2026-12-01T20:59:00Z",
        ),
    ];
    let o = ReportOptions::default();
    let names = names();
    let ctx = ReportContext {
        options: &o,
        time_zone: msk,
        names: &names,
        now,
    };
    let input = ReportInput {
        deals,
        violations,
        ..ReportInput::default()
    };
    let r = build(ReportKind::EndOfDay, &ctx, &day, &input);
    let ids = |id: &str| -> Vec<String> { r.section(id).unwrap().rows.iter().map(|row| row[2].display()).collect() };
    assert_eq!(ids("without_task"), ["d1", "d4"]);
    assert_eq!(ids("without_comment"), ["d1"]);
    assert_eq!(ids("stuck_unsorted"), ["d1"]);
    // d2: last touch 31 h ago.
    assert_eq!(ids("stale"), ["d2"]);
    let stale = r.section("stale").unwrap();
    assert_eq!(stale.rows[0][3], Cell::text("Борис"));
    assert_eq!(stale.rows[0][6], Cell::text("01.12.2026 12:00"));
    let total = r.section("violations_total").unwrap();
    assert_eq!(
        total.rows,
        vec![
            vec![Cell::text("Анна"), Cell::Int(3)],
            vec![Cell::text("Борис"), Cell::Int(1)]
        ]
    );
    let by = r.section("violations").unwrap();
    assert_eq!(by.rows[0][2], Cell::Int(2));
    assert_eq!(r.alerts, ["Нарушений за день: 4"]);
}

fn line(inbound: bool, by_person: bool, at: &str, text: &str) -> ReportLine {
    ReportLine {
        inbound,
        by_person,
        at: t(at),
        text: text.into(),
    }
}

fn lead(
    id: i64,
    channel: &str,
    status: &str,
    phone: Option<&str>,
    created: &str,
    lines: Vec<ReportLine>,
) -> ReportLead {
    ReportLead {
        id,
        channel: channel.into(),
        status: status.into(),
        phone: phone.map(str::to_string),
        created_at: t(created),
        lines,
    }
}

#[test]
fn per_channel_figures() {
    let (_, p) = week("Europe/Moscow");
    let leads = vec![
        lead(
            1,
            "telegram",
            "assigned",
            Some("+79161234567"),
            "2026-12-01T10:00:00Z",
            vec![
                line(true, false, "2026-12-01T10:00:00Z", "Здравствуйте"),
                line(false, false, "2026-12-01T10:00:01.200Z", "Добрый день! Ваш телефон?"),
                line(true, false, "2026-12-01T10:00:30Z", "мой номер 8 916 123-45-67"),
                line(false, false, "2026-12-01T10:00:32Z", "Спасибо!"),
            ],
        ),
        lead(
            2,
            "telegram",
            "low_quality",
            None,
            "2026-12-01T11:00:00Z",
            vec![
                line(true, false, "2026-12-01T11:00:00Z", "цена?"),
                line(false, false, "2026-12-01T11:00:05Z", "1000 ₽"),
                line(true, false, "2026-12-01T11:10:00Z", "а скидка?"),
                line(false, true, "2026-12-01T11:10:01Z", "менеджер ответил"),
            ],
        ),
        lead(3, "vk", "queued", Some("+79990001122"), "2026-12-02T10:00:00Z", vec![]),
        lead(
            4,
            "vk",
            "assigned",
            Some("+79990001123"),
            "2026-12-07T10:00:00Z",
            vec![],
        ),
    ];
    let f = figures::channels(&ReportOptions::default(), &p, &leads);
    assert_eq!(f.len(), 2);
    let tg = &f[0];
    assert_eq!(tg.channel, "telegram");
    assert_eq!((tg.leads, tg.with_phone, tg.to_manager), (2, 1, 1));
    assert_eq!((tg.phone_pct, tg.to_manager_pct), (Some(50.0), Some(50.0)));
    // The phone came in the client's second line, 30 s after the lead.
    assert_eq!((tg.phone_by_bot, tg.time_to_phone_median_s), (1, Some(30.0)));
    // The bot answered 1.2 s, 2 s and 5 s; the person's line is not the bot's.
    assert_eq!((tg.replies, tg.replies_within_sla), (3, 2));
    assert!((tg.reply_sla_pct.unwrap() - 200.0 / 3.0).abs() < 1e-9);
    assert_eq!((tg.reply_p50_s, tg.reply_p95_s), (Some(2.0), Some(5.0)));
    let vk = &f[1];
    assert_eq!((vk.leads, vk.with_phone, vk.phone_by_bot, vk.replies), (1, 1, 0, 0));
    assert_eq!(vk.time_to_phone_median_s, None);
    assert_eq!(vk.reply_sla_pct, None);
}

#[test]
fn a_phone_split_over_two_messages() {
    let l = lead(
        1,
        "telegram",
        "assigned",
        Some("+79161234567"),
        "2026-12-01T10:00:00Z",
        vec![
            line(true, false, "2026-12-01T10:00:10Z", "+7 916"),
            line(true, false, "2026-12-01T10:00:20Z", "123 45 67"),
        ],
    );
    assert_eq!(figures::phone_given_at(&l), Some(t("2026-12-01T10:00:20Z")));
}

#[test]
fn every_format_holds_the_same_cells() {
    let (tz, p) = week("Europe/Moscow");
    let o = ReportOptions::default();
    let names = names();
    let ctx = ReportContext {
        options: &o,
        time_zone: tz,
        names: &names,
        now: t("2026-12-07T06:00:00Z"),
    };
    let r = build(ReportKind::Weekly, &ctx, &p, &history());
    let csv = render::csv(&r);
    assert!(csv.starts_with('\u{feff}'));
    assert!(csv.contains("Конверсия «Квалификация → Встреча» (порог 40 %)"));
    assert!(csv.contains("Анна,2,2,100,"), "{csv}");
    let html = render::html(&r);
    assert!(html.contains("<th>Конверсия, %</th>"), "{html}");
    let text = render::summary(&r);
    assert!(text.contains("Конверсия «Квалификация → Встреча»: 75 %"), "{text}");
    let xlsx = render::xlsx(&r).unwrap();
    assert_eq!(&xlsx[..2], b"PK");
    let _ = NaiveDate::from_ymd_opt(2026, 12, 7);
}

#[test]
fn a_formula_like_text_stays_text_in_csv() {
    let mut r = Report::new(
        ReportKind::Channels,
        "UTC".parse().unwrap(),
        &Period::containing(PeriodKind::Day, "UTC".parse().unwrap(), t("2026-12-01T00:00:00Z")),
        t("2026-12-01T00:00:00Z"),
    );
    r.sections.push(Section {
        id: "x".into(),
        title: "x".into(),
        columns: vec!["a".into()],
        rows: vec![vec![Cell::text("=HYPERLINK(\"x\")")]],
    });
    assert!(render::csv(&r).contains("\"'=HYPERLINK(\"\"x\"\")\""));
}

#[test]
fn satisfaction_scores_by_channel_manager_and_service() {
    let (tz, p) = week("Europe/Moscow");
    let o = ReportOptions::default();
    let names = names();
    let ctx = ReportContext {
        options: &o,
        time_zone: tz,
        names: &names,
        now: t("2026-12-07T06:00:00Z"),
    };
    let csat = |channel: &str, manager: Option<&str>, service: &str, count: i64, sum: i64| crate::domain::ReportCsat {
        channel: channel.into(),
        manager_id: manager.map(String::from),
        service: Some(service.into()),
        count,
        sum,
    };
    let input = ReportInput {
        csat: vec![
            csat("telegram", Some("bitrix24:7"), "haircut", 4, 18),
            csat("webchat", None, "coloring", 3, 10),
        ],
        ..ReportInput::default()
    };
    let r = build(ReportKind::Channels, &ctx, &p, &input);
    let s = r.section("csat").expect("a CSAT table");
    let rows: Vec<Vec<String>> = s
        .rows
        .iter()
        .map(|row| row.iter().map(|c| c.display()).collect())
        .collect();
    assert_eq!(rows[0][0], "telegram");
    assert_eq!(rows[0][3], "4");
    assert_eq!(rows[0][4], "4.5");
    assert_eq!(rows[1][1], "—");
    assert_eq!(rows[1][4], "3.33");
    // No scores (no bookings): no table.
    let r = build(ReportKind::Channels, &ctx, &p, &ReportInput::default());
    assert!(r.section("csat").is_none());
}
