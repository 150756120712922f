//! Russian number words, as clients dictate phone numbers: digit by digit
//! ("восемь девять один восемь") or in compound groups ("девятьсот
//! восемнадцать", "сорок пять").

/// How a numeral word may combine with the next ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// 0; never combines ("сто ноль" is not a number people say).
    Zero,
    /// 1..9
    Unit,
    /// 10..19
    Teen,
    /// 20, 30 .. 90
    Ten,
    /// 100 .. 900
    Hundred,
}

/// Whether a lowercase letter can start a numeral: most words of a message do not, and are
/// passed over without comparing them to every numeral (`numeral` and the lexer ask this
/// first; a test checks every numeral against it).
#[inline]
pub(crate) fn may_start_numeral(a: char, b: char) -> bool {
    matches!(
        (a, b),
        ('н', 'о' | 'у')
            | ('о', 'д')
            | ('д', 'в' | 'е')
            | ('т', 'р')
            | ('ч', 'е')
            | ('п', 'я')
            | ('ш', 'е')
            | ('с', 'е' | 'о' | 'т')
            | ('в', 'о')
    )
}

/// The value of a lowercase word (ё folded to е), if it is a numeral.
pub(crate) fn numeral(word: &str) -> Option<(u16, Class)> {
    let mut c = word.chars();
    if !matches!((c.next(), c.next()), (Some(a), Some(b)) if may_start_numeral(a, b)) {
        return None;
    }
    numeral_word(word)
}

fn numeral_word(word: &str) -> Option<(u16, Class)> {
    use Class::*;
    Some(match word {
        "ноль" | "нуль" | "нолик" => (0, Zero),
        "один" | "одна" => (1, Unit),
        "два" | "две" => (2, Unit),
        "три" => (3, Unit),
        "четыре" => (4, Unit),
        "пять" => (5, Unit),
        "шесть" => (6, Unit),
        "семь" => (7, Unit),
        "восемь" => (8, Unit),
        "девять" => (9, Unit),
        "десять" => (10, Teen),
        "одиннадцать" => (11, Teen),
        "двенадцать" => (12, Teen),
        "тринадцать" => (13, Teen),
        "четырнадцать" => (14, Teen),
        "пятнадцать" => (15, Teen),
        "шестнадцать" => (16, Teen),
        "семнадцать" => (17, Teen),
        "восемнадцать" => (18, Teen),
        "девятнадцать" => (19, Teen),
        "двадцать" => (20, Ten),
        "тридцать" => (30, Ten),
        "сорок" => (40, Ten),
        "пятьдесят" => (50, Ten),
        "шестьдесят" => (60, Ten),
        "семьдесят" => (70, Ten),
        "восемьдесят" => (80, Ten),
        "девяносто" => (90, Ten),
        "сто" => (100, Hundred),
        "двести" => (200, Hundred),
        "триста" => (300, Hundred),
        "четыреста" => (400, Hundred),
        "пятьсот" => (500, Hundred),
        "шестьсот" => (600, Hundred),
        "семьсот" => (700, Hundred),
        "восемьсот" => (800, Hundred),
        "девятьсот" => (900, Hundred),
        _ => return None,
    })
}

/// `numeral_word` of a word given as its UTF-8 bytes (the lexer folds words into a byte
/// buffer; a test checks both agree on every numeral and on other words).
pub(crate) fn numeral_bytes(word: &[u8]) -> Option<(u16, Class)> {
    use Class::*;
    Some(match word {
        // ноль | нуль | нолик
        b"\xd0\xbd\xd0\xbe\xd0\xbb\xd1\x8c"
        | b"\xd0\xbd\xd1\x83\xd0\xbb\xd1\x8c"
        | b"\xd0\xbd\xd0\xbe\xd0\xbb\xd0\xb8\xd0\xba" => (0, Zero),
        // один | одна
        b"\xd0\xbe\xd0\xb4\xd0\xb8\xd0\xbd" | b"\xd0\xbe\xd0\xb4\xd0\xbd\xd0\xb0" => (1, Unit),
        // два | две
        b"\xd0\xb4\xd0\xb2\xd0\xb0" | b"\xd0\xb4\xd0\xb2\xd0\xb5" => (2, Unit),
        // три
        b"\xd1\x82\xd1\x80\xd0\xb8" => (3, Unit),
        // четыре
        b"\xd1\x87\xd0\xb5\xd1\x82\xd1\x8b\xd1\x80\xd0\xb5" => (4, Unit),
        // пять
        b"\xd0\xbf\xd1\x8f\xd1\x82\xd1\x8c" => (5, Unit),
        // шесть
        b"\xd1\x88\xd0\xb5\xd1\x81\xd1\x82\xd1\x8c" => (6, Unit),
        // семь
        b"\xd1\x81\xd0\xb5\xd0\xbc\xd1\x8c" => (7, Unit),
        // восемь
        b"\xd0\xb2\xd0\xbe\xd1\x81\xd0\xb5\xd0\xbc\xd1\x8c" => (8, Unit),
        // девять
        b"\xd0\xb4\xd0\xb5\xd0\xb2\xd1\x8f\xd1\x82\xd1\x8c" => (9, Unit),
        // десять
        b"\xd0\xb4\xd0\xb5\xd1\x81\xd1\x8f\xd1\x82\xd1\x8c" => (10, Teen),
        // одиннадцать
        b"\xd0\xbe\xd0\xb4\xd0\xb8\xd0\xbd\xd0\xbd\xd0\xb0\xd0\xb4\xd1\x86\xd0\xb0\xd1\x82\xd1\x8c" => (11, Teen),
        // двенадцать
        b"\xd0\xb4\xd0\xb2\xd0\xb5\xd0\xbd\xd0\xb0\xd0\xb4\xd1\x86\xd0\xb0\xd1\x82\xd1\x8c" => (12, Teen),
        // тринадцать
        b"\xd1\x82\xd1\x80\xd0\xb8\xd0\xbd\xd0\xb0\xd0\xb4\xd1\x86\xd0\xb0\xd1\x82\xd1\x8c" => (13, Teen),
        // четырнадцать
        b"\xd1\x87\xd0\xb5\xd1\x82\xd1\x8b\xd1\x80\xd0\xbd\xd0\xb0\xd0\xb4\xd1\x86\xd0\xb0\xd1\x82\xd1\x8c" => {
            (14, Teen)
        }
        // пятнадцать
        b"\xd0\xbf\xd1\x8f\xd1\x82\xd0\xbd\xd0\xb0\xd0\xb4\xd1\x86\xd0\xb0\xd1\x82\xd1\x8c" => (15, Teen),
        // шестнадцать
        b"\xd1\x88\xd0\xb5\xd1\x81\xd1\x82\xd0\xbd\xd0\xb0\xd0\xb4\xd1\x86\xd0\xb0\xd1\x82\xd1\x8c" => (16, Teen),
        // семнадцать
        b"\xd1\x81\xd0\xb5\xd0\xbc\xd0\xbd\xd0\xb0\xd0\xb4\xd1\x86\xd0\xb0\xd1\x82\xd1\x8c" => (17, Teen),
        // восемнадцать
        b"\xd0\xb2\xd0\xbe\xd1\x81\xd0\xb5\xd0\xbc\xd0\xbd\xd0\xb0\xd0\xb4\xd1\x86\xd0\xb0\xd1\x82\xd1\x8c" => {
            (18, Teen)
        }
        // девятнадцать
        b"\xd0\xb4\xd0\xb5\xd0\xb2\xd1\x8f\xd1\x82\xd0\xbd\xd0\xb0\xd0\xb4\xd1\x86\xd0\xb0\xd1\x82\xd1\x8c" => {
            (19, Teen)
        }
        // двадцать
        b"\xd0\xb4\xd0\xb2\xd0\xb0\xd0\xb4\xd1\x86\xd0\xb0\xd1\x82\xd1\x8c" => (20, Ten),
        // тридцать
        b"\xd1\x82\xd1\x80\xd0\xb8\xd0\xb4\xd1\x86\xd0\xb0\xd1\x82\xd1\x8c" => (30, Ten),
        // сорок
        b"\xd1\x81\xd0\xbe\xd1\x80\xd0\xbe\xd0\xba" => (40, Ten),
        // пятьдесят
        b"\xd0\xbf\xd1\x8f\xd1\x82\xd1\x8c\xd0\xb4\xd0\xb5\xd1\x81\xd1\x8f\xd1\x82" => (50, Ten),
        // шестьдесят
        b"\xd1\x88\xd0\xb5\xd1\x81\xd1\x82\xd1\x8c\xd0\xb4\xd0\xb5\xd1\x81\xd1\x8f\xd1\x82" => (60, Ten),
        // семьдесят
        b"\xd1\x81\xd0\xb5\xd0\xbc\xd1\x8c\xd0\xb4\xd0\xb5\xd1\x81\xd1\x8f\xd1\x82" => (70, Ten),
        // восемьдесят
        b"\xd0\xb2\xd0\xbe\xd1\x81\xd0\xb5\xd0\xbc\xd1\x8c\xd0\xb4\xd0\xb5\xd1\x81\xd1\x8f\xd1\x82" => (80, Ten),
        // девяносто
        b"\xd0\xb4\xd0\xb5\xd0\xb2\xd1\x8f\xd0\xbd\xd0\xbe\xd1\x81\xd1\x82\xd0\xbe" => (90, Ten),
        // сто
        b"\xd1\x81\xd1\x82\xd0\xbe" => (100, Hundred),
        // двести
        b"\xd0\xb4\xd0\xb2\xd0\xb5\xd1\x81\xd1\x82\xd0\xb8" => (200, Hundred),
        // триста
        b"\xd1\x82\xd1\x80\xd0\xb8\xd1\x81\xd1\x82\xd0\xb0" => (300, Hundred),
        // четыреста
        b"\xd1\x87\xd0\xb5\xd1\x82\xd1\x8b\xd1\x80\xd0\xb5\xd1\x81\xd1\x82\xd0\xb0" => (400, Hundred),
        // пятьсот
        b"\xd0\xbf\xd1\x8f\xd1\x82\xd1\x8c\xd1\x81\xd0\xbe\xd1\x82" => (500, Hundred),
        // шестьсот
        b"\xd1\x88\xd0\xb5\xd1\x81\xd1\x82\xd1\x8c\xd1\x81\xd0\xbe\xd1\x82" => (600, Hundred),
        // семьсот
        b"\xd1\x81\xd0\xb5\xd0\xbc\xd1\x8c\xd1\x81\xd0\xbe\xd1\x82" => (700, Hundred),
        // восемьсот
        b"\xd0\xb2\xd0\xbe\xd1\x81\xd0\xb5\xd0\xbc\xd1\x8c\xd1\x81\xd0\xbe\xd1\x82" => (800, Hundred),
        // девятьсот
        b"\xd0\xb4\xd0\xb5\xd0\xb2\xd1\x8f\xd1\x82\xd1\x8c\xd1\x81\xd0\xbe\xd1\x82" => (900, Hundred),
        _ => return None,
    })
}

/// Whether a word spells "plus" (as in "плюс семь девятьсот ...").
pub(crate) fn is_plus(word: &str) -> bool {
    matches!(word, "плюс" | "plus")
}

/// Combine a run of numerals into digit groups, greedily, the way they are
/// spoken: hundred [ten [unit] | teen | unit], ten [unit], teen, unit, zero.
/// Each group keeps its written width, so "сорок пять" is "45" and "сто
/// двадцать три" is "123". Returns (digits, numerals consumed).
///
/// With `split_round_hundreds`, "девятьсот сорок пять" reads as "900", "45":
/// spoken numbers are ambiguous there, so the extractor retries this way
/// when the greedy reading gives no number.
pub(crate) fn compose(run: &[(u16, Class)], split_round_hundreds: bool) -> (String, usize) {
    use Class::*;
    let Some(&(v0, c0)) = run.first() else {
        return (String::new(), 0);
    };
    let next = |i: usize| run.get(i).copied();
    match c0 {
        Zero => ("0".into(), 1),
        Unit | Teen => (v0.to_string(), 1),
        Ten => match next(1) {
            Some((u, Unit)) => ((v0 + u).to_string(), 2),
            _ => (v0.to_string(), 1),
        },
        Hundred if split_round_hundreds && matches!(next(1), Some((_, Ten))) => (v0.to_string(), 1),
        Hundred => match (next(1), next(2)) {
            (Some((t, Ten)), Some((u, Unit))) => ((v0 + t + u).to_string(), 3),
            (Some((t, Ten | Teen | Unit)), _) => ((v0 + t).to_string(), 2),
            _ => (v0.to_string(), 1),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(words: &str) -> Vec<String> {
        let run: Vec<_> = words.split_whitespace().map(|w| numeral(w).expect("numeral")).collect();
        let mut i = 0;
        let mut out = Vec::new();
        while i < run.len() {
            let (d, n) = compose(&run[i..], false);
            out.push(d);
            i += n;
        }
        out
    }

    #[test]
    fn every_numeral_starts_with_a_letter_the_quick_check_lets_through() {
        let mut seen = 0;
        for a in 'а'..='я' {
            for w in [
                "ноль",
                "нуль",
                "нолик",
                "один",
                "одна",
                "два",
                "две",
                "три",
                "четыре",
                "пять",
                "шесть",
                "семь",
                "восемь",
                "девять",
                "десять",
                "одиннадцать",
                "двенадцать",
                "тринадцать",
                "четырнадцать",
                "пятнадцать",
                "шестнадцать",
                "семнадцать",
                "восемнадцать",
                "девятнадцать",
                "двадцать",
                "тридцать",
                "сорок",
                "пятьдесят",
                "шестьдесят",
                "семьдесят",
                "восемьдесят",
                "девяносто",
                "сто",
                "двести",
                "триста",
                "четыреста",
                "пятьсот",
                "шестьсот",
                "семьсот",
                "восемьсот",
                "девятьсот",
            ] {
                assert!(numeral_word(w).is_some(), "{w}");
                assert_eq!(numeral_bytes(w.as_bytes()), numeral_word(w), "{w}");
                if w.starts_with(a) {
                    let b = w.chars().nth(1).expect("two letters");
                    assert!(may_start_numeral(a, b), "{w}");
                    assert!(numeral(w).is_some(), "{w}");
                    seen += 1;
                }
            }
        }
        assert_eq!(seen, 41);
    }

    #[test]
    fn numerals_by_bytes_are_the_numerals() {
        for w in [
            "ноль",
            "нолик",
            "одна",
            "две",
            "девять",
            "десять",
            "восемнадцать",
            "сорок",
            "девяносто",
            "сто",
            "девятьсот",
        ] {
            assert_eq!(numeral_bytes(w.as_bytes()), numeral_word(w), "{w}");
            assert!(numeral_bytes(w.as_bytes()).is_some(), "{w}");
        }
        for w in ["", "н", "нол", "стоит", "сорока", "девят", "семьи", "abc"] {
            assert_eq!(numeral_bytes(w.as_bytes()), None, "{w}");
            assert_eq!(numeral_word(w), None, "{w}");
        }
    }

    #[test]
    fn compound_groups_as_russians_dictate() {
        assert_eq!(
            groups("восемь девятьсот восемнадцать сто двадцать три сорок пять шестьдесят семь"),
            ["8", "918", "123", "45", "67"]
        );
        assert_eq!(groups("девятьсот пять ноль ноль"), ["905", "0", "0"]);
        assert_eq!(groups("двадцать ноль"), ["20", "0"]);
        assert_eq!(groups("восемь девять один"), ["8", "9", "1"]);
        let run = [(900, Class::Hundred), (40, Class::Ten), (5, Class::Unit)];
        assert_eq!(compose(&run, true), ("900".to_string(), 1));
    }
}
