//! The parts of a Telegram `Update` leadbot uses, read leniently: unknown kinds are ignored,
//! ids are i64 (they may exceed 32 bits), a NUL character (which PostgreSQL refuses in text)
//! becomes U+FFFD, so every update that parses can be stored.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub username: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// A private message: text or a shared contact.
    Private {
        chat_id: i64,
        from: User,
        text: Option<String>,
        contact: Option<Contact>,
    },
    Callback {
        id: String,
        from: User,
        chat_id: Option<i64>,
        message_id: Option<i64>,
        data: String,
    },
    /// The user blocked the bot (private chat, new status `kicked`).
    Blocked {
        chat_id: i64,
    },
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub phone: String,
    /// Only the user's own contact counts as verified.
    pub own: bool,
}

/// The string field `key` of `v`, storable.
fn string(v: &Value, key: &str) -> Option<String> {
    let s = v.get(key)?.as_str()?;
    Some(if s.contains('\0') {
        s.replace('\0', "\u{fffd}")
    } else {
        s.to_string()
    })
}

fn user(v: &Value) -> Option<User> {
    let first = string(v, "first_name").unwrap_or_default();
    let last = string(v, "last_name").unwrap_or_default();
    Some(User {
        id: v.get("id")?.as_i64()?,
        name: format!("{first} {last}").trim().to_string(),
        username: string(v, "username"),
    })
}

/// `update_id` and what the update means.
pub fn parse(v: &Value) -> Option<(i64, Update)> {
    let update_id = v.get("update_id")?.as_i64()?;
    if let Some(m) = v.get("message") {
        let chat = m.get("chat")?;
        if chat.get("type").and_then(Value::as_str) != Some("private") {
            return Some((update_id, Update::Other));
        }
        let from = user(m.get("from")?)?;
        let forwarded = m.get("forward_origin").is_some() || m.get("forward_from").is_some();
        let contact = m.get("contact").and_then(|c| {
            Some(Contact {
                phone: string(c, "phone_number")?,
                own: !forwarded && c.get("user_id").and_then(Value::as_i64) == Some(from.id),
            })
        });
        return Some((
            update_id,
            Update::Private {
                chat_id: chat.get("id")?.as_i64()?,
                from,
                text: string(m, "text"),
                contact,
            },
        ));
    }
    if let Some(q) = v.get("callback_query") {
        return Some((
            update_id,
            Update::Callback {
                id: string(q, "id")?,
                from: user(q.get("from")?)?,
                chat_id: q.pointer("/message/chat/id").and_then(Value::as_i64),
                message_id: q.pointer("/message/message_id").and_then(Value::as_i64),
                data: string(q, "data").unwrap_or_default(),
            },
        ));
    }
    if let Some(m) = v.get("my_chat_member") {
        let private = m.pointer("/chat/type").and_then(Value::as_str) == Some("private");
        let kicked = m.pointer("/new_chat_member/status").and_then(Value::as_str) == Some("kicked");
        if private && kicked {
            return Some((
                update_id,
                Update::Blocked {
                    chat_id: m.pointer("/chat/id")?.as_i64()?,
                },
            ));
        }
    }
    Some((update_id, Update::Other))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_never_reaches_storage() {
        let v: Value = serde_json::from_str(
            r#"{"update_id":1,"message":{"chat":{"id":5,"type":"private"},"text":"/start a\u0000",
                "from":{"id":5,"first_name":"\u0000","username":"u\u0000"}}}"#,
        )
        .unwrap();
        let Some((_, Update::Private { from, text, .. })) = parse(&v) else {
            panic!("a private message")
        };
        assert_eq!(text.as_deref(), Some("/start a\u{fffd}"));
        assert_eq!(from.username.as_deref(), Some("u\u{fffd}"));
        assert_eq!(from.name, "\u{fffd}");
    }

    fn fixture(name: &str) -> Value {
        let path = format!("{}/tests/fixtures/telegram/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn reads_the_real_and_synthesized_payloads() {
        let (id, u) = parse(&fixture("update_message_private_text.teloxide.json")).unwrap();
        assert_eq!(id, 892252934);
        assert!(matches!(u, Update::Private { chat_id: 218485655, text: Some(ref t), .. } if t == "hello there"));
        let (_, own) = parse(&fixture("telegram_update_message_contact_own.synth.json")).unwrap();
        assert!(matches!(
            own,
            Update::Private {
                contact: Some(Contact { own: true, .. }),
                ..
            }
        ));
        let (_, foreign) = parse(&fixture("telegram_update_message_contact_foreign.synth.json")).unwrap();
        assert!(matches!(
            foreign,
            Update::Private {
                contact: Some(Contact { own: false, .. }),
                ..
            }
        ));
        let (_, cb) = parse(&fixture("telegram_update_callback_query_group_claim.synth.json")).unwrap();
        assert!(matches!(cb, Update::Callback { ref data, chat_id: Some(-1001234567890), .. } if data == "tk:1042"));
        let (_, blocked) = parse(&fixture("update_my_chat_member_bot_blocked.teloxide.json")).unwrap();
        assert_eq!(blocked, Update::Blocked { chat_id: 0 });
        let (_, group) = parse(&fixture("update_message_supergroup_reply.teloxide.json")).unwrap();
        assert_eq!(group, Update::Other);
    }
}
