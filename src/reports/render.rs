//! The report in each format: JSON (the tables as they are), CSV (the tables one after
//! another), XLSX (a sheet per table), an HTML e-mail body, and a short text for Telegram.

use maud::{html, Markup, DOCTYPE};
use rust_xlsxwriter::{Format as XlsxFormat, Workbook};
use serde::Deserialize;

use super::table::{Cell, Report, Section};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Csv,
    Xlsx,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
    pub fn ext(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("XLSX: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The report in `format`.
pub fn render(report: &Report, format: Format) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Json => Ok(serde_json::to_vec_pretty(report)?),
        Format::Csv => Ok(csv(report).into_bytes()),
        Format::Xlsx => xlsx(report),
    }
}

fn csv_field(c: &Cell) -> String {
    let mut s = c.display();
    // A spreadsheet would run a text starting like a formula: keep it text.
    if matches!(c, Cell::Text(_)) && s.starts_with(['=', '+', '-', '@']) {
        s.insert(0, '\'');
    }
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Each table: its title, the header row, the rows, an empty line. UTF-8 with a BOM (so Excel
/// reads the Cyrillic).
pub fn csv(report: &Report) -> String {
    let mut out = String::from("\u{feff}");
    let line = |cells: Vec<Cell>, out: &mut String| {
        let fields: Vec<String> = cells.iter().map(csv_field).collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    };
    line(
        vec![Cell::text(format!(
            "{} · {} · {}",
            report.title, report.period, report.time_zone
        ))],
        &mut out,
    );
    out.push_str("\r\n");
    for s in &report.sections {
        line(vec![Cell::text(s.title.clone())], &mut out);
        line(s.columns.iter().map(|c| Cell::text(c.clone())).collect(), &mut out);
        for r in &s.rows {
            line(r.clone(), &mut out);
        }
        out.push_str("\r\n");
    }
    out
}

/// The sheet name of a table (Excel: at most 31 characters, none of `[]:*?/\`).
pub fn sheet_name(s: &Section) -> String {
    let name = match s.id.as_str() {
        "alerts" => "Предупреждения",
        "violations" => "Нарушения",
        "violations_total" => "Нарушения всего",
        "without_task" => "Без задачи",
        "without_comment" => "Без комментария",
        "stuck_unsorted" => "Неразобранное",
        "stale" => "Без движения",
        "conversion" => "Конверсия",
        "slow_deals" => "Больше 36 ч",
        "visits" => "Визиты",
        "returns" => "Срывы и возвраты",
        "repeat" => "Повторные продажи",
        "repeat_plan" => "План",
        "channels" => "Каналы",
        other => other,
    };
    name.chars().filter(|c| !"[]:*?/\\".contains(*c)).take(31).collect()
}

/// A sheet per table: the header row first, then the rows (numbers as numbers).
pub fn xlsx(report: &Report) -> Result<Vec<u8>, RenderError> {
    let mut wb = Workbook::new();
    let bold = XlsxFormat::new().set_bold();
    for s in &report.sections {
        let ws = wb.add_worksheet();
        ws.set_name(sheet_name(s))?;
        for (c, title) in s.columns.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, title, &bold)?;
            ws.set_column_width(c as u16, (title.chars().count() as f64 + 2.0).max(12.0))?;
        }
        for (r, row) in s.rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (c, cell) in row.iter().enumerate() {
                let c = c as u16;
                match cell {
                    Cell::Text(t) => {
                        ws.write_string(r, c, t)?;
                    }
                    Cell::Int(n) => {
                        ws.write_number(r, c, *n as f64)?;
                    }
                    Cell::Num(x) => {
                        ws.write_number(r, c, *x)?;
                    }
                    Cell::Empty => {}
                }
            }
        }
    }
    if report.sections.is_empty() {
        wb.add_worksheet();
    }
    Ok(wb.save_to_buffer()?)
}

/// The e-mail body.
pub fn html(report: &Report) -> String {
    let page: Markup = html! {
        (DOCTYPE)
        html lang="ru" {
            head { meta charset="utf-8"; title { (report.title) } }
            body style="font-family: Arial, sans-serif; font-size: 14px" {
                h2 { (report.title) }
                p { "Период: " (report.period) " (" (report.time_zone) ")" }
                @if !report.alerts.is_empty() {
                    ul style="color: #b00020" {
                        @for a in &report.alerts { li { (a) } }
                    }
                }
                @for s in report.sections.iter().filter(|s| s.id != "alerts") {
                    h3 { (s.title) }
                    @if s.rows.is_empty() {
                        p { "нет" }
                    } @else {
                        table border="1" cellpadding="4" cellspacing="0" style="border-collapse: collapse" {
                            tr { @for c in &s.columns { th { (c) } } }
                            @for row in &s.rows {
                                tr { @for c in row { td { (c.display()) } } }
                            }
                        }
                    }
                }
                p style="color: #666" { "Полный отчёт — во вложении (XLSX)." }
            }
        }
    };
    page.into_string()
}

/// A short text (Telegram): the title, the alerts, and how many rows each table has.
pub fn summary(report: &Report) -> String {
    let mut out = format!("{} · {}\n", report.title, report.period);
    for a in &report.alerts {
        out.push_str(&format!("⚠ {a}\n"));
    }
    for s in report.sections.iter().filter(|s| s.id != "alerts") {
        match s.id.as_str() {
            "conversion" | "returns" | "repeat" | "visits" | "repeat_plan" | "violations_total" | "channels" => {
                continue
            }
            _ => out.push_str(&format!("{}: {}\n", s.title, s.rows.len())),
        }
    }
    let total_row = |id: &str| report.section(id).and_then(|s| s.rows.last().cloned());
    if let Some(row) = total_row("conversion") {
        out.push_str(&format!("Конверсия «Квалификация → Встреча»: {} %\n", cell(&row, 3)));
    }
    if let Some(row) = total_row("returns") {
        out.push_str(&format!(
            "Срывы: {}, возвраты: {}, % возврата: {}\n",
            cell(&row, 1),
            cell(&row, 2),
            cell(&row, 3)
        ));
    }
    if let Some(row) = total_row("repeat") {
        out.push_str(&format!(
            "Повторные звонки: {}, записи: {}, выручка: {}\n",
            cell(&row, 1),
            cell(&row, 2),
            cell(&row, 4)
        ));
    }
    if let Some(s) = report.section("channels") {
        let leads: i64 = s
            .rows
            .iter()
            .map(|r| match r.get(1) {
                Some(Cell::Int(n)) => *n,
                _ => 0,
            })
            .sum();
        out.push_str(&format!("Лидов по каналам: {leads}\n"));
    }
    out
}

fn cell(row: &[Cell], i: usize) -> String {
    match row.get(i).map(Cell::display) {
        Some(s) if !s.is_empty() => s,
        _ => "—".into(),
    }
}
