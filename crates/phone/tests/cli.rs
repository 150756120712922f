use leadbot_phone::{run_cli, run_cli_with, CliOptions};

fn run(input: &str, explain: bool) -> String {
    let mut out = Vec::new();
    run_cli(input.as_bytes(), &mut out, "RU", explain).expect("cli run");
    String::from_utf8(out).expect("utf-8 output")
}

#[test]
fn one_json_array_per_line() {
    let out = run(
        "звоните 8 918 123-45-67\nпривет\nмой +7 999 941-70-98, муж 8 (951) 257-75-53\n",
        false,
    );
    assert_eq!(out, "[\"+79181234567\"]\n[]\n[\"+79999417098\",\"+79512577553\"]\n");
}

#[test]
fn survives_invalid_utf8_and_crlf() {
    let mut out = Vec::new();
    run_cli(&b"\xff89181234567\r\n"[..], &mut out, "RU", false).expect("cli run");
    assert_eq!(String::from_utf8_lossy(&out), "[\"+79181234567\"]\n");
}

/// The CLI passes over lines that cannot hold a number before checking their UTF-8; a line
/// with bad bytes reads as its lossy decoding does, whichever way it goes.
#[test]
fn bad_bytes_read_as_their_lossy_decoding() {
    let lines: &[&[u8]] = &[
        "восемь девять один восемь\u{0}".as_bytes(),
        b"\xd0\xb2\xd0\xbe\xd1\x81\xd0\xb5\xd0\xbc\xd1\x8c \xff 918 123 45 67",
        b"\xd0 8 918 123 45 67 \xd1",
        b"8 9\xe2\x80 18 123 45 67",
        "89l6 ЗЗЗ 2l 2l \u{FFFD}".as_bytes(),
        b"\xd0\xb4\xd0\xb5\xd0\xb2\xd1\x8f\xff\xd1\x82\xd1\x8c 1 2",
        b"\xf0\x9d\x9f\x96\xf0\x9d\x9f\x97 918 123 45 67 \xf0\x9d",
        b"\x80\x80\x80 +7 918 123 45 67",
    ];
    for line in lines {
        let mut raw = line.to_vec();
        raw.push(b'\n');
        let mut out = Vec::new();
        run_cli(&raw[..], &mut out, "RU", false).expect("cli run");
        let lossy = format!("{}\n", String::from_utf8_lossy(line));
        assert_eq!(String::from_utf8_lossy(&out), run(&lossy, false), "{line:?}");
    }
}

#[test]
fn explain_gives_details_and_near_misses() {
    let out = run("8 918 123 45 67\n8 918 123 45\n", true);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    assert_eq!(lines[0]["found"][0]["e164"], "+79181234567");
    assert_eq!(lines[0]["found"][0]["kind"], "mobile");
    assert_eq!(lines[0]["found"][0]["masked"], "+7 918 *** ** 67");
    assert!(lines[1]["attempt"].as_str().expect("attempt").contains("too few"));
}

#[test]
fn unknown_region_is_an_error() {
    let mut out = Vec::new();
    assert!(run_cli("x\n".as_bytes(), &mut out, "ZZ", false).is_err());
}

#[test]
fn client_mode_leaves_out_what_is_not_the_clients() {
    let opts = CliOptions {
        exclude: vec!["8 (863) 201-23-45".into()],
        ..CliOptions::default()
    };
    let mut out = Vec::new();
    let input = "звонил на +78632012345, мой 89181234567\n8 800 555 35 35\nваш 8 928 111 22 33?\n";
    run_cli_with(input.as_bytes(), &mut out, "RU", &opts).expect("cli run");
    assert_eq!(String::from_utf8_lossy(&out), "[\"+79181234567\"]\n[]\n[]\n");
    let bad = CliOptions {
        exclude: vec!["офис".into()],
        ..CliOptions::default()
    };
    assert!(run_cli_with("x\n".as_bytes(), &mut Vec::new(), "RU", &bad).is_err());
}

#[test]
fn a_city_completes_local_numbers() {
    let opts = CliOptions {
        city: Some("Ростов-на-Дону".into()),
        ..CliOptions::default()
    };
    let mut out = Vec::new();
    run_cli_with(
        "дом 201-23-45\nв Караганде 41-22-05\n".as_bytes(),
        &mut out,
        "RU",
        &opts,
    )
    .expect("cli run");
    assert_eq!(
        String::from_utf8_lossy(&out),
        "[\"+78632012345\"]\n[\"+77212412205\"]\n"
    );
    let bad = CliOptions {
        city: Some("Атлантида".into()),
        ..CliOptions::default()
    };
    assert!(run_cli_with("x\n".as_bytes(), &mut Vec::new(), "RU", &bad).is_err());
}

#[test]
fn json_lines_carry_the_previous_messages() {
    let opts = CliOptions {
        jsonl: true,
        ..CliOptions::default()
    };
    let input = concat!(
        r#"{"text": "45 67", "previous": ["8 918 123", "ой"]}"#,
        "\n",
        r#"{"text": "домашний 41-22-05", "previous": ["я из Караганды"]}"#,
        "\n",
        r#"{"text": "8 029 123-45-67", "previous": ["пишу из Минска"]}"#,
        "\n",
        r#"{"text": "звоните 8 800 555 35 35"}"#,
        "\n",
        "not json\n",
    );
    let mut out = Vec::new();
    run_cli_with(input.as_bytes(), &mut out, "RU", &opts).expect("cli run");
    let out = String::from_utf8_lossy(&out);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..4],
        ["[\"+79181234567\"]", "[\"+77212412205\"]", "[\"+375291234567\"]", "[]"]
    );
    assert!(lines[4].contains("error"), "{}", lines[4]);
}
