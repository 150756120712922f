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

fn classify_word(w: &str) -> Hint {
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
    if OTHER_EXACT.contains(&w) || OTHER_PREFIX.iter().any(|p| w.starts_with(p)) {
        // "номер заказа" is an order: the nearest word decides, so "заказа" wins here.
        Hint::Other
    } else if PHONE_EXACT.contains(&w) || PHONE_PREFIX.iter().any(|p| w.starts_with(p)) {
        Hint::Phone
    } else {
        Hint::None
    }
}

/// The hint given by the text just before a run of digits (`before` is the
/// text between the previous run and this one).
pub(crate) fn hint_before(before: &str) -> Hint {
    let mut seen = 0;
    let mut word = String::new();
    // Walk backwards over words; '№' and '#' count as a word meaning "number of".
    for token in before
        .rsplit(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')' | '"' | '«' | '»'))
        .filter(|t| !t.is_empty())
    {
        if token.contains('№') || token.contains('#') {
            return Hint::Other;
        }
        word.clear();
        word.extend(
            token
                .trim_matches(|c: char| !c.is_alphanumeric() && c != '/')
                .chars()
                .flat_map(char::to_lowercase)
                .map(|c| if c == 'ё' { 'е' } else { c }),
        );
        if word.is_empty() || word.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        match classify_word(&word) {
            Hint::None => {}
            h => return h,
        }
        seen += 1;
        if seen >= WINDOW_WORDS {
            break;
        }
    }
    Hint::None
}

/// Whether the text right after a run of digits makes it an amount or a
/// quantity ("89181234567 руб", "1 250 000 ₽").
pub(crate) fn is_amount_after(after: &str) -> bool {
    let t = after.trim_start().to_lowercase();
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
    UNITS.iter().any(|u| {
        t.starts_with(u)
            && t[u.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_alphabetic() || *u == "руб" || *u == "тыс")
    }) || t == "р"
        || t.starts_with("р ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_word_wins() {
        assert_eq!(hint_before("ИНН "), Hint::Other);
        assert_eq!(hint_before("заказ №"), Hint::Other);
        assert_eq!(hint_before("мой номер заказа "), Hint::Other);
        assert_eq!(hint_before("ИНН 2366536810, тел. "), Hint::Phone);
        assert_eq!(hint_before("вот мой телефон "), Hint::Phone);
        assert_eq!(hint_before("привет, запишите "), Hint::None);
    }

    #[test]
    fn amounts() {
        assert!(is_amount_after(" руб."));
        assert!(is_amount_after("₽"));
        assert!(!is_amount_after(" спасибо"));
        assert!(!is_amount_after(" (Анна)"));
    }
}
