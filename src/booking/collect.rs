//! What a message adds to the booking: the service (by its words), the client's name ("меня
//! зовут Анна"), and which of the offered slots it picks.

use chrono_tz::Tz;

use super::format;
use super::schedule::{Schedule, Slot};
use super::text::normalize;

/// The service a message names: the one with the most words found (the first on a tie).
pub fn service(schedule: &Schedule, text: &str) -> Option<String> {
    let t = normalize(text);
    let words: Vec<&str> = t.split_whitespace().collect();
    let mut best: Option<(usize, &str)> = None;
    for s in &schedule.services {
        let name = normalize(&s.name);
        let mut hits = s
            .words
            .iter()
            .map(|w| normalize(w))
            .filter(|w| !w.is_empty() && words.iter().any(|x| x.starts_with(w.as_str())))
            .count();
        // The service's own name, written out, counts too.
        if !name.is_empty() && t.contains(&name) {
            hits += 1;
        }
        if hits > 0 && best.is_none_or(|(b, _)| hits > b) {
            best = Some((hits, s.id.as_str()));
        }
    }
    best.map(|(_, id)| id.to_string())
}

/// Words that are never a name after "я".
const NOT_NAMES: [&str; 24] = [
    "хочу",
    "хотела",
    "хотел",
    "бы",
    "не",
    "могу",
    "буду",
    "приду",
    "записана",
    "записан",
    "уже",
    "тут",
    "здесь",
    "вас",
    "вам",
    "по",
    "на",
    "с",
    "к",
    "в",
    "из",
    "от",
    "так",
    "только",
];

/// "меня зовут Анна", "я Анна", "это Анна", "Анна, здравствуйте" is too unsure: only the
/// explicit forms count. Returns the name with its first letter capitalised.
pub fn name(text: &str) -> Option<String> {
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_alphabetic() || c == '-'))
        .filter(|w| !w.is_empty())
        .collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    for i in 0..lower.len() {
        let next = match (lower[i].as_str(), lower.get(i + 1).map(String::as_str)) {
            ("зовут", _) => i + 1,
            ("меня", Some("зовут")) => continue,
            ("я" | "это", Some(w)) if !NOT_NAMES.contains(&w) => i + 1,
            _ => continue,
        };
        let candidate = words.get(next)?;
        let is_name = candidate.chars().count() >= 2
            && candidate.chars().all(|c| c.is_alphabetic() || c == '-')
            && !NOT_NAMES.contains(&lower[next].as_str());
        // After "я"/"это" only a capitalised word is a name ("я Анна", not "я опаздываю").
        let explicit = lower[i] == "зовут";
        if is_name && (explicit || candidate.chars().next().is_some_and(char::is_uppercase)) {
            let mut c = candidate.chars();
            let first: String = c.next().into_iter().flat_map(char::to_uppercase).collect();
            return Some(first + &c.as_str().to_lowercase());
        }
    }
    None
}

/// The answer to "как к вам обращаться?": "Мария", "Мария, 8 918 …", "мария". The first word,
/// when it is a word (not a number, not one of the usual non-names) — only after the question.
pub fn answered_name(text: &str) -> Option<String> {
    if let Some(n) = name(text) {
        return Some(n);
    }
    let first = text
        .split(|c: char| !(c.is_alphabetic() || c == '-'))
        .find(|w| !w.is_empty())?;
    let lower = first.to_lowercase();
    let greeting = [
        "здравствуйте",
        "добрый",
        "привет",
        "да",
        "нет",
        "ок",
        "спасибо",
        "хорошо",
    ];
    let ok = first.chars().count() >= 2
        && !NOT_NAMES.contains(&lower.as_str())
        && !greeting.contains(&lower.as_str())
        && text.trim_start().starts_with(first);
    ok.then(|| {
        let mut c = first.chars();
        let head: String = c.next().into_iter().flat_map(char::to_uppercase).collect();
        head + &c.as_str().to_lowercase()
    })
}

/// The offered slot a reply names: its button label, or its time ("в 18:30", "18:30", "давайте
/// на 11") when exactly one offered slot is at that time.
pub fn pick(offered: &[Slot], text: &str, tz: Tz) -> Option<Slot> {
    let t = text.trim();
    if let Some(s) = offered.iter().find(|s| format::label(s.start, tz) == t) {
        return Some(s.clone());
    }
    let times = clock_times(t);
    if times.is_empty() {
        return None;
    }
    let matching: Vec<&Slot> = offered
        .iter()
        .filter(|s| {
            let l = s.start.with_timezone(&tz);
            let hm = (chrono::Timelike::hour(&l), chrono::Timelike::minute(&l));
            times.contains(&hm)
        })
        .collect();
    match matching.as_slice() {
        [one] => Some((*one).clone()),
        _ => None,
    }
}

/// "18:30", "18.30", "в 11", "на 9" → (hour, minute) pairs.
fn clock_times(text: &str) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let t = text.to_lowercase();
    let tokens: Vec<&str> = t
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    for (i, tok) in tokens.iter().enumerate() {
        let tok = tok.trim_matches(|c: char| !c.is_ascii_digit());
        if let Some((h, m)) = tok.split_once([':', '.']) {
            if let (Ok(h), Ok(m)) = (h.parse::<u32>(), m.parse::<u32>()) {
                if h < 24 && m < 60 && m.to_string().len() <= 2 {
                    out.push((h, m));
                }
            }
        } else if let Ok(h) = tok.parse::<u32>() {
            let after_prep = i > 0 && matches!(tokens[i - 1], "в" | "на" | "к");
            if h < 24 && (after_prep || tokens.len() == 1) {
                out.push((h, 0));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn names() {
        assert_eq!(name("Меня зовут анна"), Some("Анна".into()));
        assert_eq!(name("Здравствуйте, я Ольга, хочу на маникюр"), Some("Ольга".into()));
        assert_eq!(name("я хочу записаться"), None);
        assert_eq!(name("я опаздываю"), None);
        assert_eq!(name("это Мария-Луиза"), Some("Мария-луиза".into()));
        assert_eq!(name("на завтра"), None);
    }

    #[test]
    fn picks_by_label_or_time() {
        let tz = chrono_tz::Europe::Moscow;
        let slot = |h: u32, m: u32| Slot {
            resource: "anna".into(),
            service: "cut".into(),
            start: Utc.with_ymd_and_hms(2026, 12, 18, h - 3, m, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 12, 18, h - 2, m, 0).unwrap(),
        };
        let offered = vec![slot(18, 0), slot(18, 30), slot(19, 15)];
        assert_eq!(pick(&offered, "пт 18.12 в 18:30", tz), Some(slot(18, 30)));
        assert_eq!(pick(&offered, "давайте в 19.15", tz), Some(slot(19, 15)));
        assert_eq!(pick(&offered, "на 18", tz), Some(slot(18, 0)));
        assert_eq!(pick(&offered, "в 12", tz), None);
        assert_eq!(pick(&offered, "8 918 123 45 67", tz), None);
    }
}
