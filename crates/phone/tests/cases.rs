//! One test per kind of writing the issue lists, plus what must not be found.

use leadbot_phone::{Extractor, NumberKind, Rejection};

fn find(region: &str, text: &str) -> Vec<String> {
    Extractor::new(region)
        .expect("region")
        .find(text)
        .iter()
        .map(|n| n.e164().to_string())
        .collect()
}

fn ru(text: &str) -> Vec<String> {
    find("RU", text)
}

#[test]
fn common_russian_formats() {
    for t in [
        "+7 918 123-45-67",
        "8 (918) 123-45-67",
        "89181234567",
        "9181234567",
        "7 918 1234567",
        "8.918.123.45.67",
        "8-918-123-45-67",
        "+7(918)1234567",
        "8 918 12 345 67",
        "+7 918 1 2 3 4 5 6 7",
        "8 9 1 8 1 2 3 4 5 6 7",
        "8\u{a0}918\u{a0}123\u{a0}45\u{a0}67",
        "+7\u{202f}918\u{202f}123–45–67",
    ] {
        assert_eq!(ru(t), ["+79181234567"], "{t}");
    }
}

#[test]
fn landlines_with_three_and_four_digit_area_codes() {
    assert_eq!(ru("8 (863) 201-23-45"), ["+78632012345"]);
    assert_eq!(ru("8 (8632) 66-86-00"), ["+78632668600"]);
    assert_eq!(ru("+7 495 367-54-06"), ["+74953675406"]);
    assert_eq!(ru("тел 4953675406"), ["+74953675406"]);
    let n = Extractor::new("RU").expect("RU").find("8 (495) 367-54-06");
    assert_eq!(n[0].kind(), NumberKind::FixedLine);
}

#[test]
fn toll_free_eight_hundred_keeps_its_eight() {
    // The `phonenumber` crate reads 8-800 as trunk 8 + "800..." wrongly; we must not.
    for t in ["8-800-555-35-35", "8 800 555 35 35", "88005553535", "+7 800 555-35-35"] {
        let n = Extractor::new("RU").expect("RU").find(t);
        assert_eq!(n.len(), 1, "{t}");
        assert_eq!(n[0].e164(), "+78005553535");
        assert_eq!(n[0].kind(), NumberKind::TollFree);
    }
}

#[test]
fn two_numbers_in_order() {
    assert_eq!(
        ru("мой +7 999 941-70-98, муж 8 (951) 257-75-53"),
        ["+79999417098", "+79512577553"]
    );
    assert_eq!(ru("89181234567 89281234567"), ["+79181234567", "+79281234567"]);
}

#[test]
fn glued_to_words_and_emoji() {
    assert_eq!(ru("тел89181234567"), ["+79181234567"]);
    assert_eq!(ru("📞+79181234567"), ["+79181234567"]);
    assert_eq!(ru("ватсап-+79181234567👍"), ["+79181234567"]);
    assert_eq!(ru("8️⃣9️⃣1️⃣8️⃣1️⃣2️⃣3️⃣4️⃣5️⃣6️⃣7️⃣"), ["+79181234567"]);
}

#[test]
fn letter_o_for_zero() {
    assert_eq!(ru("8 (9O3) 284-93-28"), ["+79032849328"]);
    assert_eq!(ru("8 (919) 9О8-21-41"), ["+79199082141"]);
    assert_eq!(ru("8 921 956 Оо 28"), ["+79219560028"]);
}

#[test]
fn foreign_numbers() {
    assert_eq!(ru("+998 90 123 45 67"), ["+998901234567"]);
    assert_eq!(ru("+375 (29) 123-45-67"), ["+375291234567"]);
    assert_eq!(ru("+380 67 123 45 67"), ["+380671234567"]);
    let kz = Extractor::new("RU").expect("RU").find("+7 702 340 78 98");
    assert_eq!(kz[0].region(), Some("KZ"));
}

#[test]
fn other_default_regions() {
    assert_eq!(find("UZ", "90 123 45 67"), ["+998901234567"]);
    assert_eq!(find("KZ", "8 701 234 56 78"), ["+77012345678"]);
    assert_eq!(find("BY", "8 029 123-45-67"), ["+375291234567"]);
    assert_eq!(find("BY", "(29) 123-45-67"), ["+375291234567"]);
    assert_eq!(find("UA", "050 123 45 67"), ["+380501234567"]);
    assert!(Extractor::new("XX").is_err());
}

#[test]
fn dictated_in_words() {
    assert_eq!(
        ru("восемь девять один восемь один два три четыре пять шесть семь"),
        ["+79181234567"]
    );
    assert_eq!(
        ru("восемь девятьсот восемнадцать сто двадцать три сорок пять шестьдесят семь"),
        ["+79181234567"]
    );
    assert_eq!(
        ru("8 918 сто двадцать три сорок пять шестьдесят семь"),
        ["+79181234567"]
    );
    assert_eq!(ru("т. 8 915 ноль один ноль два два два пять"), ["+79150102225"]);
    assert_eq!(ru("плюс семь 918 123 45 67"), ["+79181234567"]);
    // "девятьсот сорок пять" is 945 or 900 45; the valid reading wins.
    assert_eq!(
        ru("восемь девятьсот восемнадцать девятьсот сорок пять шестьдесят семь"),
        ["+79189004567"]
    );
    assert_eq!(ru("8 918 девятьсот сорок пять шестьдесят семь"), ["+79189004567"]);
}

#[test]
fn not_phone_numbers() {
    for t in [
        "заказ №712121061 от 15.12.2026",
        "номер заказа 9181234567",
        "ИНН 2366536810",
        "ИНН 771234567890",
        "ОГРН 9712386222933",
        "СНИЛС 791-234-567 89",
        "паспорт 3412 123456",
        "карта 4276 3800 1234 5678",
        "индекс 344322, Ростов-на-Дону",
        "трек-номер RA233157724RU",
        "артикул 53851982",
        "счёт 75448826745315252752",
        "время 12:30, дата 2026-12-28",
        "с 01.12.2026 по 15.12.2026",
        "цена 9 181 234 567 руб",
        "8 (900) 016-19",
        "два раза звонила",
    ] {
        assert_eq!(ru(t), Vec::<String>::new(), "{t}");
    }
}

#[test]
fn not_phone_numbers_without_a_keyword() {
    for t in [
        "бюджет 900 000-1 200 000",
        "8.800.000 – 9.800.000",
        "мой IP 89.179.245.133",
        "сервер 79.165.123.143:8080",
        "47.222078 39.720349",
        "40817 810 9 2513 4888497",
        "заказ номер 9181234567",
        "номер вашего заказа 9181234567",
    ] {
        assert_eq!(ru(t), Vec::<String>::new(), "{t}");
    }
    // Four dotted groups of 2-3-2-2 digits are a national number, not an address.
    assert_eq!(find("UZ", "90.123.45.67"), ["+998901234567"]);
}

#[test]
fn phones_near_words_about_other_numbers() {
    for t in [
        "Заказ на завтра, 8 918 123-45-67",
        "хочу заказать кухню 89181234567",
        "Хочу сделать заказ. 89181234567",
        "код домофона не работает, +7 918 123 45 67",
        "Цена устраивает, 89181234567 Анна",
        "по заказу 45123 8 918 123 45 67",
        "ИНН 7707083893 89181234567",
        "хочу оформить заказ: +7 918 123-45-67",
        "договорились 89181234567",
    ] {
        assert_eq!(ru(t), ["+79181234567"], "{t}");
    }
}

#[test]
fn near_misses_say_why() {
    let e = Extractor::new("RU").expect("RU");
    assert_eq!(
        e.analyse("8 918 123 45").attempt,
        Some(Rejection::TooFewDigits { found: 9, expected: 11 })
    );
    assert_eq!(
        e.analyse("+7 918 12").attempt,
        Some(Rejection::TooFewDigits { found: 6, expected: 11 })
    );
    assert_eq!(
        e.analyse("мой номер 8 918 123 45 678").attempt,
        Some(Rejection::TooManyDigits {
            found: 12,
            expected: 11
        })
    );
    assert_eq!(e.analyse("тел 8 123 456 78 90").attempt, Some(Rejection::InvalidNumber));
    for t in [
        "заказ №712121061 от 15.12.2026",
        "цена 1500 руб",
        "ИНН 23665368",
        "привет",
    ] {
        assert_eq!(e.analyse(t).attempt, None, "{t}");
    }
    let ok = e.analyse("звоните 89181234567");
    assert_eq!(ok.found.len(), 1);
    assert_eq!(ok.attempt, None);
}

#[test]
fn assembles_a_number_split_over_messages() {
    let e = Extractor::new("RU").expect("RU");
    let got = e.assemble(&["8918", "123 45 67"]).map(|n| n.e164().to_string());
    assert_eq!(got.as_deref(), Some("+79181234567"));
    let got = e
        .assemble(&["привет", "мой номер 8 918", "123", "45 67"])
        .map(|n| n.e164().to_string());
    assert_eq!(got.as_deref(), Some("+79181234567"));
    assert_eq!(e.assemble(&["заказ 8918", "спасибо"]), None);
    // A remark between the parts, and dictated commas.
    let got = e
        .assemble(&["8 918 12", "ой, сорвалось", "3 45 67"])
        .map(|n| n.e164().to_string());
    assert_eq!(got.as_deref(), Some("+79181234567"));
    let got = e.assemble(&["8, 918,", "123,", "45, 67"]).map(|n| n.e164().to_string());
    assert_eq!(got.as_deref(), Some("+79181234567"));
    assert_eq!(e.assemble(&[]), None);
    // A whole number in the last message is returned as is.
    let got = e.assemble(&["1", "89281234567"]).map(|n| n.e164().to_string());
    assert_eq!(got.as_deref(), Some("+79281234567"));
}

#[test]
fn digits_of_other_scripts_and_lookalikes() {
    assert_eq!(ru("８（９１８）１２３－４５－６７"), ["+79181234567"]);
    assert_eq!(ru("𝟖𝟗𝟏𝟖𝟏𝟐𝟑𝟒𝟓𝟔𝟕"), ["+79181234567"]);
    assert_eq!(ru("⁸⁹¹⁸¹²³⁴⁵⁶⁷"), ["+79181234567"]);
    assert_eq!(ru("٨٩١٨١٢٣٤٥٦٧"), ["+79181234567"]);
    assert_eq!(ru("۸۹۱۸۱۲۳۴۵۶۷"), ["+79181234567"]);
    assert_eq!(
        ru("89l8 |23 45 67"),
        Vec::<String>::new(),
        "a bar after a space is no digit"
    );
    assert_eq!(ru("89l8 1|3 45 67"), ["+79181134567"]);
    assert_eq!(ru("8 9l8 l23 4Б 67"), ["+79181234667"]);
    assert_eq!(ru("8 918 12З 45 67"), ["+79181234567"]);
    for t in ["кв 12Б", "iPhone 15", "дом 3Б, кв 40"] {
        assert_eq!(ru(t), Vec::<String>::new(), "{t}");
    }
}

#[test]
fn dictation_artefacts() {
    for t in [
        "8, 918, 123, 45, 67",
        "8/918/123/45/67",
        "89 18 123 45 67",
        "8 918 щас 123 ммм 45 67",
        "восемь, девятьсот восемнадцать, сто двадцать три, сорок пять, шестьдесят семь",
        "8 девять 18 один два три 45 шесть семь",
        "восемь девятьсот 18 сто 23 сорок 5 шестьдесят 7",
    ] {
        assert_eq!(ru(t), ["+79181234567"], "{t}");
    }
    for t in ["размеры 120/80/45", "приеду 12/05/2026", "3, 5 и 12 штук"] {
        assert_eq!(ru(t), Vec::<String>::new(), "{t}");
    }
}

#[test]
fn ids_are_not_phones() {
    for t in [
        "тикет 9181234567",
        "обращение № 9181234567",
        "9181234567 от 01.12.2026",
        "9181234567 статус?",
    ] {
        assert_eq!(ru(t), Vec::<String>::new(), "{t}");
    }
    assert_eq!(ru("9181234567 от Ольги"), ["+79181234567"]);
}

#[test]
fn whose_number_it_is() {
    use leadbot_phone::{ClientContext, Owner};
    let e = Extractor::new("RU").expect("RU");
    let mut ctx = ClientContext::new();
    ctx.exclude_found_in(&e, "Наш офис: 8 (863) 201-23-45");
    let client = |text: &str, ctx: &ClientContext| -> Vec<String> {
        e.client_matches(text, ctx)
            .iter()
            .map(|m| m.number.e164().to_string())
            .collect()
    };
    assert_eq!(
        client("звонил на 8 (863) 201-23-45, мой 89181234567", &ctx),
        ["+79181234567"]
    );
    assert_eq!(client("8 800 555 35 35", &ctx), Vec::<String>::new());
    assert_eq!(client("+7 (900) 000-00-00", &ctx), Vec::<String>::new());
    assert_eq!(
        client("ваш 8 928 111 22 33? мой 8 918 123 45 67", &ctx),
        ["+79181234567"]
    );
    // The client's own comes first even when written second.
    assert_eq!(
        client("жена 8 928 111 22 33, мой 8 918 123 45 67", &ctx),
        ["+79181234567", "+79281112233"]
    );
    let m = e.find_matches("ваш 8 928 111 22 33");
    assert_eq!(m[0].owner, Owner::Business);
    ctx.toll_free_is_client = true;
    assert_eq!(client("8 800 555 35 35", &ctx), ["+78005553535"]);
    // A message of only a quoted number is no failed attempt either.
    let a = e.analyse_client("у вас на сайте 8 (863) 201-23-45", &ctx);
    assert!(a.found.is_empty() && a.attempt.is_none());
}

#[test]
fn city_numbers_with_the_named_citys_area_code() {
    let e = Extractor::new("RU").expect("RU");
    let local = |text: &str, ctx: &[&str]| -> Vec<String> {
        e.local_numbers(text, ctx)
            .iter()
            .map(|n| n.e164().to_string())
            .collect()
    };
    assert_eq!(local("домашний 41-22-05", &["я из Караганды"]), ["+77212412205"]);
    assert_eq!(local("Ростов, 201-23-45, спросить Нину", &[]), ["+78632012345"]);
    assert_eq!(
        local("в Новочеркасске 2-44-18-01", &[]),
        Vec::<String>::new(),
        "7 digits for a 4-digit code"
    );
    assert_eq!(local("в Новочеркасске 24-41-80", &[]), ["+78635244180"]);
    assert_eq!(local("тел 2012345, Ростов", &[]), ["+78632012345"]);
    // A postal code, an amount, a number with no city anywhere.
    for (t, ctx) in [
        ("346400 Новочеркасск", &[][..]),
        ("индекс 344-022 Ростов", &[][..]),
        ("в Ростове 201-23-45 руб", &[][..]),
        ("201-23-45", &["привет"][..]),
    ] {
        assert_eq!(local(t, ctx), Vec::<String>::new(), "{t}");
    }
    assert!(Extractor::new("UZ")
        .expect("UZ")
        .local_numbers("Москва 201-23-45", &[])
        .is_empty());
}

#[test]
fn national_formats_of_a_named_cis_country() {
    let by = leadbot_phone::named_region("я в Бресте сейчас").expect("a named region");
    assert_eq!(find(by, "8 029 123-45-67"), ["+375291234567"]);
    assert_eq!(find(by, "8 (0162) 22-33-44"), ["+375162223344"]);
    // Read as Russian, the same writing is no number.
    assert_eq!(ru("8 029 123-45-67"), Vec::<String>::new());
}
