//! Local numbers with a city: a 5-7-digit city number ("22-33-44") is a
//! whole phone only with its area code, which the city the client names
//! gives ("звоните в Караганде 41-22-05", a previous message "я из
//! Ростова"). The table holds the larger cities of Russia and Kazakhstan
//! (both +7) with the area code whose length makes a 10-digit national
//! number; a city with several codes has its main one.

use crate::context::{self, Hint};
use crate::extract::Extractor;
use crate::number::PhoneNumber;
use crate::scan;

/// (stem of the city's name as written in any case form, area code).
/// Stems are the name up to its declinable ending: "ростов" takes
/// "Ростове", "Ростова"; "караганд" takes "Караганде", "Караганды".
const AREAS: &[(&str, &str)] = &[
    // Russia
    ("москв", "495"),
    ("санкт-петербург", "812"),
    ("петербург", "812"),
    ("питер", "812"),
    ("спб", "812"),
    ("новосибирск", "383"),
    ("екатеринбург", "343"),
    ("казан", "843"),
    ("нижн", "831"),
    ("челябинск", "351"),
    ("самар", "846"),
    ("омск", "3812"),
    ("ростов", "863"),
    ("уф", "347"),
    ("красноярск", "391"),
    ("воронеж", "473"),
    ("перм", "342"),
    ("волгоград", "8442"),
    ("краснодар", "861"),
    ("саратов", "8452"),
    ("тюмен", "3452"),
    ("тольятти", "8482"),
    ("ижевск", "3412"),
    ("барнаул", "3852"),
    ("ульяновск", "8422"),
    ("иркутск", "3952"),
    ("хабаровск", "4212"),
    ("ярославл", "4852"),
    ("владивосток", "423"),
    ("махачкал", "8722"),
    ("томск", "3822"),
    ("оренбург", "3532"),
    ("кемерово", "3842"),
    ("новокузнецк", "3843"),
    ("рязан", "4912"),
    ("астрахан", "8512"),
    ("пенз", "8412"),
    ("липецк", "4742"),
    ("киров", "8332"),
    ("чебоксар", "8352"),
    ("тул", "4872"),
    ("калининград", "4012"),
    ("курск", "4712"),
    ("ставропол", "8652"),
    ("сочи", "862"),
    ("твер", "4822"),
    ("белгород", "4722"),
    ("брянск", "4832"),
    ("иванов", "4932"),
    ("владимир", "4922"),
    ("архангельск", "8182"),
    ("мурманск", "8152"),
    ("смоленск", "4812"),
    ("калуг", "4842"),
    ("сургут", "3462"),
    ("таганрог", "8634"),
    ("шахт", "8636"),
    ("новочеркасск", "8635"),
    ("волгодонск", "8639"),
    ("батайск", "86354"),
    ("челн", "8552"),
    ("сыктывкар", "8212"),
    ("якутск", "4112"),
    ("улан-удэ", "3012"),
    ("чит", "3022"),
    ("абакан", "3902"),
    ("вологд", "8172"),
    ("череповец", "8202"),
    ("костром", "4942"),
    ("орл", "4862"),
    ("тамбов", "4752"),
    ("псков", "8112"),
    ("новгород", "8162"),
    ("петрозаводск", "8142"),
    ("нальчик", "8662"),
    ("владикавказ", "8672"),
    ("грозн", "8712"),
    ("магнитогорск", "3519"),
    ("тагил", "3435"),
    ("стерлитамак", "3473"),
    ("йошкар-ол", "8362"),
    ("саранск", "8342"),
    ("курган", "3522"),
    ("севастопол", "8692"),
    ("симферопол", "3652"),
    ("майкоп", "8772"),
    ("норильск", "3919"),
    ("нижневартовск", "3466"),
    ("нижнекамск", "8555"),
    ("благовещенск", "4162"),
    ("южно-сахалинск", "4242"),
    ("петропавловск-камчатск", "4152"),
    ("новороссийск", "8617"),
    ("пятигорск", "8793"),
    ("кисловодск", "87937"),
    ("армавир", "86137"),
    ("анап", "86133"),
    ("геленджик", "86141"),
    ("подольск", "4967"),
    ("зеленоград", "499"),
    ("балаших", "495"),
    ("химк", "495"),
    ("мытищ", "495"),
    ("северодвинск", "8184"),
    ("дзержинск", "8313"),
    ("орск", "3537"),
    ("энгельс", "8453"),
    ("сызран", "8464"),
    ("каменск-уральск", "3439"),
    ("златоуст", "3513"),
    ("бийск", "3854"),
    ("прокопьевск", "3846"),
    ("братск", "3953"),
    ("ангарск", "3955"),
    ("комсомольск-на-амур", "4217"),
    ("находк", "4236"),
    ("уссурийск", "4234"),
    ("нефтекамск", "34783"),
    ("альметьевск", "8553"),
    ("димитровград", "84235"),
    ("обнинск", "484"),
    ("ковров", "49232"),
    ("муром", "49234"),
    ("рыбинск", "4855"),
    ("элист", "84722"),
    ("черкесск", "8782"),
    ("горно-алтайск", "38822"),
    ("биробиджан", "42622"),
    ("магадан", "4132"),
    ("анадыр", "42722"),
    ("салехард", "34922"),
    ("ханты-мансийск", "3467"),
    ("уренго", "3494"),
    ("ноябрьск", "3496"),
    ("нефтеюганск", "3463"),
    ("тобольск", "3456"),
    // Kazakhstan
    ("алмат", "727"),
    ("астан", "7172"),
    ("шымкент", "7252"),
    ("караганд", "7212"),
    ("актобе", "7132"),
    ("тараз", "7262"),
    ("павлодар", "7182"),
    ("усть-каменогорск", "7232"),
    ("семе", "7222"),
    ("атырау", "7122"),
    ("костана", "7142"),
    ("кызылорд", "7242"),
    ("уральск", "7112"),
    ("петропавловск", "7152"),
    ("актау", "7292"),
    ("кокшетау", "7162"),
    ("талдыкорган", "7282"),
    ("туркестан", "72533"),
    ("экибастуз", "7187"),
    ("темиртау", "7213"),
    ("жезказган", "7102"),
    ("балхаш", "71036"),
    ("жанаозен", "72934"),
    ("степногорск", "71645"),
    ("риддер", "72336"),
    ("лисаковск", "71433"),
    ("кызыл", "39422"),
];

/// Whether `word` names the city `stem` stands for. Names that are also
/// words, first names or surnames are matched by exact forms ("уфа", not
/// "уфолог"; "во Владимире", not "Владимир, 233-18-90"; "Иваново", not
/// "Иванов"), and adjectives are not cities: "на Тверской", "Смоленская",
/// "ростовский" are streets and regions, not a city's own number.
fn word_matches(stem: &str, word: &str) -> bool {
    let exact: &[&str] = match stem {
        "уф" => &["уфа", "уфе", "уфы", "уфу", "уфой"],
        "тул" => &["тула", "туле", "тулы", "тулу", "тулой"],
        "нижн" => &["нижний", "нижнем", "нижнего", "нижнему"],
        "шахт" => &["шахты", "шахтах"],
        "перм" => &["пермь", "перми"],
        "семе" => &["семее"],
        "иванов" => &["иваново", "иванове"],
        "владимир" => &["владимире"],
        "киров" => &["кирове"],
        "казан" => &["казань", "казани"],
        "астан" => &["астана", "астане", "астаны", "астану"],
        "твер" => &["тверь", "твери"],
        "самар" => &["самара", "самаре", "самары", "самару", "самарой"],
        "сочи" => &["сочи"],
        // Both halves decline: "в Петропавловске-Камчатском".
        "петропавловск-камчатск" => {
            return word.starts_with("петропавловск") && word.contains("-камчат")
        }
        "петропавловск" => return word.starts_with("петропавловск") && !word.contains("-камчат"),
        "челн" => &["челны", "челнах", "челнов"],
        "чит" => &["чита", "чите", "читы", "читу", "читой"],
        "орл" => &["орел", "орле", "орла", "орлу", "орлом"],
        "грозн" => &["грозный", "грозном", "грозного"],
        "курган" => &["курган", "кургане", "кургана", "кургану"],
        "находк" => &["находке"],
        "химк" => &["химки", "химках", "химок"],
        "кызыл" => &["кызыл", "кызыле", "кызыла"],
        "энгельс" => &["энгельсе", "энгельса"],
        "муром" => &["муроме", "мурома", "муром"],
        _ => {
            let Some(rest) = word.strip_prefix(stem) else {
                return false;
            };
            let adjective = if stem.ends_with("ск") {
                matches!(rest, "ая" | "ой" | "ую" | "ий" | "ие" | "их" | "ое" | "ые" | "им")
            } else {
                rest.starts_with("ск") || rest.starts_with("ин")
            };
            return !adjective;
        }
    };
    exact.contains(&word)
}

/// The area code of the first city named in `text`, if the table has it.
pub fn area_code_of(text: &str) -> Option<&'static str> {
    let lower = text.to_lowercase().replace('ё', "е");
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphabetic() || c == '-'))
        .filter(|w| !w.is_empty())
        .collect();
    for (i, word) in words.iter().enumerate() {
        // "в Нижнем Тагиле", "Великий Новгород": the second word names the city.
        if word.starts_with("нижн") && words.get(i + 1).is_some_and(|w| w.starts_with("тагил")) {
            continue;
        }
        if let Some((_, code)) = AREAS.iter().find(|(stem, _)| word_matches(stem, word)) {
            return Some(code);
        }
    }
    None
}

impl Extractor {
    /// City numbers in `text` made whole with the area code of a city named
    /// in it or, failing that, in `context` (the client's previous messages,
    /// or a city the CRM card gives). Only for +7 (Russia and Kazakhstan),
    /// only numbers written as local numbers are ("22-33-44", "201 23 45",
    /// or right after a word like "тел"), so a postal code next to a city
    /// name stays one.
    pub fn local_numbers(&self, text: &str, context: &[&str]) -> Vec<PhoneNumber> {
        if self.country_code() != 7 {
            return Vec::new();
        }
        let area = area_code_of(text)
            .or_else(|| context.iter().rev().find_map(|c| area_code_of(c)))
            .or_else(|| context.iter().rev().find_map(|c| lone_area_code(c)));
        let scan = scan::scan(text);
        let mut out = Vec::new();
        let mut prev_end = 0;
        for chunk in &scan.chunks {
            let groups = &scan.groups[chunk.groups.clone()];
            let (Some(first), Some(last)) = (groups.first(), groups.last()) else {
                continue;
            };
            let hint = context::hint_before(&text[prev_end..first.bytes.start]);
            prev_end = last.bytes.end;
            if first.plus || groups.iter().any(|g| g.not_phone || g.words) || hint == Hint::Other {
                continue;
            }
            if context::is_amount_after(&text[last.bytes.end..]) {
                continue;
            }
            let digits_of = |gs: &[scan::Group]| -> String {
                gs.iter()
                    .filter_map(|g| std::str::from_utf8(scan.digits_of(g)).ok())
                    .collect()
            };
            // "41-22-05 (7212)": the code in brackets after the number, not its tail.
            if groups.len() >= 3 && last.sep == scan::Sep::Paren {
                let code = digits_of(std::slice::from_ref(last));
                let local = digits_of(&groups[..groups.len() - 1]);
                if is_area_code(&code) && code.len() + local.len() == 10 {
                    if let Some(n) = PhoneNumber::from_parts(7, &format!("{code}{local}")) {
                        out.push(n);
                        continue;
                    }
                }
            }
            let Some(area) = area else {
                continue;
            };
            let digits = digits_of(groups);
            let written_local = groups.len() >= 2 || hint == Hint::Phone;
            if !written_local || area.len() + digits.len() != 10 {
                continue;
            }
            if let Some(n) = PhoneNumber::from_parts(7, &format!("{area}{digits}")) {
                out.push(n);
            }
        }
        out
    }
}

fn is_area_code(code: &str) -> bool {
    AREAS.iter().any(|(_, c)| *c == code)
}

/// A previous message that is only an area code of the table ("код 863",
/// "(7212)"): the next city number takes it.
fn lone_area_code(text: &str) -> Option<&'static str> {
    let scan = scan::scan(text);
    let [chunk] = scan.chunks.as_slice() else {
        return None;
    };
    let [group] = &scan.groups[chunk.groups.clone()] else {
        return None;
    };
    let code = std::str::from_utf8(scan.digits_of(group)).ok()?;
    AREAS.iter().find(|(_, c)| *c == code).map(|(_, c)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_codes_by_city_in_any_case_form() {
        for (text, code) in [
            ("я из Ростова-на-Дону", "863"),
            ("живу в Ростове", "863"),
            ("Москва, Тверская", "495"),
            ("в Питере", "812"),
            ("мы в Караганде", "7212"),
            ("Алматы", "727"),
            ("в Уфе", "347"),
            ("Новочеркасск", "8635"),
            ("в Волгограде", "8442"),
            ("из Астаны", "7172"),
            ("Екатеринбург", "343"),
            ("в Самаре", "846"),
            ("в Новосибирске", "383"),
            ("во Владимире", "4922"),
            ("в Нижнем Новгороде", "831"),
            ("в Нижнем Тагиле", "3435"),
            ("Великий Новгород", "8162"),
            ("в Набережных Челнах", "8552"),
            ("из Читы", "3022"),
            ("живу в Орле", "4862"),
            ("в Петропавловске-Камчатском", "4152"),
            ("Петропавловск", "7152"),
            ("в Нижнекамске", "8555"),
            ("в Нижневартовске", "3466"),
            ("из Улан-Удэ", "3012"),
            ("Кокшетау", "7162"),
            ("в Кызылорде", "7242"),
            ("в Кызыле", "39422"),
            ("в Грозном", "8712"),
            ("в Новом Уренгое", "3494"),
            ("в Химках", "495"),
        ] {
            assert_eq!(area_code_of(text), Some(code), "{text}");
        }
        for text in [
            "уфолог",
            "тулуп",
            "привет",
            "ростбиф",
            "на Тверской",
            "Иванов Пётр",
            "Владимир Сергеевич",
            "Самарканд",
            "Смоленская площадь",
            "ростовская область",
            "новосибирская трасса",
            "карагандинский",
            "читал ваш отзыв",
            "орлов",
            "классная находка",
            "грозная туча",
            "муромцев",
            "на Набережной",
        ] {
            assert_eq!(area_code_of(text), None, "{text}");
        }
    }

    #[test]
    fn the_area_code_in_brackets_after_or_in_the_previous_message() {
        let e = Extractor::new("RU").expect("RU");
        let got = |t: &str, ctx: &[&str]| -> Vec<String> {
            e.local_numbers(t, ctx).iter().map(|n| n.e164().to_string()).collect()
        };
        assert_eq!(got("41-22-05 (7212)", &[]), ["+77212412205"]);
        assert_eq!(got("201-23-45 (863)", &[]), ["+78632012345"]);
        assert_eq!(got("201-23-45", &["код 863"]), ["+78632012345"]);
        assert_eq!(got("201-23-45", &["(863)"]), ["+78632012345"]);
        // A bracketed number that is no area code of the table.
        assert!(got("201-23-45 (123)", &[]).is_empty());
    }

    #[test]
    fn every_area_code_makes_a_ten_digit_number_with_a_local_one() {
        // Each code with a local number of the length that completes it must
        // be a valid +7 number, or the table holds a wrong code.
        for (stem, code) in AREAS {
            let local = "2223344"[..10 - code.len()].to_string();
            assert!(
                PhoneNumber::from_parts(7, &format!("{code}{local}")).is_some(),
                "{stem} {code}"
            );
        }
    }
}

/// (stem of a country's or city's name, ISO region) for the CIS countries
/// whose national formats clients write as at home ("8 029 …" in Minsk,
/// "0 67 …" in Kyiv). Kazakhstan shares +7 with Russia and needs no switch.
const NAMED_REGIONS: &[(&str, &str)] = &[
    ("беларус", "BY"),
    ("белорус", "BY"),
    ("минск", "BY"),
    ("брест", "BY"),
    ("гомел", "BY"),
    ("витебск", "BY"),
    ("гродн", "BY"),
    ("могилев", "BY"),
    ("украин", "UA"),
    ("киев", "UA"),
    ("харьков", "UA"),
    ("одесс", "UA"),
    ("днепр", "UA"),
    ("львов", "UA"),
    ("узбекистан", "UZ"),
    ("ташкент", "UZ"),
    ("самарканд", "UZ"),
    ("кыргызстан", "KG"),
    ("киргиз", "KG"),
    ("бишкек", "KG"),
    ("таджикистан", "TJ"),
    ("душанбе", "TJ"),
    ("армени", "AM"),
    ("ереван", "AM"),
    ("азербайджан", "AZ"),
    ("баку", "AZ"),
    ("грузи", "GE"),
    ("тбилиси", "GE"),
    ("молдов", "MD"),
    ("молдав", "MD"),
    ("кишинев", "MD"),
];

/// The CIS region a text names ("я из Бреста" → BY), for reading a number
/// in that country's national format.
pub fn named_region(text: &str) -> Option<&'static str> {
    let lower = text.to_lowercase().replace('ё', "е");
    lower
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .find_map(|w| {
            NAMED_REGIONS
                .iter()
                .find(|(stem, _)| w.starts_with(stem))
                .map(|(_, r)| *r)
        })
}

#[cfg(test)]
mod region_tests {
    use super::*;

    #[test]
    fn cis_regions_by_name() {
        assert_eq!(named_region("я из Бреста"), Some("BY"));
        assert_eq!(named_region("живу в Минске"), Some("BY"));
        assert_eq!(named_region("Ташкент"), Some("UZ"));
        assert_eq!(named_region("мы в Киеве"), Some("UA"));
        assert_eq!(named_region("Ростов"), None);
        // Every region in the table is one the extractor knows.
        for (_, r) in NAMED_REGIONS {
            assert!(Extractor::new(r).is_ok(), "{r}");
        }
    }
}
