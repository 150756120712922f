//! The Russian vocabulary the matchers need: number words in the cases
//! clients use them in ("в пять", "к пяти", "после пяти"), ordinals for
//! dates and "полпятого", weekdays, months, and the words that show a number
//! is not a time ("в 2 раза", "2 человека").
//!
//! Everything here takes a lower-cased word with "ё" already written as "е".

use chrono::Weekday;

/// A cardinal number word 2..=59 in any case form, or "пара" (2).
/// "один" is left out on purpose: as an hour clients say "час", and "в одном
/// салоне" must not become a time.
pub(crate) fn cardinal(w: &str) -> Option<u32> {
    let v = match w {
        "два" | "две" | "двух" | "двум" | "двумя" | "пара" | "пару" | "пары" => 2,
        "три" | "трех" | "трем" | "тремя" => 3,
        "четыре" | "четырех" | "четырем" | "четырьмя" => 4,
        "пять" | "пяти" | "пятью" => 5,
        "шесть" | "шести" | "шестью" => 6,
        "семь" | "семи" | "семью" => 7,
        "восемь" | "восьми" | "восемью" | "восьмью" => 8,
        "девять" | "девяти" | "девятью" => 9,
        "десять" | "десяти" | "десятью" => 10,
        "одиннадцать" | "одиннадцати" => 11,
        "двенадцать" | "двенадцати" => 12,
        "тринадцать" | "тринадцати" => 13,
        "четырнадцать" | "четырнадцати" => 14,
        "пятнадцать" | "пятнадцати" => 15,
        "шестнадцать" | "шестнадцати" => 16,
        "семнадцать" | "семнадцати" => 17,
        "восемнадцать" | "восемнадцати" => 18,
        "девятнадцать" | "девятнадцати" => 19,
        "двадцать" | "двадцати" => 20,
        "тридцать" | "тридцати" => 30,
        "сорок" | "сорока" => 40,
        "пятьдесят" | "пятидесяти" => 50,
        _ => return None,
    };
    Some(v)
}

/// "один" and its forms, accepted only where a unit follows ("через один день").
pub(crate) fn is_one(w: &str) -> bool {
    matches!(w, "один" | "одна" | "одну" | "одного" | "одной")
}

/// An ordinal 1..=31 in the genitive or neuter nominative/accusative, as in
/// "первого января", "на пятое", "двадцать пятого". Returns the value of the
/// single word; compounds ("двадцать" + "пятого") are added by the caller.
pub(crate) fn ordinal(w: &str) -> Option<u32> {
    let stem_value = [
        ("перв", 1),
        ("втор", 2),
        ("трет", 3),
        ("четверт", 4),
        ("пят", 5),
        ("шест", 6),
        ("седьм", 7),
        ("восьм", 8),
        ("девят", 9),
        ("десят", 10),
        ("одиннадцат", 11),
        ("двенадцат", 12),
        ("тринадцат", 13),
        ("четырнадцат", 14),
        ("пятнадцат", 15),
        ("шестнадцат", 16),
        ("семнадцат", 17),
        ("восемнадцат", 18),
        ("девятнадцат", 19),
        ("двадцат", 20),
        ("тридцат", 30),
    ];
    // "третьего"/"третье" have a soft sign before the ending.
    let endings = ["ьего", "ьему", "ье", "ого", "ому", "ое", "ее"];
    for (stem, value) in stem_value {
        if let Some(rest) = w.strip_prefix(stem) {
            if endings.contains(&rest) {
                return Some(value);
            }
        }
    }
    None
}

/// The ordinal hour after "пол"/"половине": "пятого" → 5 (so "полпятого" is
/// 4:30). Only 1..=12, genitive.
pub(crate) fn hour_ordinal(w: &str) -> Option<u32> {
    let v = match w {
        "первого" => 1,
        "второго" => 2,
        "третьего" => 3,
        "четвертого" => 4,
        "пятого" => 5,
        "шестого" => 6,
        "седьмого" => 7,
        "восьмого" => 8,
        "девятого" => 9,
        "десятого" => 10,
        "одиннадцатого" => 11,
        "двенадцатого" => 12,
        _ => return None,
    };
    Some(v)
}

/// A weekday name in any case, singular or plural, or its usual
/// abbreviation. The flag says the form is plural ("по субботам",
/// "понедельники"), which means "any such day", not the next one.
pub(crate) fn weekday(w: &str) -> Option<(Weekday, bool)> {
    use Weekday::*;
    let abbr = match w {
        "пн" | "пнд" | "пон" => Some(Mon),
        "вт" | "втр" | "втор" => Some(Tue),
        "ср" | "срд" => Some(Wed),
        "чт" | "чтв" | "четв" => Some(Thu),
        "пт" | "птн" => Some(Fri),
        "сб" | "суб" | "субб" => Some(Sat),
        "вс" | "вск" | "воскр" => Some(Sun),
        _ => None,
    };
    if let Some(d) = abbr {
        return Some((d, false));
    }
    let plural = w.ends_with("ам") || w.ends_with("ами") || w.ends_with("ях");
    let day = if w.starts_with("понедельник") {
        Mon
    } else if w.starts_with("вторник") {
        Tue
    } else if matches!(
        w,
        "среда" | "среду" | "среды" | "среде" | "средой" | "средам" | "средами" | "средах"
    ) {
        Wed
    } else if w.starts_with("четверг") {
        Thu
    } else if w.starts_with("пятниц") {
        Fri
    } else if (w.starts_with("суббот") || w.starts_with("субот")) && !w.contains("ботник") {
        Sat
    } else if w.starts_with("воскресен") || w.starts_with("воскресень") {
        Sun
    } else {
        return None;
    };
    let plural = plural || matches!(w, "понедельники" | "вторники" | "четверги");
    Some((day, plural))
}

/// A month name in the genitive (as in dates), nominative or prepositional,
/// or its usual abbreviation: 1..=12. Exact forms, because short stems
/// swallow other words ("мама", "декор", "маникюр").
pub(crate) fn month(w: &str) -> Option<u32> {
    const FORMS: [&[&str]; 12] = [
        &["январь", "января", "январе", "янв"],
        &["февраль", "февраля", "феврале", "фев", "февр"],
        &["март", "марта", "марте", "мар"],
        &["апрель", "апреля", "апреле", "апр"],
        &["май", "мая", "мае"],
        &["июнь", "июня", "июне", "июн"],
        &["июль", "июля", "июле", "июл"],
        &["август", "августа", "августе", "авг"],
        &["сентябрь", "сентября", "сентябре", "сен", "сент"],
        &["октябрь", "октября", "октябре", "окт"],
        &["ноябрь", "ноября", "ноябре", "ноя", "нояб"],
        &["декабрь", "декабря", "декабре", "дек"],
    ];
    FORMS.iter().position(|forms| forms.contains(&w)).map(|i| i as u32 + 1)
}

/// Words after a number that show it counts something other than hours or
/// days: "в 2 раза", "2 человека", "до 5 лет", "в 15 минутах от метро",
/// "1500 руб", "на 3 ногтя". Matched by stem, since each comes in many cases.
pub(crate) fn is_counted_thing(w: &str) -> bool {
    const STEMS: &[&str] = &[
        "раз",
        "человек",
        "чел",
        "лет",
        "год",
        "мес",
        "недел",
        "минут",
        "мин",
        "секунд",
        "сек",
        "км",
        "метр",
        "шаг",
        "этаж",
        "класс",
        "кабинет",
        "каб",
        "квартир",
        "кв",
        "дом",
        "корпус",
        "подъезд",
        "руб",
        "р",
        "тыс",
        "т",
        "к",
        "процент",
        "штук",
        "шт",
        "ногт",
        "пальц",
        "зуб",
        "сеанс",
        "процедур",
        "смен",
        "мм",
        "см",
        "кг",
        "гр",
        "грамм",
        "мл",
        "литр",
        "порци",
        "мест",
        "окн",
        "мастер",
        "рук",
        "дет",
        "ребен",
        "подруг",
        "звезд",
        "клик",
        "цвет",
        "тон",
        "слой",
        "вариант",
        "услуг",
        "позици",
        "зон",
        "числ",
        "лишн",
        "бутыл",
        "баллон",
        "бал",
        "уров",
        "ступен",
        "сантим",
        "ед",
        "кус",
        "пачк",
        "коробк",
        "этап",
        "канал",
        "прием",
        "посещени",
        "визит",
        "курс",
        "вопрос",
        "ампул",
        "укол",
        "инъекц",
        "упаков",
        "заказ",
        "сторон",
        "отзыв",
        "фото",
    ];
    if month(w).is_some() {
        return true;
    }
    STEMS.iter().any(|s| {
        if s.chars().count() <= 2 {
            // one- or two-letter stems ("р", "т", "к", "кв") only as the whole word
            w == *s
        } else {
            w.starts_with(s)
        }
    })
}

/// Words before a number that make "8.11" a label, not a date: hair-dye
/// shades ("оттенок 8.11"), article and order numbers, sizes.
pub(crate) fn is_label(w: &str) -> bool {
    const STEMS: &[&str] = &[
        "оттен",
        "цвет",
        "тон",
        "краск",
        "номер",
        "артикул",
        "арт",
        "верси",
        "размер",
        "код",
        "заказ",
        "счет",
        "договор",
        "палитр",
        "серия",
    ];
    STEMS.iter().any(|s| w.starts_with(s))
}

/// Symbols after a number that make it money or a share: "1500₽", "50%".
pub(crate) fn is_counted_symbol(c: char) -> bool {
    matches!(c, '₽' | '%' | '$' | '€' | '×' | '*' | 'x')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekdays_in_cases_and_abbreviations() {
        assert_eq!(weekday("субботу"), Some((Weekday::Sat, false)));
        assert_eq!(weekday("субботам"), Some((Weekday::Sat, true)));
        assert_eq!(weekday("пн"), Some((Weekday::Mon, false)));
        assert_eq!(weekday("среди"), None);
        assert_eq!(weekday("средний"), None);
    }

    #[test]
    fn months_without_false_friends() {
        assert_eq!(month("декабря"), Some(12));
        assert_eq!(month("дек"), Some(12));
        assert_eq!(month("мая"), Some(5));
        assert_eq!(month("марта"), Some(3));
        assert_eq!(month("мама"), None);
        assert_eq!(month("декор"), None);
        assert_eq!(month("маникюр"), None);
    }

    #[test]
    fn ordinals() {
        assert_eq!(ordinal("первого"), Some(1));
        assert_eq!(ordinal("третьего"), Some(3));
        assert_eq!(ordinal("пятое"), Some(5));
        assert_eq!(ordinal("пятница"), None);
    }
}
