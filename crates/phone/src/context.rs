//! The words around a run of digits: "ИНН 2366536810" is not a phone even
//! if the digits would form a valid one, "тел 4953675406" is.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hint {
    /// A word that introduces a phone number ("тел", "звоните", "whatsapp").
    Phone,
    /// A word that introduces some other number ("ИНН", "заказ", "карта", "№").
    Other,
    None,
}

/// How many words before the digits are looked at: the nearest hint wins,
/// so "ИНН 123, тел 8918..." gives each number its own hint.
const WINDOW_WORDS: usize = 4;

/// Words that stand between an other-number word and its number without
/// changing what the number is: "заказ номер 123", "номер вашего заказа
/// 123", "ИНН организации 123". "номер" on its own means a phone number.
fn is_designator(w: &str) -> bool {
    matches!(w, "номер" | "номера" | "номеру" | "номером" | "n" | "nr" | "num")
}

fn is_filler(w: &str) -> bool {
    matches!(
        w,
        "мой"
            | "моя"
            | "моего"
            | "моей"
            | "мою"
            | "мое"
            | "ваш"
            | "ваша"
            | "вашего"
            | "вашей"
            | "вашу"
            | "ваше"
            | "наш"
            | "наша"
            | "нашего"
            | "нашей"
            | "нашу"
            | "наше"
            | "его"
            | "ее"
            | "их"
            | "этого"
            | "этой"
            | "организации"
            | "компании"
            | "фирмы"
            | "ип"
            | "ооо"
            | "получателя"
            | "отправителя"
            | "плательщика"
            | "клиента"
    )
}

/// What follows an other-number stem in a verb: "заказать", "оплатил",
/// "договорились", "заказываю". The client says what they do; the word
/// introduces no number.
fn is_verb_rest(rest: &str) -> bool {
    const ENDINGS: &[&str] = &[
        "ть", "ти", "ся", "сь", "л", "ла", "ло", "ли", "аю", "яю", "ешь", "ет", "ем", "ете", "ут", "ют", "ит", "им",
        "ите", "ишь", "ат", "ят", "йте",
    ];
    !rest.is_empty() && ENDINGS.iter().any(|e| rest.ends_with(e))
}

const OTHER_EXACT: &[&str] = &[
    "инн",
    "кпп",
    "бик",
    "огрн",
    "огрнип",
    "окпо",
    "октмо",
    "снилс",
    "арт",
    "сч",
    "код",
    "пин",
    "pin",
    "cvv",
    "cvc",
    "id",
    "iban",
    "swift",
    "inn",
    "sku",
    "ref",
    "л/с",
    "р/с",
    "к/с",
    "рс",
    "кс",
    "лс",
    "серия",
    "полис",
    "омс",
    "дмс",
    "vin",
    "imei",
    "no",
];
const OTHER_PREFIX: &[&str] = &[
    "инн",
    "паспорт",
    "карт",
    "заказ",
    "счет",
    "счёт",
    "индекс",
    "артикул",
    "трек",
    "договор",
    "накладн",
    "квитанц",
    "чек",
    "платеж",
    "платёж",
    "реквизит",
    "лицев",
    "расчетн",
    "расчётн",
    "корр",
    "order",
    "invoice",
    "track",
    "account",
    "card",
    "passport",
    "сертификат",
    "талон",
    "заявк",
    "отправлен",
    "посылк",
    "почтов",
    "штрих",
    "barcode",
    "модел",
    "лот",
    "партия",
    "сумм",
    "цена",
    "стоимост",
    "итого",
    "оплат",
    "инвентар",
    "серийн",
    "номенклатур",
    // Tickets, requests and claims: ten digits there are an ID, not a phone.
    "тикет",
    "ticket",
    "обращени",
    "инцидент",
    "претензи",
    "рекламаци",
    "контракт",
    "спецификаци",
    "уведомлени",
    "запрос",
    "кейс",
    "брон",
    "жалоб",
    "идентификатор",
    "регистрац",
    "протокол",
];
const PHONE_EXACT: &[&str] = &["т", "тел", "tel", "тг", "tg", "wa", "ph", "моб", "сот", "мт"];
const PHONE_PREFIX: &[&str] = &[
    "телефон",
    "номер",
    "тел.",
    "мобил",
    "сотов",
    "звон",
    "позвон",
    "набер",
    "набир",
    "whatsapp",
    "ватсап",
    "вотсап",
    "вацап",
    "вотсап",
    "watsap",
    "viber",
    "вайбер",
    "telegram",
    "телеграм",
    "телега",
    "phone",
    "контакт",
    "связ",
    "перезвон",
    "sms",
    "смс",
    "мой",
    "моя",
    "муж",
    "жен",
    "мам",
    "пап",
    "сын",
    "доч",
    "брат",
    "сестр",
    "рабоч",
    "домашн",
    "личн",
    "менеджер",
    "директор",
    "бухгалтер",
    "секретар",
    "офис",
    "приемн",
    "приёмн",
    "горяч",
    "бесплатн",
    "линия",
    "справ",
    "факс",
    "call",
    "mobile",
    "cell",
];

/// `word.strip_prefix(prefix)`, with the first two bytes compared inline first: most words
/// share no first letter with a given prefix, and a library call per prefix was the
/// extractor's largest cost after lexing.
#[inline]
fn after_prefix<'w>(word: &'w str, prefix: &str) -> Option<&'w str> {
    let (w, p) = (word.as_bytes(), prefix.as_bytes());
    if p.len() > w.len() || p.first() != w.first() || p.get(1).is_some_and(|b| Some(b) != w.get(1)) {
        return None;
    }
    word.strip_prefix(prefix)
}

/// The four word lists split by first letter, so a word is compared only with the entries
/// that start as it does (each word before a run of digits was compared with all 150).
struct Buckets {
    other_exact: Vec<Vec<&'static str>>,
    other_prefix: Vec<Vec<&'static str>>,
    phone_exact: Vec<Vec<&'static str>>,
    phone_prefix: Vec<Vec<&'static str>>,
}

/// Latin a-z, Cyrillic а-я and ё, then one bucket for any other first character.
const BUCKETS: usize = 26 + 32 + 1 + 1;

fn bucket(w: &str) -> usize {
    match w.chars().next() {
        Some(c @ 'a'..='z') => c as usize - 'a' as usize,
        Some(c @ 'а'..='я') => 26 + c as usize - 'а' as usize,
        Some('ё') => 58,
        _ => 59,
    }
}

/// Each bucket with the entries of its first letter, and every bucket also with those of the
/// last one (entries starting with any other character; none today), so one bucket is all a
/// word is compared with.
fn by_first_letter(list: &[&'static str]) -> Vec<Vec<&'static str>> {
    let mut out = vec![Vec::new(); BUCKETS];
    for w in list {
        out[bucket(w)].push(*w);
    }
    let others = out[BUCKETS - 1].clone();
    for b in out.iter_mut().take(BUCKETS - 1) {
        b.extend(others.iter().copied());
    }
    out
}

static BUCKETED: std::sync::LazyLock<Buckets> = std::sync::LazyLock::new(|| Buckets {
    other_exact: by_first_letter(OTHER_EXACT),
    other_prefix: by_first_letter(OTHER_PREFIX),
    phone_exact: by_first_letter(PHONE_EXACT),
    phone_prefix: by_first_letter(PHONE_PREFIX),
});

fn classify_word(w: &str) -> Hint {
    let b = &*BUCKETED;
    let k = bucket(w);
    let other_prefix = b.other_prefix[k]
        .iter()
        .any(|p| after_prefix(w, p).is_some_and(|rest| !is_verb_rest(rest)));
    if b.other_exact[k].contains(&w) || other_prefix {
        // "номер заказа" is an order: the nearest word decides, so "заказа" wins here.
        Hint::Other
    } else if b.phone_exact[k].contains(&w) || b.phone_prefix[k].iter().any(|p| after_prefix(w, p).is_some()) {
        Hint::Phone
    } else {
        Hint::None
    }
}

fn is_word_char(c: char) -> bool {
    crate::scan::is_letter_or_digit(c) || matches!(c, '/' | '-' | '№' | '#')
}

/// Whether the text between a word and what follows it ends the clause:
/// "Заказ на завтра, 8918...", "Хочу сделать заказ. 8918...". A dot after
/// an abbreviation ("тел.", "сч.", "арт.") does not.
fn breaks_clause(gap: &str, word: &str) -> bool {
    gap.chars().any(|c| matches!(c, ',' | ';' | '!' | '?' | '…' | '\n'))
        || (gap.contains('.') && !OTHER_EXACT.contains(&word) && !PHONE_EXACT.contains(&word))
}

/// The hint given by the text just before a run of digits (`before` is the
/// text between the previous run and this one).
///
/// A word about some other number ("ИНН", "заказ", "карта", "№") vetoes the
/// digits only when it introduces them: right before them, or separated
/// only by "номер", a possessive or the owner ("номер вашего заказа",
/// "ИНН организации"), within one clause. "Заказ на завтра, 8918..." and
/// "код домофона не работает 8918..." mention an order and a code, and
/// then give a phone.
pub(crate) fn hint_before(before: &str) -> Hint {
    // One word buffer per thread: this runs for every run of digits of every message.
    thread_local! {
        static WORD: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    WORD.with(|w| match w.try_borrow_mut() {
        Ok(mut word) => hint_before_with(before, &mut word),
        Err(_) => hint_before_with(before, &mut String::new()),
    })
}

fn hint_before_with(before: &str, word: &mut String) -> Hint {
    let mut seen = 0;
    let mut adjacent = true;
    // What the skipped designators and possessives say on their own ("мой", "номер").
    let mut fallback = Hint::None;
    let mut pos = before.len();
    loop {
        let head = &before[..pos];
        let Some(word_end) = head
            .char_indices()
            .rev()
            .find(|&(_, c)| is_word_char(c))
            .map(|(i, c)| i + c.len_utf8())
        else {
            break;
        };
        let word_start = head[..word_end]
            .char_indices()
            .rev()
            .find(|&(_, c)| !is_word_char(c))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let gap = &head[word_end..];
        let token = &head[word_start..word_end];
        pos = word_start;
        word.clear();
        crate::scan::push_folded(
            word,
            token
                .trim_matches(|c: char| !crate::scan::is_letter_or_digit(c) && !matches!(c, '/' | '№' | '#'))
                .trim_matches('/'),
        );
        if adjacent && breaks_clause(gap, word) {
            adjacent = false;
        }
        // "SR-9161112233", "INC-…": a system's code glued to the digits by a dash.
        if adjacent
            && seen == 0
            && gap.is_empty()
            && token.ends_with(['-', '_'])
            && (2..=5).contains(&word.len())
            && word.bytes().all(|b| b.is_ascii_alphabetic())
            && classify_word(word) != Hint::Phone
        {
            return Hint::Other;
        }
        if word.is_empty() || word.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        // '№' and '#' are a word meaning "number of".
        if word.contains('№') || word.contains('#') {
            if adjacent {
                return Hint::Other;
            }
            seen += 1;
            continue;
        }
        seen += 1;
        if adjacent && (is_designator(word) || is_filler(word)) {
            if fallback == Hint::None {
                fallback = classify_word(word);
            }
        } else {
            match classify_word(word) {
                Hint::Other if adjacent => return Hint::Other,
                // A word about another number, not introducing this one: it
                // is not about this number either way.
                Hint::Other => return fallback,
                Hint::Phone => return Hint::Phone,
                Hint::None if fallback == Hint::Phone => return Hint::Phone,
                Hint::None => adjacent = false,
            }
        }
        if seen >= WINDOW_WORDS {
            break;
        }
    }
    fallback
}

/// Whether the text right after a run of digits makes it an amount or a
/// quantity ("89181234567 руб", "1 250 000 ₽").
pub(crate) fn is_amount_after(after: &str) -> bool {
    // Units are short: the next few characters decide.
    let t = after.trim_start();
    // Only a text whose first character lowercases to a unit's first one can start with a
    // unit: the rest (most numbers end the message or come before a word) is not lowercased.
    let Some(first) = t.chars().next().and_then(|c| c.to_lowercase().next()) else {
        return false;
    };
    if !UNITS.iter().any(|u| u.starts_with(first)) {
        return false;
    }
    let t = t.char_indices().nth(12).map_or(t, |(i, _)| &t[..i]).to_lowercase();
    UNITS.iter().any(|u| {
        t.starts_with(u)
            && t[u.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_alphabetic() || *u == "руб" || *u == "тыс")
    }) || t == "р"
        || t.starts_with("р ")
}

/// Units an amount is followed by (and "р", checked apart).
const UNITS: &[&str] = &[
    "руб",
    "р.",
    "₽",
    "$",
    "€",
    "usd",
    "eur",
    "rub",
    "тыс",
    "млн",
    "коп",
    "шт",
    "%",
    "кг",
    "kg",
    "грн",
    "сум",
    "тенге",
    "₸",
    "byn",
];

/// Whose number the words before it say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Owner {
    /// "мой …", "мне на …", "звоните мне …".
    Client,
    /// The business's: "ваш …", "у вас на сайте …", "ваша горячая линия …".
    Business,
    #[default]
    Unknown,
}

/// The nearest possessive or pointer within the clause before a number
/// ("у вас на сайте указан 8 800 …, а мой 8 918 …": the first is the
/// business's, the second the client's). Only words of this clause count,
/// so "ваш менеджер не перезвонил. Мой 8 918 …" gives the client's.
pub(crate) fn owner_before(before: &str) -> Owner {
    // One buffer per thread, as for `hint_before`: this runs for every number found.
    thread_local! {
        static WORD: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    WORD.with(|w| match w.try_borrow_mut() {
        Ok(mut word) => owner_before_with(before, &mut word),
        Err(_) => owner_before_with(before, &mut String::new()),
    })
}

fn owner_before_with(before: &str, folded: &mut String) -> Owner {
    // The clause's end signs are ASCII, so the clause is found bytewise.
    let clause_start = before
        .as_bytes()
        .iter()
        .rposition(|b| matches!(b, b'.' | b'!' | b'?' | b';' | b'\n' | b','))
        .map_or(0, |i| i + 1);
    let clause = &before[clause_start..];
    // A clause that is only the number's separator ("…, 8 918 …") leaves the
    // owner of the previous clause undecided: look no further.
    // The last six words, nearest first, each folded in turn into one buffer: the nearest
    // possessive decides, unless the nearest word is "с"/"со" and one of them is "я".
    let mut first_is_from = false;
    let mut said_i = false;
    let mut owner = Owner::Unknown;
    let words = clause
        .split(|c: char| !crate::scan::is_letter(c))
        .rev()
        .filter(|w| !w.is_empty());
    for (n, w) in words.take(6).enumerate() {
        folded.clear();
        crate::scan::push_folded(folded, w);
        let w = folded.as_str();
        if n == 0 {
            first_is_from = w == "с" || w == "со";
        }
        said_i |= w == "я";
        if owner != Owner::Unknown {
            continue;
        }
        if w.starts_with("ваш") || matches!(w, "вас" | "вам" | "вами" | "сайте" | "сайт" | "сайта")
        {
            owner = Owner::Business;
        } else if matches!(w, "мой" | "моя" | "мое" | "моего" | "мою" | "моей" | "мои")
            // Not "мне": "мне звонили с 8 495 …" is someone else's number.
            || matches!(w, "личный" | "сотовый" | "мобильный")
        {
            owner = Owner::Client;
        }
        // Past the decision only "я" still matters, and only after "с".
        if owner != Owner::Unknown && !first_is_from {
            break;
        }
    }
    // "я вам писала с 8 928 …": the number the client writes or calls from is theirs, even
    // with "вам" in between ("ваш менеджер звонил с …" has no "я" and stays the business's).
    if first_is_from && said_i {
        return Owner::Client;
    }
    owner
}

/// Whether the words right after a number make it a document's ID: "… от
/// 12.11", "… от 3 ноября" (a request or contract is dated, a phone is
/// not), "… статус", "… не отслеживается".
pub(crate) fn is_id_after(after: &str) -> bool {
    let t = after.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, ',' | '-' | '—' | ':'));
    let lower: String = t.chars().take(40).flat_map(char::to_lowercase).collect();
    if let Some(rest) = lower.strip_prefix("от ") {
        let rest = rest.trim_start();
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let after_digits = rest[digits.len()..].trim_start();
        const MONTHS: &[&str] = &[
            "янв", "фев", "мар", "апр", "мая", "май", "июн", "июл", "авг", "сен", "окт", "ноя", "дек",
        ];
        let dated = !digits.is_empty()
            && digits.len() <= 2
            && (after_digits.starts_with(['.', '/']) || MONTHS.iter().any(|m| after_digits.starts_with(m)));
        return dated || (digits.len() == 4 && !after_digits.starts_with("до"));
    }
    const STATUS: &[&str] = &["статус", "не отслежива", "отслежива", "зарегистрир", "в обработке"];
    STATUS.iter().any(|w| lower.starts_with(w)) || named_after(&lower)
}

/// "9161112233 — номер вашей заявки", "… это номер заказа": the words after the number say
/// which other number it is ("номер", possessives, then an other-number word).
fn named_after(lower: &str) -> bool {
    let clause = lower.split([',', ';', '.', '!', '?', '\n']).next().unwrap_or("");
    let mut words = clause.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty());
    let mut w = words.next();
    if w == Some("это") {
        w = words.next();
    }
    if !w.is_some_and(is_designator) {
        return false;
    }
    for w in words.take(3) {
        if is_filler(w) {
            continue;
        }
        return classify_word(w) == Hint::Other;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `owner_before` as written before it reused one buffer: the same answer.
    fn reference_owner_before(before: &str) -> Owner {
        let clause_start = before
            .char_indices()
            .rev()
            .find(|&(_, c)| matches!(c, '.' | '!' | '?' | ';' | '\n' | ','))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let clause = &before[clause_start..];
        let words: Vec<String> = clause
            .split(|c: char| !crate::scan::is_letter(c))
            .rev()
            .filter(|w| !w.is_empty())
            .take(6)
            .map(|w| {
                let mut folded = String::with_capacity(w.len());
                crate::scan::push_folded(&mut folded, w);
                folded
            })
            .collect();
        if words.first().is_some_and(|w| w == "с" || w == "со") && words.iter().any(|w| w == "я") {
            return Owner::Client;
        }
        for w in &words {
            if w.starts_with("ваш") || matches!(w.as_str(), "вас" | "вам" | "вами" | "сайте" | "сайт" | "сайта")
            {
                return Owner::Business;
            }
            if matches!(w.as_str(), "мой" | "моя" | "мое" | "моего" | "мою" | "моей" | "мои")
                || matches!(w.as_str(), "личный" | "сотовый" | "мобильный")
            {
                return Owner::Client;
            }
        }
        Owner::Unknown
    }

    /// `is_amount_after` as written before it compared without lowercasing a copy.
    fn reference_is_amount_after(after: &str) -> bool {
        let t = after.trim_start();
        let t = t.char_indices().nth(12).map_or(t, |(i, _)| &t[..i]).to_lowercase();
        UNITS.iter().any(|u| {
            t.starts_with(u)
                && t[u.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphabetic() || *u == "руб" || *u == "тыс")
        }) || t == "р"
            || t.starts_with("р ")
    }

    #[test]
    fn owners_and_amounts_answer_as_before() {
        let mut texts: Vec<String> = Vec::new();
        for f in [
            include_str!("../tests/data/phones-labelled.jsonl"),
            include_str!("../tests/data/phones-blind.jsonl"),
            include_str!("../tests/data/phones-families.jsonl"),
            include_str!("../tests/data/phones-sample.jsonl"),
        ] {
            for line in f.lines() {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                let Some(t) = v["text"].as_str() else { continue };
                // Every prefix and suffix at a character boundary: what comes before and
                // after each possible number.
                for (i, _) in t.char_indices().step_by(3) {
                    texts.push(t[..i].to_string());
                    texts.push(t[i..].to_string());
                }
            }
        }
        texts.extend(
            [
                "я вам писала с ",
                "с ",
                "я с ",
                "ваш с я ",
                "РУБ",
                " Р",
                "р",
                "р.",
                "Р 5",
                "ТЫСЯЧ",
                "₽5",
                "Руб.",
                " ШТУК",
                "İ руб",
                "ǅ",
                "ẞ тыс",
            ]
            .map(String::from),
        );
        for t in &texts {
            assert_eq!(owner_before(t), reference_owner_before(t), "{t:?}");
            assert_eq!(is_amount_after(t), reference_is_amount_after(t), "{t:?}");
        }
    }

    /// `classify_word` as written before the buckets: the same answer for every word.
    fn reference_classify_word(w: &str) -> Hint {
        let other_prefix = OTHER_PREFIX
            .iter()
            .any(|p| after_prefix(w, p).is_some_and(|rest| !is_verb_rest(rest)));
        if OTHER_EXACT.contains(&w) || other_prefix {
            Hint::Other
        } else if PHONE_EXACT.contains(&w) || PHONE_PREFIX.iter().any(|p| after_prefix(w, p).is_some()) {
            Hint::Phone
        } else {
            Hint::None
        }
    }

    #[test]
    fn bucketed_lists_classify_as_the_flat_ones() {
        let mut words: Vec<String> = [OTHER_EXACT, OTHER_PREFIX, PHONE_EXACT, PHONE_PREFIX]
            .iter()
            .flat_map(|l| l.iter())
            .flat_map(|w| {
                let w = w.to_string();
                [
                    w.clone(),
                    format!("{w}а"),
                    format!("{w}ть"),
                    w.chars().skip(1).collect(),
                    w.chars().take(2).collect(),
                ]
            })
            .collect();
        for f in [
            include_str!("../tests/data/phones-labelled.jsonl"),
            include_str!("../tests/data/phones-blind.jsonl"),
            include_str!("../tests/data/phones-families.jsonl"),
        ] {
            for line in f.lines() {
                for w in line.split(|c: char| !is_word_char(c)) {
                    let mut folded = String::new();
                    crate::scan::push_folded(&mut folded, w);
                    words.push(folded);
                }
            }
        }
        words.extend(["", "№", "#", "1инн", "ё", "z", "ÿ"].map(String::from));
        for w in &words {
            assert_eq!(classify_word(w), reference_classify_word(w), "{w:?}");
        }
    }

    #[test]
    fn nearest_word_wins() {
        assert_eq!(hint_before("ИНН "), Hint::Other);
        assert_eq!(hint_before("заказ №"), Hint::Other);
        assert_eq!(hint_before("мой номер заказа "), Hint::Other);
        assert_eq!(hint_before("ИНН 2366536810, тел. "), Hint::Phone);
        assert_eq!(hint_before("вот мой телефон "), Hint::Phone);
        assert_eq!(hint_before("привет, запишите "), Hint::None);
        assert_eq!(hint_before("мой "), Hint::Phone);
        assert_eq!(hint_before("вот номер "), Hint::Phone);
        assert_eq!(hint_before("тел. "), Hint::Phone);
        assert_eq!(hint_before("сч. "), Hint::Other);
    }

    #[test]
    fn other_words_veto_only_what_they_introduce() {
        assert_eq!(hint_before("заказ номер "), Hint::Other);
        assert_eq!(hint_before("номер вашего заказа "), Hint::Other);
        assert_eq!(hint_before("ИНН организации "), Hint::Other);
        assert_eq!(hint_before("заказ № "), Hint::Other);
        assert_eq!(hint_before("номер моего заказа: "), Hint::Other);
        assert_eq!(hint_before("Заказ на завтра, "), Hint::None);
        assert_eq!(hint_before("Хочу сделать заказ. "), Hint::None);
        assert_eq!(hint_before("Цена устраивает, "), Hint::None);
        assert_eq!(hint_before("код домофона не работает, "), Hint::None);
        assert_eq!(hint_before("хочу заказать "), Hint::None);
        assert_eq!(hint_before("договорились "), Hint::None);
        assert_eq!(hint_before("заказ на завтра, мой "), Hint::Phone);
        assert_eq!(hint_before("заказ! - "), Hint::None);
        assert_eq!(hint_before("ИНН: "), Hint::Other);
        assert_eq!(hint_before("ИНН - "), Hint::Other);
    }

    #[test]
    fn owners_and_ids() {
        assert_eq!(owner_before("у вас на сайте указан "), Owner::Business);
        assert_eq!(owner_before("это ваш? а мой "), Owner::Client);
        assert_eq!(owner_before("ваш менеджер не перезвонил. Запишите "), Owner::Unknown);
        assert_eq!(owner_before("мой сотовый "), Owner::Client);
        assert!(is_id_after(" от 12.11.2026"));
        assert!(is_id_after(" от 3 ноября"));
        assert!(!is_id_after(" от 9 до 18"));
        assert!(!is_id_after(" Анна"));
        assert!(is_id_after(" — номер вашей заявки?"));
        assert!(is_id_after(" это номер заказа"));
        assert!(!is_id_after(" — номер для связи"));
        assert!(!is_id_after(" — мой номер"));
        assert_eq!(hint_before("SR-"), Hint::Other);
        assert_eq!(hint_before("tel-"), Hint::Phone);
        assert_eq!(owner_before("я вам писала с "), Owner::Client);
        assert_eq!(owner_before("ваш менеджер звонил с "), Owner::Business);
    }

    #[test]
    fn amounts() {
        assert!(is_amount_after(" руб."));
        assert!(is_amount_after("₽"));
        assert!(!is_amount_after(" спасибо"));
        assert!(!is_amount_after(" (Анна)"));
    }
}
