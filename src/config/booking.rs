//! `config/booking.toml` (optional: present = the bot books visits after, or instead of, asking
//! for the phone; a deployment without it keeps the phone-only flow). Services with durations,
//! the staff or rooms they are done by with their hours, breaks and days off, the slot grid and
//! the buffer between visits, reminders, CSAT, intent words and every text the bot says.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;
use serde::Deserialize;

use super::ConfigIssues;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookingSettings {
    /// The clients' and the business's time zone (IANA): "завтра в 18" is read in it.
    #[serde(default = "default_tz")]
    pub time_zone: String,
    /// How far ahead slots are offered.
    #[serde(default = "default_horizon")]
    pub horizon_days: u32,
    /// The grid visits start on.
    #[serde(with = "super::duration", default = "default_step")]
    pub slot_step: Duration,
    /// Free time kept after each visit.
    #[serde(with = "super::duration", default = "default_buffer")]
    pub buffer: Duration,
    /// How many slots are offered at once.
    #[serde(default = "default_offer")]
    pub offer: usize,
    /// Reminders this long before the visit.
    #[serde(deserialize_with = "super::duration::deserialize_vec", default = "default_reminders")]
    pub reminders: Vec<Duration>,
    /// The satisfaction question this long after the visit ends; "0s" = never.
    #[serde(with = "super::duration", default = "default_csat_after")]
    pub csat_after_visit: Duration,
    /// After this many messages the bot did not understand in a row, a manager takes over.
    #[serde(default = "default_misunderstood")]
    pub handoff_after_misunderstood: u32,
    /// Ask the routing LLM (routing.toml `[llm]`) for the intent; the rules decide on any failure.
    #[serde(default)]
    pub use_llm: bool,
    pub services: Vec<BookingService>,
    pub resources: Vec<BookingResource>,
    #[serde(default)]
    pub intents: IntentSettings,
    #[serde(default)]
    pub texts: BookingTexts,
    #[serde(default)]
    pub google_calendar: Option<GoogleCalendarSettings>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookingService {
    pub id: String,
    pub name: String,
    #[serde(with = "super::duration")]
    pub duration: Duration,
    /// Word starts that name the service in a message ("стриж", "маникюр").
    #[serde(default)]
    pub words: Vec<String>,
    /// Who can do it (resource ids); empty = every resource.
    #[serde(default)]
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookingResource {
    pub id: String,
    pub name: String,
    /// Working hours per weekday: `mon = "10:00-20:00"`; a missing day is a day off.
    #[serde(default)]
    pub hours: BTreeMap<String, String>,
    /// Daily breaks: ["14:00-15:00"].
    #[serde(default)]
    pub breaks: Vec<String>,
    /// Dates off: ["2026-12-31"].
    #[serde(default)]
    pub days_off: Vec<NaiveDate>,
    /// The manager (routing.toml id) who handles this resource's clients, if any.
    #[serde(default)]
    pub manager_id: Option<String>,
    /// The Google calendar whose events also make this resource busy (with `[google_calendar]`).
    #[serde(default)]
    pub google_calendar_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentSettings {
    #[serde(default = "default_booking_words")]
    pub booking: Vec<String>,
    #[serde(default = "default_cancel_words")]
    pub cancel: Vec<String>,
    #[serde(default = "default_reschedule_words")]
    pub reschedule: Vec<String>,
    #[serde(default = "default_human_words")]
    pub human: Vec<String>,
    #[serde(default = "default_confirm_words")]
    pub confirm: Vec<String>,
}

impl Default for IntentSettings {
    fn default() -> Self {
        IntentSettings {
            booking: default_booking_words(),
            cancel: default_cancel_words(),
            reschedule: default_reschedule_words(),
            human: default_human_words(),
            confirm: default_confirm_words(),
        }
    }
}

/// Google Calendar (optional): the staff's own events count as busy, our bookings are mirrored
/// there. The OAuth client id, secret and refresh token come from `LEADBOT_GOOGLE_CLIENT_ID`,
/// `LEADBOT_GOOGLE_CLIENT_SECRET` and `LEADBOT_GOOGLE_REFRESH_TOKEN`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleCalendarSettings {
    #[serde(default = "default_google_api")]
    pub base_url: String,
    #[serde(default = "default_google_token")]
    pub token_url: String,
    #[serde(with = "super::duration", default = "default_google_timeout")]
    pub timeout: Duration,
    #[serde(skip)]
    pub client_id: Option<String>,
    #[serde(skip)]
    pub client_secret: Option<String>,
    #[serde(skip)]
    pub refresh_token: Option<String>,
}

/// Every text of the booking dialog. Placeholders: {service}, {when}, {resource}, {name},
/// {slots}, {score}.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookingTexts {
    #[serde(default = "t_ask_service")]
    pub ask_service: String,
    #[serde(default = "t_ask_time")]
    pub ask_time: String,
    #[serde(default = "t_ask_name")]
    pub ask_name: String,
    #[serde(default = "t_ask_phone")]
    pub ask_phone: String,
    #[serde(default = "t_offer")]
    pub offer: String,
    #[serde(default = "t_none_free")]
    pub none_free: String,
    #[serde(default = "t_taken")]
    pub taken: String,
    #[serde(default = "t_booked")]
    pub booked: String,
    #[serde(default = "t_reminder")]
    pub reminder: String,
    #[serde(default = "t_confirmed")]
    pub confirmed: String,
    #[serde(default = "t_cancelled")]
    pub cancelled: String,
    #[serde(default = "t_nothing_to_cancel")]
    pub nothing_to_cancel: String,
    #[serde(default = "t_reschedule_ask")]
    pub reschedule_ask: String,
    #[serde(default = "t_rescheduled")]
    pub rescheduled: String,
    #[serde(default = "t_handoff")]
    pub handoff: String,
    #[serde(default = "t_not_understood")]
    pub not_understood: String,
    #[serde(default = "t_welcome_back")]
    pub welcome_back: String,
    #[serde(default = "t_csat_ask")]
    pub csat_ask: String,
    #[serde(default = "t_csat_thanks")]
    pub csat_thanks: String,
    #[serde(default = "t_csat_comment_thanks")]
    pub csat_comment_thanks: String,
    /// To the manager when a client cancels.
    #[serde(default = "t_manager_cancelled")]
    pub manager_cancelled: String,
    /// To the manager when a client moves a visit.
    #[serde(default = "t_manager_rescheduled")]
    pub manager_rescheduled: String,
    /// To the manager on a hand-off ({transcript}).
    #[serde(default = "t_manager_handoff")]
    pub manager_handoff: String,
    /// The buttons under a reminder.
    #[serde(default = "t_reminder_buttons")]
    pub reminder_buttons: Vec<String>,
}

impl Default for BookingTexts {
    fn default() -> Self {
        // Every field has its default: an empty table is the defaults.
        toml::from_str("").unwrap_or_else(|_| unreachable!("defaults parse"))
    }
}

fn default_tz() -> String {
    "Europe/Moscow".into()
}
fn default_horizon() -> u32 {
    14
}
fn default_step() -> Duration {
    Duration::from_secs(15 * 60)
}
fn default_buffer() -> Duration {
    Duration::from_secs(10 * 60)
}
fn default_offer() -> usize {
    3
}
fn default_reminders() -> Vec<Duration> {
    vec![Duration::from_secs(24 * 3600), Duration::from_secs(2 * 3600)]
}
fn default_csat_after() -> Duration {
    Duration::from_secs(2 * 3600)
}
fn default_misunderstood() -> u32 {
    2
}
fn default_google_api() -> String {
    "https://www.googleapis.com".into()
}
fn default_google_token() -> String {
    "https://oauth2.googleapis.com/token".into()
}
fn default_google_timeout() -> Duration {
    Duration::from_secs(5)
}
fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}
fn default_booking_words() -> Vec<String> {
    words(&[
        "запис",
        "запиш",
        "свободн",
        "окошк",
        "окно",
        "забронир",
        "хочу на",
        "можно на",
        "попасть",
    ])
}
fn default_cancel_words() -> Vec<String> {
    words(&[
        "отмен",
        "не приду",
        "не смогу прийти",
        "не получится прийти",
        "не успеваю прийти",
    ])
}
fn default_reschedule_words() -> Vec<String> {
    words(&[
        "перенес",
        "перенос",
        "передвин",
        "другое время",
        "другой день",
        "попозже",
        "пораньше можно",
    ])
}
fn default_human_words() -> Vec<String> {
    words(&[
        "человек",
        "живой",
        "администратор",
        "оператор",
        "менеджер",
        "позвоните мне",
        "перезвоните",
    ])
}
fn default_confirm_words() -> Vec<String> {
    words(&["подтвержд", "подтверд", "приду", "буду", "в силе", "да, всё в силе"])
}
fn t_ask_service() -> String {
    "На какую услугу вас записать? {services}".into()
}
fn t_ask_time() -> String {
    "Когда вам удобно прийти? Например: «завтра после 18» или «в субботу утром».".into()
}
fn t_ask_name() -> String {
    "Как к вам обращаться?".into()
}
fn t_ask_phone() -> String {
    "Оставьте, пожалуйста, номер телефона для подтверждения записи.".into()
}
fn t_offer() -> String {
    "{service}: свободно {slots}. Какое время вам подходит?".into()
}
fn t_none_free() -> String {
    "На это время, к сожалению, всё занято. Ближайшее свободное: {slots}.".into()
}
fn t_taken() -> String {
    "Это время только что заняли. Вот что ещё свободно: {slots}.".into()
}
fn t_booked() -> String {
    "Готово! Записали вас: {service}, {when}, мастер {resource}. Накануне напомним.".into()
}
fn t_reminder() -> String {
    "Напоминаем: {service}, {when}, мастер {resource}. Всё в силе?".into()
}
fn t_confirmed() -> String {
    "Спасибо, ждём вас {when}!".into()
}
fn t_cancelled() -> String {
    "Запись на {when} отменена. Если захотите записаться снова — просто напишите.".into()
}
fn t_nothing_to_cancel() -> String {
    "У вас нет активной записи.".into()
}
fn t_reschedule_ask() -> String {
    "На когда перенести? Свободно: {slots}.".into()
}
fn t_rescheduled() -> String {
    "Перенесли: {service}, {when}, мастер {resource}.".into()
}
fn t_handoff() -> String {
    "Передаю вас администратору — он ответит здесь в ближайшее время.".into()
}
fn t_not_understood() -> String {
    "Простите, не совсем поняла. Напишите, пожалуйста, на какую услугу и когда вам удобно.".into()
}
fn t_welcome_back() -> String {
    "Рады снова вас видеть, {name}! Записать вас, как обычно, на «{service}»?".into()
}
fn t_csat_ask() -> String {
    "Как вам визит? Оцените, пожалуйста, от 1 до 5.".into()
}
fn t_csat_thanks() -> String {
    "Спасибо за оценку! Если хотите, напишите пару слов — что понравилось или что улучшить.".into()
}
fn t_csat_comment_thanks() -> String {
    "Спасибо, передали ваш отзыв!".into()
}
fn t_manager_cancelled() -> String {
    "Клиент {name} отменил запись: {service}, {when} (лид #{lead_id}). Время освобождено.".into()
}
fn t_manager_rescheduled() -> String {
    "Клиент {name} перенёс запись: {service}, было {old_when}, стало {when} (лид #{lead_id}).".into()
}
fn t_manager_handoff() -> String {
    "Клиент просит живого человека (лид #{lead_id}, {channel}). Переписка:\n{transcript}".into()
}
fn t_reminder_buttons() -> Vec<String> {
    words(&["Подтвердить", "Перенести", "Отменить"])
}

pub(super) fn parse_hours(s: &str) -> Option<(NaiveTime, NaiveTime)> {
    let (a, b) = s.split_once('-')?;
    let a = NaiveTime::parse_from_str(a.trim(), "%H:%M").ok()?;
    let b = NaiveTime::parse_from_str(b.trim(), "%H:%M").ok()?;
    (a < b).then_some((a, b))
}

pub(super) const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl BookingSettings {
    pub(super) fn apply_env(&mut self) {
        if let Some(g) = self.google_calendar.as_mut() {
            let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            g.client_id = env("LEADBOT_GOOGLE_CLIENT_ID");
            g.client_secret = env("LEADBOT_GOOGLE_CLIENT_SECRET");
            g.refresh_token = env("LEADBOT_GOOGLE_REFRESH_TOKEN");
        }
    }

    pub(super) fn validate(&self, file: &str, issues: &mut ConfigIssues) {
        if self.time_zone.parse::<Tz>().is_err() {
            issues.push(
                file,
                "time_zone",
                format!("`{}` is not an IANA time zone", self.time_zone),
            );
        }
        if self.slot_step.as_secs() < 60 || !self.slot_step.as_secs().is_multiple_of(60) {
            issues.push(file, "slot_step", "must be whole minutes, at least 1m");
        }
        if self.reminders.len() > 3 {
            issues.push(file, "reminders", "at most 3 reminders");
        }
        if self.offer == 0 {
            issues.push(file, "offer", "must be at least 1");
        }
        if self.horizon_days == 0 || self.horizon_days > 366 {
            issues.push(file, "horizon_days", "must be between 1 and 366");
        }
        if self.services.is_empty() {
            issues.push(file, "services", "has no services");
        }
        if self.resources.is_empty() {
            issues.push(file, "resources", "has no staff or rooms");
        }
        let mut ids = std::collections::BTreeSet::new();
        for (i, r) in self.resources.iter().enumerate() {
            if r.id.trim().is_empty() || !ids.insert(r.id.as_str()) {
                issues.push(
                    file,
                    format!("resources[{i}].id"),
                    format!("`{}` is empty or used twice", r.id),
                );
            }
            if r.hours.is_empty() {
                issues.push(file, format!("resources[{i}].hours"), "has no working day");
            }
            for (day, h) in &r.hours {
                if !WEEKDAYS.contains(&day.as_str()) {
                    issues.push(
                        file,
                        format!("resources[{i}].hours.{day}"),
                        "is not a weekday (mon, tue, wed, thu, fri, sat, sun)",
                    );
                } else if parse_hours(h).is_none() {
                    issues.push(
                        file,
                        format!("resources[{i}].hours.{day}"),
                        format!("`{h}` is not hours like 10:00-20:00"),
                    );
                }
            }
            for (j, b) in r.breaks.iter().enumerate() {
                if parse_hours(b).is_none() {
                    issues.push(
                        file,
                        format!("resources[{i}].breaks[{j}]"),
                        format!("`{b}` is not a time range like 14:00-15:00"),
                    );
                }
            }
            if r.google_calendar_id.is_some() && self.google_calendar.is_none() {
                issues.push(
                    file,
                    format!("resources[{i}].google_calendar_id"),
                    "is set but there is no [google_calendar] section",
                );
            }
        }
        let mut service_ids = std::collections::BTreeSet::new();
        for (i, s) in self.services.iter().enumerate() {
            if s.id.trim().is_empty() || !service_ids.insert(s.id.as_str()) {
                issues.push(
                    file,
                    format!("services[{i}].id"),
                    format!("`{}` is empty or used twice", s.id),
                );
            }
            if s.duration.as_secs() < 60 {
                issues.push(file, format!("services[{i}].duration"), "must be at least 1m");
            }
            for r in &s.resources {
                if !ids.contains(r.as_str()) {
                    issues.push(file, format!("services[{i}].resources"), format!("no resource `{r}`"));
                }
            }
        }
        if let Some(g) = &self.google_calendar {
            for (key, url) in [
                ("google_calendar.base_url", &g.base_url),
                ("google_calendar.token_url", &g.token_url),
            ] {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    issues.push(file, key, format!("`{url}` is not an http(s) URL"));
                }
            }
        }
        for (key, t) in [
            ("texts.booked", &self.texts.booked),
            ("texts.offer", &self.texts.offer),
            ("texts.reminder", &self.texts.reminder),
        ] {
            if t.trim().is_empty() {
                issues.push(file, key, "is empty");
            }
        }
    }
}

impl BookingSettings {
    pub fn time_zone(&self) -> Tz {
        self.time_zone.parse::<Tz>().unwrap_or(chrono_tz::Europe::Moscow)
    }

    /// The pure rules these (validated) settings describe.
    pub fn rules(&self) -> crate::booking::BookingRules {
        use crate::booking::{IntentRules, Resource, Schedule, Service};
        let dur = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero());
        let resources = self
            .resources
            .iter()
            .map(|r| {
                let mut hours = [None; 7];
                for (i, day) in WEEKDAYS.iter().enumerate() {
                    hours[i] = r.hours.get(*day).and_then(|h| parse_hours(h));
                }
                Resource {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    hours,
                    breaks: r.breaks.iter().filter_map(|b| parse_hours(b)).collect(),
                    days_off: r.days_off.iter().copied().collect(),
                    manager_id: r.manager_id.clone(),
                }
            })
            .collect();
        let services = self
            .services
            .iter()
            .map(|s| Service {
                id: s.id.clone(),
                name: s.name.clone(),
                duration: dur(s.duration),
                words: s.words.iter().map(|w| w.to_lowercase()).collect(),
                resources: s.resources.clone(),
            })
            .collect();
        let mut reminders: Vec<chrono::Duration> = self.reminders.iter().map(|d| dur(*d)).collect();
        reminders.sort_by(|a, b| b.cmp(a));
        let i = &self.intents;
        crate::booking::BookingRules {
            schedule: Schedule {
                tz: self.time_zone(),
                step: dur(self.slot_step),
                buffer: dur(self.buffer),
                horizon_days: self.horizon_days,
                services,
                resources,
            },
            intents: IntentRules::new(&i.booking, &i.cancel, &i.reschedule, &i.confirm, &i.human),
            texts: self.texts.clone(),
            reminders,
            csat_after: (!self.csat_after_visit.is_zero()).then(|| dur(self.csat_after_visit)),
            offer: self.offer,
            handoff_after: self.handoff_after_misunderstood.max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> String {
        let s: BookingSettings = toml::from_str(text).unwrap();
        let mut issues = ConfigIssues::default();
        s.validate("booking.toml", &mut issues);
        issues.to_string()
    }

    #[test]
    fn the_shipped_example_is_valid_and_its_rules_read_it() {
        let text = include_str!("../../config/examples/booking.toml");
        assert_eq!(check(text), "");
        let s: BookingSettings = toml::from_str(text).unwrap();
        let r = s.rules();
        assert_eq!(r.schedule.services.len(), 3);
        assert_eq!(
            r.reminders,
            vec![chrono::Duration::hours(24), chrono::Duration::hours(2)]
        );
        let anna = r.schedule.resource("anna").unwrap();
        assert!(anna.hours[6].is_none(), "Sunday off");
        assert_eq!(anna.breaks.len(), 1);
    }

    #[test]
    fn mistakes_are_named_by_key() {
        let text = r#"
time_zone = "Europe/Mowscow"
slot_step = "90s"
[[services]]
id = "cut"
name = "Стрижка"
duration = "30s"
resources = ["nobody"]
[[resources]]
id = "anna"
name = "Анна"
hours = { mon = "20:00-10:00", funday = "10:00-12:00" }
breaks = ["lunch"]
google_calendar_id = "a@example.com"
"#;
        let issues = check(text);
        for want in [
            "booking.toml:time_zone",
            "booking.toml:slot_step",
            "booking.toml:services[0].duration",
            "booking.toml:services[0].resources: no resource `nobody`",
            "booking.toml:resources[0].hours.mon",
            "booking.toml:resources[0].hours.funday",
            "booking.toml:resources[0].breaks[0]",
            "booking.toml:resources[0].google_calendar_id",
        ] {
            assert!(issues.contains(want), "{want} missing in:\n{issues}");
        }
    }
}
