//! The figures, computed from one period's rows. Pure: the rows come in, numbers come out.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::period::{days_in_month, Period};
use super::ReportOptions;
use crate::domain::{ReportCounter, ReportDeal, ReportLead, ReportViolation};
use crate::sla::DealState;

/// Counter names the shipped robots (`config/robots.toml`) count under.
pub mod counters {
    pub const QUALIFICATION_ENTERED: &str = "qualification_entered";
    pub const QUALIFICATION_TO_MEETING: &str = "qualification_to_meeting";
    pub const NO_SHOWS: &str = "no_shows";
    pub const RETURNS: &str = "returns";
    pub const REPEAT_CALLS: &str = "repeat_calls";
    pub const REPEAT_BOOKINGS: &str = "repeat_bookings";
    pub const REPEAT_REVENUE: &str = "repeat_revenue";
}

/// The stage of new, unsorted deals.
pub const UNSORTED: &str = "Неразобранное";

/// `part / whole` in percent, `None` for an empty whole.
pub fn pct(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| part / whole * 100.0)
}

/// Who: `crm:user id` and its name from the config (or the id).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Who {
    pub key: String,
    pub name: String,
}

fn who(crm: &str, manager: Option<&str>, names: &BTreeMap<String, String>) -> Who {
    match manager {
        Some(m) if !m.is_empty() => {
            let key = format!("{crm}:{m}");
            let name = names.get(&key).cloned().unwrap_or_else(|| key.clone());
            Who { key, name }
        }
        _ => Who {
            key: String::new(),
            name: "без ответственного".into(),
        },
    }
}

/// A deal in an end-of-day list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DealLine {
    pub crm: String,
    pub deal_id: String,
    pub title: String,
    pub manager: Who,
    pub stage: String,
    /// In the stage since.
    pub since: Option<DateTime<Utc>>,
    /// Last movement (stage entry or touch).
    pub last_move: Option<DateTime<Utc>>,
}

/// Violations of one manager in the period, by robot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManagerViolations {
    pub manager: Who,
    pub by_robot: BTreeMap<String, u32>,
    pub total: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndOfDay {
    pub without_task: Vec<DealLine>,
    pub without_comment: Vec<DealLine>,
    pub stuck_unsorted: Vec<DealLine>,
    pub stale: Vec<DealLine>,
    pub violations: Vec<ManagerViolations>,
    pub violations_total: u32,
}

fn parse_deals(deals: &[ReportDeal]) -> Vec<DealState> {
    deals
        .iter()
        .filter_map(|d| serde_json::from_value::<DealState>(d.state.clone()).ok())
        .collect()
}

fn violations_per_manager(
    violations: &[ReportViolation],
    names: &BTreeMap<String, String>,
) -> (Vec<ManagerViolations>, u32) {
    let mut by: BTreeMap<String, ManagerViolations> = BTreeMap::new();
    for v in violations {
        let w = who(&v.crm, v.manager.as_deref(), names);
        let e = by.entry(w.key.clone()).or_insert_with(|| ManagerViolations {
            manager: w,
            by_robot: BTreeMap::new(),
            total: 0,
        });
        *e.by_robot.entry(v.robot.clone()).or_default() += 1;
        e.total += 1;
    }
    let mut list: Vec<ManagerViolations> = by.into_values().collect();
    list.sort_by(|a, b| b.total.cmp(&a.total).then(a.manager.name.cmp(&b.manager.name)));
    let total = list.iter().map(|m| m.total).sum();
    (list, total)
}

/// The end-of-day check at `now`: open deals as they stand, and the day's violations.
pub fn end_of_day(
    opts: &ReportOptions,
    deals: &[ReportDeal],
    violations: &[ReportViolation],
    names: &BTreeMap<String, String>,
    now: DateTime<Utc>,
) -> EndOfDay {
    let mut out = EndOfDay {
        without_task: Vec::new(),
        without_comment: Vec::new(),
        stuck_unsorted: Vec::new(),
        stale: Vec::new(),
        violations: Vec::new(),
        violations_total: 0,
    };
    let stuck_after = Duration::from_std(opts.stuck_after).unwrap_or_default();
    let stale_after = Duration::from_std(opts.stale_after).unwrap_or_default();
    for st in parse_deals(deals) {
        let (Some(facts), Some(visit)) = (&st.facts, &st.visit) else {
            continue;
        };
        if opts.closed_stages.iter().any(|s| s == &visit.stage) {
            continue;
        }
        let last_move = Some(st.last_touch_at.map_or(visit.entered_at, |t| t.max(visit.entered_at)));
        let line = DealLine {
            crm: st.crm.clone(),
            deal_id: st.deal_id.clone(),
            title: facts.title.clone(),
            manager: who(&st.crm, facts.responsible.as_deref(), names),
            stage: visit.stage.clone(),
            since: Some(visit.entered_at),
            last_move,
        };
        if facts.tasks.is_empty() {
            out.without_task.push(line.clone());
        }
        if facts.comments == 0 {
            out.without_comment.push(line.clone());
        }
        if visit.stage == UNSORTED && now - visit.entered_at >= stuck_after {
            out.stuck_unsorted.push(line.clone());
        }
        if last_move.is_some_and(|t| now - t >= stale_after) {
            out.stale.push(line);
        }
    }
    for list in [
        &mut out.without_task,
        &mut out.without_comment,
        &mut out.stuck_unsorted,
        &mut out.stale,
    ] {
        list.sort_by(|a, b| (&a.manager.name, &a.crm, &a.deal_id).cmp(&(&b.manager.name, &b.crm, &b.deal_id)));
    }
    let (list, total) = violations_per_manager(violations, names);
    out.violations = list;
    out.violations_total = total;
    out
}

/// Conversion "Квалификация → Встреча" of one manager (or everyone).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conversion {
    pub manager: Who,
    pub qualified: u32,
    pub meetings: u32,
    pub pct: Option<f64>,
    /// Below the threshold (with at least one deal qualified).
    pub alert: bool,
}

/// A deal past 36 h from the client's first reply without "Назначено"/"Отказ".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlowDeal {
    pub crm: String,
    pub deal_id: String,
    pub manager: Who,
    pub first_reply_at: DateTime<Utc>,
    pub detected_at: DateTime<Utc>,
    pub hours: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Returns {
    pub manager: Who,
    pub no_shows: u32,
    pub returns: u32,
    pub pct: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Repeat {
    pub manager: Who,
    pub calls: u32,
    pub bookings: u32,
    pub pct: Option<f64>,
    pub revenue: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Visits {
    /// Visits whose time fell in the period (deals as they stand).
    pub visits: u32,
    /// Of them, not confirmed in time (the robot's violation).
    pub unconfirmed: u32,
    pub confirmed_pct: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pipeline {
    pub threshold_pct: f64,
    pub conversion: Vec<Conversion>,
    pub conversion_total: Conversion,
    pub slow_deals: Vec<SlowDeal>,
    pub visits: Visits,
    pub returns: Vec<Returns>,
    pub returns_total: Returns,
    pub repeat: Vec<Repeat>,
    pub repeat_total: Repeat,
    /// The monthly plan of repeat bookings, prorated to the period's days.
    pub bookings_plan: f64,
    pub bookings_plan_pct: Option<f64>,
    pub revenue_target: f64,
    pub revenue_target_pct: Option<f64>,
    pub alerts: Vec<String>,
}

/// The monthly `amount` for the period: whole for a calendar month, else by days.
fn prorate(amount: f64, period: &Period) -> f64 {
    if period.start.day() == 1 && period.len_days() == days_in_month(period.start) {
        return amount;
    }
    amount * period.len_days() as f64 / days_in_month(period.start) as f64
}

use chrono::Datelike;

#[derive(Default)]
struct Tally {
    who: Option<Who>,
    n: BTreeMap<&'static str, f64>,
}

/// Weekly / monthly figures over the period's counters and violations.
pub fn pipeline(
    opts: &ReportOptions,
    period: &Period,
    deals: &[ReportDeal],
    counters_in: &[ReportCounter],
    violations: &[ReportViolation],
    names: &BTreeMap<String, String>,
) -> Pipeline {
    use counters::*;
    let known = [
        QUALIFICATION_ENTERED,
        QUALIFICATION_TO_MEETING,
        NO_SHOWS,
        RETURNS,
        REPEAT_CALLS,
        REPEAT_BOOKINGS,
        REPEAT_REVENUE,
    ];
    let mut by: BTreeMap<String, Tally> = BTreeMap::new();
    let mut total = Tally::default();
    for c in counters_in.iter().filter(|c| period.contains(c.at)) {
        let Some(name) = known.iter().find(|k| **k == c.counter) else {
            continue;
        };
        let w = who(&c.crm, c.manager.as_deref(), names);
        let t = by.entry(w.key.clone()).or_default();
        t.who.get_or_insert(w);
        *t.n.entry(*name).or_default() += c.amount;
        *total.n.entry(*name).or_default() += c.amount;
    }
    let everyone = Who {
        key: "total".into(),
        name: "Итого".into(),
    };
    let get = |t: &Tally, k: &str| t.n.get(k).copied().unwrap_or(0.0);
    let threshold = opts.conversion_alert_below_pct;
    let conv = |w: Who, t: &Tally| {
        let q = get(t, QUALIFICATION_ENTERED);
        let m = get(t, QUALIFICATION_TO_MEETING);
        let pct = pct(m, q);
        Conversion {
            manager: w,
            qualified: q as u32,
            meetings: m as u32,
            alert: pct.is_some_and(|p| p < threshold),
            pct,
        }
    };
    let ret = |w: Who, t: &Tally| {
        let n = get(t, NO_SHOWS);
        let r = get(t, RETURNS);
        Returns {
            manager: w,
            no_shows: n as u32,
            returns: r as u32,
            pct: pct(r, n),
        }
    };
    let rep = |w: Who, t: &Tally| {
        let c = get(t, REPEAT_CALLS);
        let b = get(t, REPEAT_BOOKINGS);
        Repeat {
            manager: w,
            calls: c as u32,
            bookings: b as u32,
            pct: pct(b, c),
            revenue: get(t, REPEAT_REVENUE),
        }
    };
    let mut conversion = Vec::new();
    let mut returns = Vec::new();
    let mut repeat = Vec::new();
    for t in by.values() {
        let w = t.who.clone().unwrap_or_else(|| everyone.clone());
        if get(t, QUALIFICATION_ENTERED) > 0.0 || get(t, QUALIFICATION_TO_MEETING) > 0.0 {
            conversion.push(conv(w.clone(), t));
        }
        if get(t, NO_SHOWS) > 0.0 || get(t, RETURNS) > 0.0 {
            returns.push(ret(w.clone(), t));
        }
        if get(t, REPEAT_CALLS) > 0.0 || get(t, REPEAT_BOOKINGS) > 0.0 || get(t, REPEAT_REVENUE) > 0.0 {
            repeat.push(rep(w, t));
        }
    }
    conversion.sort_by(|a, b| a.manager.name.cmp(&b.manager.name));
    returns.sort_by(|a, b| a.manager.name.cmp(&b.manager.name));
    repeat.sort_by(|a, b| a.manager.name.cmp(&b.manager.name));
    let conversion_total = conv(everyone.clone(), &total);
    let returns_total = ret(everyone.clone(), &total);
    let repeat_total = rep(everyone, &total);

    let in_period: Vec<&ReportViolation> = violations.iter().filter(|v| period.contains(v.detected_at)).collect();
    let mut slow_deals: Vec<SlowDeal> = in_period
        .iter()
        .filter(|v| v.robot == opts.slow_deal_robot)
        .map(|v| SlowDeal {
            crm: v.crm.clone(),
            deal_id: v.deal_id.clone(),
            manager: who(&v.crm, v.manager.as_deref(), names),
            first_reply_at: v.started_at,
            detected_at: v.detected_at,
            hours: ((v.detected_at - v.started_at).num_minutes() as f64 / 60.0 * 10.0).round() / 10.0,
        })
        .collect();
    slow_deals.sort_by_key(|s| s.detected_at);

    let visits = parse_deals(deals)
        .iter()
        .filter_map(|st| st.facts.as_ref()?.fields.get("visit_at").cloned())
        .filter_map(|v| DateTime::parse_from_rfc3339(&v).ok())
        .filter(|t| period.contains(t.with_timezone(&Utc)))
        .count() as u32;
    let unconfirmed = in_period
        .iter()
        .filter(|v| v.robot == opts.visit_unconfirmed_robot)
        .count() as u32;
    let visits_all = visits.max(unconfirmed);
    let visits = Visits {
        visits: visits_all,
        unconfirmed,
        confirmed_pct: pct(f64::from(visits_all - unconfirmed), f64::from(visits_all)),
    };

    let bookings_plan = prorate(opts.repeat_bookings_plan, period);
    let revenue_target = prorate(opts.repeat_revenue_target, period);
    let bookings_plan_pct = pct(f64::from(repeat_total.bookings), bookings_plan);
    let revenue_target_pct = pct(repeat_total.revenue, revenue_target);

    let mut alerts = Vec::new();
    if conversion_total.alert {
        alerts.push(format!(
            "Конверсия «Квалификация → Встреча» {:.1} % — ниже порога {:.0} %",
            conversion_total.pct.unwrap_or_default(),
            threshold
        ));
    }
    for c in conversion.iter().filter(|c| c.alert) {
        alerts.push(format!(
            "{}: конверсия «Квалификация → Встреча» {:.1} % — ниже порога {:.0} %",
            c.manager.name,
            c.pct.unwrap_or_default(),
            threshold
        ));
    }
    if !slow_deals.is_empty() {
        alerts.push(format!(
            "Сделок дольше 36 ч от первого ответа без «Назначено»/«Отказ»: {}",
            slow_deals.len()
        ));
    }
    Pipeline {
        threshold_pct: threshold,
        conversion,
        conversion_total,
        slow_deals,
        visits,
        returns,
        returns_total,
        repeat,
        repeat_total,
        bookings_plan,
        bookings_plan_pct,
        revenue_target,
        revenue_target_pct,
        alerts,
    }
}

/// One channel's figures over the leads created in the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelFigures {
    pub channel: String,
    pub leads: u32,
    pub with_phone: u32,
    pub phone_pct: Option<f64>,
    /// Handed to a manager (queued for one, assigned or closed).
    pub to_manager: u32,
    pub to_manager_pct: Option<f64>,
    /// Leads whose phone the bot obtained in the conversation, and the median time to it.
    pub phone_by_bot: u32,
    pub time_to_phone_median_s: Option<f64>,
    /// Client messages the bot answered, how many within the reply SLA, and percentiles.
    pub replies: u32,
    pub replies_within_sla: u32,
    pub reply_sla_pct: Option<f64>,
    pub reply_p50_s: Option<f64>,
    pub reply_p95_s: Option<f64>,
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// When the client gave the phone: the first client line at which the digits of their recent
/// lines (a number split over up to four messages) hold the number's last ten digits.
pub fn phone_given_at(lead: &ReportLead) -> Option<DateTime<Utc>> {
    let phone = digits(lead.phone.as_deref()?);
    let tail = &phone[phone.len().saturating_sub(10)..];
    if tail.len() < 7 {
        return None;
    }
    let mut recent: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    for l in lead.lines.iter().filter(|l| l.inbound) {
        recent.push_back(digits(&l.text));
        if recent.len() > 4 {
            recent.pop_front();
        }
        let joined: String = recent.iter().map(String::as_str).collect();
        if joined.contains(tail) {
            return Some(l.at);
        }
    }
    None
}

/// Seconds the bot took to answer each client line it answered.
pub fn reply_times(lead: &ReportLead) -> Vec<f64> {
    let mut out = Vec::new();
    for (i, l) in lead.lines.iter().enumerate() {
        if !l.inbound {
            continue;
        }
        let reply = lead.lines[i + 1..]
            .iter()
            .take_while(|n| !n.inbound || n.at <= l.at)
            .find(|n| !n.inbound && !n.by_person);
        if let Some(r) = reply {
            out.push(((r.at - l.at).num_milliseconds().max(0)) as f64 / 1000.0);
        }
    }
    out
}

/// The `q`-quantile (nearest rank) of sorted values.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

const HANDED: [&str; 3] = ["queued", "assigned", "closed"];

/// Per-channel figures of the leads created in the period, channels by name.
pub fn channels(opts: &ReportOptions, period: &Period, leads: &[ReportLead]) -> Vec<ChannelFigures> {
    let sla = opts.reply_sla.as_secs_f64();
    let mut by: BTreeMap<&str, Vec<&ReportLead>> = BTreeMap::new();
    for l in leads.iter().filter(|l| period.contains(l.created_at)) {
        by.entry(l.channel.as_str()).or_default().push(l);
    }
    by.into_iter()
        .map(|(channel, ls)| {
            let n = ls.len() as u32;
            let with_phone = ls.iter().filter(|l| l.phone.is_some()).count() as u32;
            let to_manager = ls.iter().filter(|l| HANDED.contains(&l.status.as_str())).count() as u32;
            let mut to_phone: Vec<f64> = ls
                .iter()
                .filter_map(|l| phone_given_at(l).map(|t| (t - l.created_at).num_milliseconds().max(0) as f64 / 1000.0))
                .collect();
            to_phone.sort_by(f64::total_cmp);
            let mut replies: Vec<f64> = ls.iter().flat_map(|l| reply_times(l)).collect();
            replies.sort_by(f64::total_cmp);
            let within = replies.iter().filter(|s| **s <= sla).count() as u32;
            ChannelFigures {
                channel: channel.to_string(),
                leads: n,
                with_phone,
                phone_pct: pct(f64::from(with_phone), f64::from(n)),
                to_manager,
                to_manager_pct: pct(f64::from(to_manager), f64::from(n)),
                phone_by_bot: to_phone.len() as u32,
                time_to_phone_median_s: quantile(&to_phone, 0.5),
                replies: replies.len() as u32,
                replies_within_sla: within,
                reply_sla_pct: pct(f64::from(within), replies.len() as f64),
                reply_p50_s: quantile(&replies, 0.5),
                reply_p95_s: quantile(&replies, 0.95),
            }
        })
        .collect()
}
