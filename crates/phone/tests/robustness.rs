//! Outside input must never panic the extractor, whatever it contains.

use leadbot_phone::{Extractor, PhoneNumber};

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn shareable_between_threads() {
    assert_send_sync::<Extractor>();
    assert_send_sync::<PhoneNumber>();
}

#[test]
fn random_messages_never_panic() {
    const ALPHABET: &[&str] = &[
        "0",
        "1",
        "7",
        "8",
        "9",
        " ",
        "\u{a0}",
        "-",
        ".",
        "(",
        ")",
        "+",
        "О",
        "o",
        "№",
        ",",
        ":",
        "📞",
        "тел",
        "ИНН",
        "восемь",
        "девятьсот",
        "сорок",
        "ноль",
        "плюс",
        "\n",
        "é",
        "ё",
        "\u{200b}",
        "руб",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        // xorshift: deterministic, no dependency needed.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let extractors: Vec<Extractor> = ["RU", "UZ", "KZ", "BY", "UA", "US", "de"]
        .iter()
        .map(|r| Extractor::new(r).expect("known region"))
        .collect();
    for _ in 0..3000 {
        let len = (next() % 40) as usize;
        let text: String = (0..len)
            .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
            .collect();
        for e in &extractors {
            for n in e.analyse(&text).found {
                // Every number found round-trips through its E.164 form.
                let back: PhoneNumber = n.e164().parse().expect("E.164 round trip");
                assert_eq!(back, n, "{text:?}");
                assert!(!n.masked().is_empty());
            }
            let parts: Vec<&str> = text.split(' ').collect();
            let _ = e.assemble(&parts);
        }
    }
}
