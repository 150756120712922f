//! What a channel can do, declared by each adapter, and the pure fitting of one dialog message
//! into what the channel can carry: a text longer than the channel allows is split at a
//! paragraph, line, sentence or word boundary; offered answers become buttons where the channel
//! has them and a numbered list where it has not (the dialog reads "2" back as the second one).

use std::time::Duration;

use serde::Serialize;

/// May leadbot write first to someone who never wrote to it on this channel?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Initiate {
    /// Reply-only (Telegram and VK bots, Instagram, Avito): the client must open the chat.
    Never,
    /// Only with a pre-approved template (WhatsApp outside the 24 h window).
    TemplateOnly,
    /// Any time (SMS, calls, the web chat while the page is open).
    Always,
}

/// How the client can give their phone number on this channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneShare {
    /// A one-tap button that sends a verified contact (Telegram `request_contact`).
    Native,
    /// The address is the phone (WhatsApp `wa_id`, SMS, calls): still confirmed by the dialog.
    Implicit,
    /// Only typed as text and parsed (VK, Instagram, Avito, the web chat).
    Text,
}

/// Which answer buttons the channel can show under a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Buttons {
    /// None: offered answers become a numbered list in the text.
    None,
    /// A reply keyboard whose press sends the label as the client's message.
    Reply,
}

/// What a channel can do; the dialog's first contact, its fallbacks and every outgoing message
/// depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// The client can answer in real time (a dialog is possible).
    pub realtime: bool,
    pub can_initiate: Initiate,
    /// Free-form messages are allowed only this long after the client's last message
    /// (WhatsApp and Instagram: 24 h); `None`: no window.
    pub free_form_window: Option<Duration>,
    pub phone_share: PhoneShare,
    pub buttons: Buttons,
    /// At most this many buttons under one message (more become a numbered list).
    pub max_buttons: usize,
    /// At most this many characters on a button (a longer answer makes the list numbered).
    pub max_button_label: usize,
    /// At most this many characters in one message (longer texts are split).
    pub max_text_len: usize,
}

impl Capabilities {
    /// May leadbot write first with a free-form message?
    pub fn can_write_first(&self) -> bool {
        self.can_initiate == Initiate::Always
    }
}

/// One message as it goes out on a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub text: String,
    /// Button labels (only on the last part, only where the channel has buttons).
    pub buttons: Vec<String>,
}

/// Fits one dialog message with its offered answers into what the channel carries.
pub fn fit(text: &str, options: &[String], caps: &Capabilities) -> Vec<Part> {
    let max = caps.max_text_len.max(1);
    let as_buttons = !options.is_empty()
        && caps.buttons != Buttons::None
        && options.len() <= caps.max_buttons
        && options.iter().all(|o| o.chars().count() <= caps.max_button_label);
    let (body, buttons) = if options.is_empty() || as_buttons {
        (text.to_string(), options.to_vec())
    } else {
        (with_numbered(text, options), vec![])
    };
    let mut parts: Vec<Part> = split(&body, max)
        .into_iter()
        .map(|text| Part { text, buttons: vec![] })
        .collect();
    if let Some(last) = parts.last_mut() {
        last.buttons = buttons;
    }
    parts
}

/// The text with the answers as "1. …" lines below it.
pub fn with_numbered(text: &str, options: &[String]) -> String {
    let mut out = text.trim_end().to_string();
    out.push('\n');
    for (i, o) in options.iter().enumerate() {
        out.push_str(&format!("\n{}. {}", i + 1, o));
    }
    out
}

/// The offered answer a reply picks by its number ("2", "2.", "2)", " 2 "), if any.
pub fn numbered_choice<'a>(reply: &str, options: &'a [String]) -> Option<&'a str> {
    let n: usize = reply.trim().trim_end_matches(['.', ')']).trim().parse().ok()?;
    options.get(n.checked_sub(1)?).map(String::as_str)
}

/// Splits `text` into pieces of at most `max` characters, each cut at the last paragraph
/// break, line break, sentence end or space that fits (a word longer than `max` is cut).
pub fn split(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut out = Vec::new();
    let mut rest = text.trim();
    while rest.chars().count() > max {
        // The byte offset just past `max` characters.
        let limit = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        let window = &rest[..limit];
        let cut = ["\n\n", "\n", ". ", "! ", "? ", " "]
            .iter()
            .filter_map(|sep| window.rfind(sep).map(|i| i + sep.len()))
            .find(|&i| i > limit / 3)
            .unwrap_or(limit);
        let piece = rest[..cut].trim();
        if !piece.is_empty() {
            out.push(piece.to_string());
        }
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() || out.is_empty() {
        out.push(rest.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(buttons: Buttons, max_buttons: usize, max_text_len: usize) -> Capabilities {
        Capabilities {
            realtime: true,
            can_initiate: Initiate::Never,
            free_form_window: None,
            phone_share: PhoneShare::Text,
            buttons,
            max_buttons,
            max_button_label: 20,
            max_text_len,
        }
    }

    fn opts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_short_text_with_buttons_goes_as_it_is() {
        let p = fit(
            "Оставьте номер",
            &opts(&["Цены", "Адрес"]),
            &caps(Buttons::Reply, 10, 100),
        );
        assert_eq!(
            p,
            vec![Part {
                text: "Оставьте номер".into(),
                buttons: opts(&["Цены", "Адрес"])
            }]
        );
    }

    #[test]
    fn without_buttons_the_answers_are_numbered() {
        let p = fit(
            "Оставьте номер",
            &opts(&["Цены", "Адрес"]),
            &caps(Buttons::None, 0, 100),
        );
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].text, "Оставьте номер\n\n1. Цены\n2. Адрес");
        assert!(p[0].buttons.is_empty());
        // Too many for the channel's keyboard: numbered too.
        let p = fit("?", &opts(&["a", "b", "c"]), &caps(Buttons::Reply, 2, 100));
        assert_eq!(p[0].text, "?\n\n1. a\n2. b\n3. c");
        // An answer too long for a button: numbered too.
        let long = "b".repeat(21);
        let p = fit("?", &opts(&["a", long.as_str()]), &caps(Buttons::Reply, 5, 100));
        assert!(p[0].buttons.is_empty() && p[0].text.contains("2. bbb"));
    }

    #[test]
    fn a_long_text_is_split_at_sentences_and_the_buttons_go_last() {
        let text = "Первое предложение тут. Второе предложение там. Третье.";
        let p = fit(text, &opts(&["Да"]), &caps(Buttons::Reply, 5, 30));
        let texts: Vec<_> = p.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["Первое предложение тут.", "Второе предложение там.", "Третье."]);
        assert!(p[0].buttons.is_empty() && p[1].buttons.is_empty());
        assert_eq!(p[2].buttons, opts(&["Да"]));
        for part in &p {
            assert!(part.text.chars().count() <= 30);
        }
    }

    #[test]
    fn split_counts_characters_not_bytes_and_cuts_a_long_word() {
        let word = "щ".repeat(25);
        let parts = split(&word, 10);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.chars().count() <= 10));
        assert_eq!(parts.concat(), word);
        assert_eq!(split("", 10), vec![String::new()]);
        assert_eq!(split("абв где", 100), vec!["абв где".to_string()]);
        // A paragraph break wins over a space.
        assert_eq!(split("один два\n\nтри четыре", 15), vec!["один два", "три четыре"]);
    }

    #[test]
    fn a_number_picks_an_offered_answer() {
        let o = opts(&["Цены", "Адрес"]);
        assert_eq!(numbered_choice("2", &o), Some("Адрес"));
        assert_eq!(numbered_choice(" 1) ", &o), Some("Цены"));
        assert_eq!(numbered_choice("1.", &o), Some("Цены"));
        assert_eq!(numbered_choice("3", &o), None);
        assert_eq!(numbered_choice("0", &o), None);
        assert_eq!(numbered_choice("89161234567", &o), None);
        assert_eq!(numbered_choice("да", &o), None);
    }
}
