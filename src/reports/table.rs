//! A report as titled tables with Russian headings: what every format renders, so JSON, CSV
//! and XLSX hold the same cells.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::figures::{ChannelFigures, DealLine, EndOfDay, Pipeline, Who};
use super::{Period, ReportKind, ReportOptions};

/// One cell: text, a whole number, a number (rounded once, here), or nothing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    Text(String),
    Int(i64),
    Num(f64),
    Empty,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }
    pub fn int(n: impl Into<i64>) -> Cell {
        Cell::Int(n.into())
    }
    /// Rounded to `places` decimals.
    pub fn num(x: f64, places: i32) -> Cell {
        let f = 10f64.powi(places);
        Cell::Num((x * f).round() / f)
    }
    pub fn opt(x: Option<f64>, places: i32) -> Cell {
        x.map_or(Cell::Empty, |x| Cell::num(x, places))
    }
    /// As CSV and the HTML body write it.
    pub fn display(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Num(x) => x.to_string(),
            Cell::Empty => String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    /// Stable id (`conversion`, `channels`...).
    pub id: String,
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub kind: ReportKind,
    pub title: String,
    pub time_zone: String,
    pub period: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    pub alerts: Vec<String>,
    pub sections: Vec<Section>,
    #[serde(skip)]
    tz: Tz,
}

impl Report {
    pub fn new(kind: ReportKind, tz: Tz, period: &Period, now: DateTime<Utc>) -> Report {
        Report {
            kind,
            title: kind.title().to_string(),
            time_zone: tz.name().to_string(),
            period: period.label(),
            from: period.from,
            to: period.to,
            generated_at: now,
            alerts: Vec::new(),
            sections: Vec::new(),
            tz,
        }
    }

    pub fn section(&self, id: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.id == id)
    }

    fn add(&mut self, id: &str, title: &str, columns: &[&str], rows: Vec<Vec<Cell>>) {
        self.sections.push(Section {
            id: id.to_string(),
            title: title.to_string(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows,
        });
    }

    /// Local time as the tables write it.
    fn time(&self, t: Option<DateTime<Utc>>) -> Cell {
        t.map_or(Cell::Empty, |t| {
            Cell::text(t.with_timezone(&self.tz).format("%d.%m.%Y %H:%M").to_string())
        })
    }

    /// Puts the alerts first, as a table of their own.
    pub(super) fn finish(&mut self) {
        if !self.alerts.is_empty() {
            let rows = self.alerts.iter().map(|a| vec![Cell::text(a.clone())]).collect();
            self.sections.insert(
                0,
                Section {
                    id: "alerts".into(),
                    title: "Предупреждения".into(),
                    columns: vec!["Предупреждение".into()],
                    rows,
                },
            );
        }
    }
}

/// A robot's id as the head of sales reads it (the shipped robots; others by id).
pub fn robot_label(id: &str) -> String {
    match id {
        "first_contact_yellow" => "Первый контакт > 15 мин («Неразобранное»)",
        "first_contact_urgent" => "Первый контакт > 30 мин («Неразобранное»)",
        "touches_24h" => "Меньше 3 касаний за сутки",
        "qualified_required_fields" => "Не заполнены поля для «Квалифицирован»",
        "qualification_yellow" => "Первый контакт > 30 мин («Квалификация»)",
        "qualification_head" => "Первый контакт > 2 ч («Квалификация»)",
        "deal_speed_36h" => "> 36 ч от первого ответа до «Назначено»/«Отказ»",
        "appointed_required_fields" => "Не заполнены поля для «Назначено»",
        "visit_not_confirmed" => "Визит не подтверждён",
        other => other,
    }
    .to_string()
}

fn name(w: &Who) -> Cell {
    Cell::text(w.name.clone())
}

fn deal_rows(r: &Report, list: &[DealLine], with_last_move: bool) -> Vec<Vec<Cell>> {
    list.iter()
        .map(|d| {
            let mut row = vec![
                Cell::text(d.title.clone()),
                Cell::text(d.crm.clone()),
                Cell::text(d.deal_id.clone()),
                name(&d.manager),
                Cell::text(d.stage.clone()),
                r.time(d.since),
            ];
            if with_last_move {
                row.push(r.time(d.last_move));
            }
            row
        })
        .collect()
}

const DEAL_COLUMNS: [&str; 6] = ["Сделка", "CRM", "ID", "Менеджер", "Этап", "На этапе с"];

pub(super) fn end_of_day(r: &mut Report, f: &EndOfDay) {
    let mut rows = Vec::new();
    for m in &f.violations {
        for (robot, n) in &m.by_robot {
            rows.push(vec![name(&m.manager), Cell::text(robot_label(robot)), Cell::int(*n)]);
        }
    }
    r.add(
        "violations",
        "Нарушения за день по менеджерам",
        &["Менеджер", "Нарушение", "Количество"],
        rows,
    );
    let totals = f
        .violations
        .iter()
        .map(|m| vec![name(&m.manager), Cell::int(m.total)])
        .collect();
    r.add(
        "violations_total",
        "Нарушений по менеджерам, всего",
        &["Менеджер", "Нарушений"],
        totals,
    );
    let lists: [(&str, &str, &[DealLine]); 3] = [
        ("without_task", "Сделки без задачи", &f.without_task),
        ("without_comment", "Сделки без комментария", &f.without_comment),
        ("stuck_unsorted", "Висят в «Неразобранное»", &f.stuck_unsorted),
    ];
    for (id, title, list) in lists {
        let rows = deal_rows(r, list, false);
        r.add(id, title, &DEAL_COLUMNS, rows);
    }
    let rows = deal_rows(r, &f.stale, true);
    let mut cols = DEAL_COLUMNS.to_vec();
    cols.push("Последнее движение");
    r.add("stale", "Сделки без движения", &cols, rows);
}

pub(super) fn pipeline(r: &mut Report, f: &Pipeline, o: &ReportOptions) {
    let yes = |b: bool| Cell::text(if b { "Да" } else { "" });
    let rows: Vec<Vec<Cell>> = f
        .conversion
        .iter()
        .chain(std::iter::once(&f.conversion_total))
        .map(|c| {
            vec![
                name(&c.manager),
                Cell::int(c.qualified),
                Cell::int(c.meetings),
                Cell::opt(c.pct, 1),
                yes(c.alert),
            ]
        })
        .collect();
    r.add(
        "conversion",
        &format!("Конверсия «Квалификация → Встреча» (порог {:.0} %)", f.threshold_pct),
        &["Менеджер", "Квалификация", "Встреча", "Конверсия, %", "Ниже порога"],
        rows,
    );
    let rows = f
        .slow_deals
        .iter()
        .map(|s| {
            vec![
                Cell::text(s.crm.clone()),
                Cell::text(s.deal_id.clone()),
                name(&s.manager),
                r.time(Some(s.first_reply_at)),
                r.time(Some(s.detected_at)),
                Cell::num(s.hours, 1),
            ]
        })
        .collect();
    r.add(
        "slow_deals",
        "Сделки > 36 ч от первого ответа до «Назначено»/«Отказ»",
        &[
            "CRM",
            "ID",
            "Менеджер",
            "Первый ответ клиента",
            "Зафиксировано",
            "Часов",
        ],
        rows,
    );
    r.add(
        "visits",
        "Подтверждение визитов",
        &["Визитов", "Не подтверждено", "Подтверждено, %"],
        vec![vec![
            Cell::int(f.visits.visits),
            Cell::int(f.visits.unconfirmed),
            Cell::opt(f.visits.confirmed_pct, 1),
        ]],
    );
    let rows = f
        .returns
        .iter()
        .chain(std::iter::once(&f.returns_total))
        .map(|x| {
            vec![
                name(&x.manager),
                Cell::int(x.no_shows),
                Cell::int(x.returns),
                Cell::opt(x.pct, 1),
            ]
        })
        .collect();
    r.add(
        "returns",
        "Срывы и возвраты",
        &["Менеджер", "Срывы", "Возвраты", "% возврата"],
        rows,
    );
    let revenue = format!("Выручка, {}", o.currency);
    let rows = f
        .repeat
        .iter()
        .chain(std::iter::once(&f.repeat_total))
        .map(|x| {
            vec![
                name(&x.manager),
                Cell::int(x.calls),
                Cell::int(x.bookings),
                Cell::opt(x.pct, 1),
                Cell::num(x.revenue, 2),
            ]
        })
        .collect();
    r.add(
        "repeat",
        "Повторные продажи: «Повторный звонок → Запись»",
        &[
            "Менеджер",
            "Повторные звонки",
            "Записи",
            "Конверсия, %",
            revenue.as_str(),
        ],
        rows,
    );
    r.add(
        "repeat_plan",
        "План повторных продаж",
        &["Показатель", "Факт", "План", "Выполнение, %"],
        vec![
            vec![
                Cell::text("Повторные записи"),
                Cell::int(f.repeat_total.bookings),
                Cell::num(f.bookings_plan, 1),
                Cell::opt(f.bookings_plan_pct, 1),
            ],
            vec![
                Cell::text(revenue.clone()),
                Cell::num(f.repeat_total.revenue, 2),
                Cell::num(f.revenue_target, 2),
                Cell::opt(f.revenue_target_pct, 1),
            ],
        ],
    );
}

pub(super) fn channels(r: &mut Report, list: &[ChannelFigures]) {
    let rows = list
        .iter()
        .map(|c| {
            vec![
                Cell::text(c.channel.clone()),
                Cell::int(c.leads),
                Cell::int(c.with_phone),
                Cell::opt(c.phone_pct, 1),
                Cell::int(c.to_manager),
                Cell::opt(c.to_manager_pct, 1),
                Cell::opt(c.time_to_phone_median_s, 1),
                Cell::int(c.replies),
                Cell::int(c.replies_within_sla),
                Cell::opt(c.reply_sla_pct, 1),
                Cell::opt(c.reply_p50_s, 3),
                Cell::opt(c.reply_p95_s, 3),
            ]
        })
        .collect();
    r.add(
        "channels",
        "Каналы",
        &[
            "Канал",
            "Лидов",
            "С телефоном",
            "Конверсия в телефон, %",
            "Передано менеджеру",
            "Конверсия в передачу, %",
            "Время до телефона (медиана), с",
            "Ответов бота",
            "В пределах SLA",
            "SLA ответа, %",
            "Ответ p50, с",
            "Ответ p95, с",
        ],
        rows,
    );
}

/// Satisfaction scores by channel, manager and service (only when there are any: a deployment
/// without bookings has no such table).
pub(super) fn csat(
    r: &mut Report,
    list: &[crate::domain::ReportCsat],
    names: &std::collections::BTreeMap<String, String>,
) {
    if list.is_empty() {
        return;
    }
    let rows = list
        .iter()
        .map(|c| {
            let manager = c
                .manager_id
                .as_ref()
                .map(|m| names.get(m).cloned().unwrap_or_else(|| m.clone()))
                .unwrap_or_else(|| "—".into());
            let avg = (c.count > 0).then(|| c.sum as f64 / c.count as f64);
            vec![
                Cell::text(c.channel.clone()),
                Cell::text(manager),
                Cell::text(c.service.clone().unwrap_or_else(|| "—".into())),
                Cell::int(c.count as u32),
                Cell::opt(avg, 2),
            ]
        })
        .collect();
    r.add(
        "csat",
        "Оценки клиентов (CSAT)",
        &["Канал", "Менеджер", "Услуга", "Оценок", "Средняя оценка"],
        rows,
    );
}
