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
