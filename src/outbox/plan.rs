//! The pure half of a lead's step: what the step's effects and state change mean for the
//! outside world, as outbox rows, timer changes and manager-pool bookkeeping. No I/O: the lead
//! actor commits the plan with the state, then tells the pool what the plan says.

use crate::dialog::{DialogState, Effect};
use crate::domain::capabilities::{fit, Capabilities, Part};
use crate::domain::{LeadId, LeadStatus, ManagerId, ManagerRef, Outcome};
use crate::store::{Direction, NewOutbox, TimerChange};

use super::{CrmRow, CrmUpdate, Notification, OutboundMessage, KIND_CRM, KIND_MESSAGE, KIND_NOTIFICATION};

/// What the plan needs to know about the step.
pub struct StepInput<'a> {
    pub lead: LeadId,
    /// The version this step commits (the loaded one + 1): part of every idempotency key, so
    /// a redone step (after a crash before the commit) produces the same keys.
    pub version: i64,
    /// The CRM adapter of the lead's source, if it has one: its card follows the lead.
    pub crm: Option<&'a str>,
    pub before: &'a DialogState,
    pub after: &'a DialogState,
    pub effects: &'a [Effect],
    /// What the lead's channel (after the step) can carry; `None`: a channel leadbot has no
    /// adapter for (the rows fail at delivery as before).
    pub caps: Option<Capabilities>,
    /// The channel's client reads the bot's messages from the transcript (the web chat page):
    /// the message rows are delivered by the commit that stores them.
    pub transcript_delivers: bool,
}

/// Everything a step sends or changes besides its state.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// The bot's messages, for the transcript (the client's own text is added by the caller).
    pub said: Vec<(Direction, String)>,
    pub outbox: Vec<NewOutbox>,
    pub timers: Vec<TimerChange>,
    /// Managers who no longer hold this lead (after the commit the pool gets the slot back).
    pub released: Vec<ManagerId>,
    /// The lead left the manager queue (closed while waiting).
    pub left_queue: bool,
    pub finished: Option<Outcome>,
    /// A head of sales should have been told but none is configured for this manager.
    pub no_head: Vec<(ManagerId, String)>,
}

/// Turns a step into rows. `head_of`: the head of sales of a manager's group (the roster).
pub fn plan(input: &StepInput<'_>, head_of: &dyn Fn(&ManagerId) -> Option<ManagerRef>) -> Plan {
    let StepInput {
        lead,
        version,
        before,
        after,
        effects,
        ..
    } = *input;
    let key = |what: &str| format!("lead:{lead}:v{version}:{what}");
    let notify = |to: &ManagerRef, text: &str, key: String| NewOutbox {
        kind: KIND_NOTIFICATION.into(),
        payload: to_json(&Notification {
            lead_id: Some(lead.0),
            deal_id: None,
            manager_id: to.id.to_string(),
            manager_name: to.name.clone(),
            text: text.to_string(),
            phone: after.phone.clone(),
        }),
        idempotency_key: key,
        delivered: false,
    };
    let mut plan = Plan::default();
    for (i, effect) in effects.iter().enumerate() {
        match effect {
            Effect::Say(text) => {
                let offered = match effects.get(i + 1) {
                    Some(Effect::Offer(options)) => options.as_slice(),
                    _ => &[],
                };
                let parts = match &input.caps {
                    Some(caps) => fit(text, offered, caps),
                    None => vec![Part {
                        text: text.clone(),
                        buttons: offered.to_vec(),
                    }],
                };
                // The transcript has what the client read (a numbered list included).
                let read: Vec<&str> = parts.iter().map(|p| p.text.as_str()).collect();
                plan.said.push((Direction::Out, read.join("\n")));
                let request_phone = waiting_for_phone(after);
                for (j, part) in parts.into_iter().enumerate() {
                    plan.outbox.push(NewOutbox {
                        kind: KIND_MESSAGE.into(),
                        payload: to_json(&OutboundMessage {
                            channel: after.channel.clone(),
                            text: part.text,
                            buttons: part.buttons,
                            request_phone,
                        }),
                        idempotency_key: if j == 0 {
                            key(&format!("say{i}"))
                        } else {
                            key(&format!("say{i}.{j}"))
                        },
                        delivered: input.transcript_delivers,
                    });
                }
            }
            // Carried by the `Say` before it.
            Effect::Offer(_) => {}
            Effect::ArmTimer { kind, timer } => plan.timers.push(TimerChange::Arm {
                kind: kind.as_str().into(),
                due_at: timer.due_at,
                generation: timer.generation as i64,
            }),
            Effect::CancelTimer(kind) => plan.timers.push(TimerChange::Cancel {
                kind: kind.as_str().into(),
            }),
            Effect::NotifyManager { manager, text } => {
                plan.outbox.push(notify(manager, text, key(&format!("notify{i}"))));
            }
            // Resolved by the caller before planning (the pool's answer is the next event).
            Effect::FindManager { .. } => {}
            Effect::ReleaseManager { manager_id } => plan.released.push(manager_id.clone()),
            Effect::LeaveQueue => plan.left_queue = true,
            Effect::NotifyHead { about, text } => match head_of(&about.id) {
                Some(head) => plan.outbox.push(notify(&head, text, key(&format!("head{i}")))),
                None => plan.no_head.push((about.id.clone(), text.clone())),
            },
            Effect::Finished(outcome) => plan.finished = Some(*outcome),
            // The manager is told by the dialog's NotifyManager; the card by `crm_updates`.
            Effect::PhoneCorrected { .. } => {}
            // Asked of the calendar and the store by the actor before planning; the CRM hears
            // of a visit through `crm_updates`.
            Effect::FindSlots { .. }
            | Effect::Book { .. }
            | Effect::MoveBooking { .. }
            | Effect::CancelBooking { .. }
            | Effect::RecordCsat { .. }
            | Effect::CsatComment { .. }
            | Effect::LookUpClient { .. } => {}
            Effect::VisitChanged(_) => {}
        }
    }
    if let Some(crm) = input.crm {
        for (i, update) in crm_updates(before, after, effects, plan.finished)
            .into_iter()
            .enumerate()
        {
            plan.outbox.push(NewOutbox {
                kind: KIND_CRM.into(),
                payload: to_json(&CrmRow {
                    crm: Some(crm.to_string()),
                    update,
                }),
                idempotency_key: key(&format!("crm{i}")),
                delivered: false,
            });
        }
    }
    plan
}

/// The bot still asks for the phone after this step.
fn waiting_for_phone(s: &DialogState) -> bool {
    s.status == LeadStatus::BotProcessing && s.phone.is_none() && !s.awaiting_manager
}

/// Our own payload types always serialize; a failure would be a bug, not bad input.
fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// What the CRM card must learn from one step.
pub fn crm_updates(
    before: &DialogState,
    after: &DialogState,
    effects: &[Effect],
    finished: Option<Outcome>,
) -> Vec<CrmUpdate> {
    let mut out = lead_updates(before, after, effects, finished);
    // A visit follows whatever the lead's own updates say (the card has its manager first).
    out.extend(effects.iter().filter_map(|e| match e {
        Effect::VisitChanged(v) => Some(CrmUpdate::Visit(v.clone())),
        _ => None,
    }));
    out
}

fn lead_updates(
    before: &DialogState,
    after: &DialogState,
    effects: &[Effect],
    finished: Option<Outcome>,
) -> Vec<CrmUpdate> {
    let mut out = vec![];
    if before.status != LeadStatus::BotProcessing && after.status == LeadStatus::BotProcessing {
        out.push(CrmUpdate::BotStarted);
    }
    // A (new) manager owns the lead: first handover or a reassignment.
    if let (LeadStatus::Assigned, Some(phone), Some(manager)) = (after.status, &after.phone, &after.manager) {
        if before.manager.as_ref().map(|m| &m.id) != Some(&manager.id) {
            out.push(CrmUpdate::HandedOver {
                phone: phone.clone(),
                manager_id: manager.id.clone(),
            });
            if after.had_dialog && before.manager.is_none() {
                out.push(CrmUpdate::TranscriptComment);
            }
            for e in effects {
                if let Effect::NotifyManager { manager, text } = e {
                    out.push(CrmUpdate::NotifyManager {
                        manager_id: manager.id.clone(),
                        text: text.clone(),
                    });
                }
            }
        } else {
            // The same manager: a correction changes the card's number (a new hand-over writes
            // the corrected one anyway).
            for e in effects {
                if let Effect::PhoneCorrected { old, new } = e {
                    out.push(CrmUpdate::PhoneCorrected {
                        old: old.clone(),
                        new: new.clone(),
                    });
                }
            }
        }
        return out;
    }
    if let Some(outcome) = finished {
        out.push(CrmUpdate::Failed {
            status: after.status,
            outcome,
        });
        out.push(CrmUpdate::FailureComment { outcome });
        if after.had_dialog {
            out.push(CrmUpdate::TranscriptComment);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, TimeZone, Utc};
    use serde_json::json;

    use super::*;
    use crate::dialog::{ArmedTimer, TimerKind};
    use crate::domain::Phone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap()
    }

    fn manager(id: &str, name: &str) -> ManagerRef {
        ManagerRef {
            id: ManagerId::parse(id).unwrap(),
            name: name.into(),
        }
    }

    fn state(status: LeadStatus) -> DialogState {
        let mut s = DialogState::new(LeadId(7), "telegram", None, t0());
        s.status = status;
        s
    }

    fn no_heads(_: &ManagerId) -> Option<ManagerRef> {
        None
    }

    fn input<'a>(before: &'a DialogState, after: &'a DialogState, effects: &'a [Effect], crm: bool) -> StepInput<'a> {
        StepInput {
            lead: LeadId(7),
            version: 3,
            crm: crm.then_some("bitrix24"),
            before,
            after,
            effects,
            caps: None,
            transcript_delivers: false,
        }
    }

    #[test]
    fn a_greeting_is_a_message_on_the_leads_channel_and_its_clocks() {
        let before = state(LeadStatus::New);
        let after = state(LeadStatus::BotProcessing);
        let due = t0() + Duration::minutes(10);
        let effects = [
            Effect::Say("Здравствуйте!".into()),
            Effect::ArmTimer {
                kind: TimerKind::Reask,
                timer: ArmedTimer {
                    due_at: due,
                    generation: 1,
                },
            },
        ];
        let p = plan(&input(&before, &after, &effects, false), &no_heads);
        assert_eq!(p.said, vec![(Direction::Out, "Здравствуйте!".to_string())]);
        assert_eq!(p.outbox.len(), 1);
        assert_eq!(p.outbox[0].kind, KIND_MESSAGE);
        assert_eq!(
            p.outbox[0].payload,
            json!({"channel": "telegram", "text": "Здравствуйте!", "request_phone": true})
        );
        assert_eq!(p.outbox[0].idempotency_key, "lead:7:v3:say0");
        assert!(
            matches!(&p.timers[..], [TimerChange::Arm { kind, due_at, generation: 1 }] if kind == "reask" && *due_at == due)
        );
        assert_eq!(p.finished, None);
    }

    fn caps(buttons: crate::domain::capabilities::Buttons, max_text_len: usize) -> Capabilities {
        Capabilities {
            realtime: true,
            can_initiate: crate::domain::capabilities::Initiate::Never,
            free_form_window: None,
            phone_share: crate::domain::capabilities::PhoneShare::Text,
            buttons,
            max_buttons: 10,
            max_button_label: 20,
            max_text_len,
        }
    }

    #[test]
    fn a_message_is_fitted_to_its_channel_and_the_transcript_has_what_was_read() {
        use crate::domain::capabilities::Buttons;
        let before = state(LeadStatus::New);
        let after = state(LeadStatus::BotProcessing);
        let text = "Оставьте номер телефона. Менеджер перезвонит и всё расскажет.";
        let effects = [
            Effect::Say(text.into()),
            Effect::Offer(vec!["Цены".into(), "Адрес".into()]),
        ];
        let mut i = input(&before, &after, &effects, false);
        i.caps = Some(caps(Buttons::Reply, 30));
        let p = plan(&i, &no_heads);
        let read: Vec<_> = p
            .outbox
            .iter()
            .map(|o| o.payload["text"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(p.said, vec![(Direction::Out, read.join("\n"))]);
        let keys: Vec<_> = p.outbox.iter().map(|o| o.idempotency_key.as_str()).collect();
        assert_eq!(keys, ["lead:7:v3:say0", "lead:7:v3:say0.1", "lead:7:v3:say0.2"]);
        for o in &p.outbox {
            assert!(o.payload["text"].as_str().unwrap().chars().count() <= 30, "{o:?}");
        }
        assert!(p.outbox[0].payload.get("buttons").is_none());
        assert_eq!(p.outbox[2].payload["buttons"], json!(["Цены", "Адрес"]));
        // No buttons on the channel: a numbered list in the (last) text.
        i.caps = Some(caps(Buttons::None, 1000));
        let p = plan(&i, &no_heads);
        assert_eq!(p.outbox.len(), 1);
        assert_eq!(p.outbox[0].payload["text"], format!("{text}\n\n1. Цены\n2. Адрес"));
        assert!(p.outbox[0].payload.get("buttons").is_none());
    }

    #[test]
    fn the_same_step_planned_twice_has_the_same_keys() {
        let before = state(LeadStatus::New);
        let after = state(LeadStatus::BotProcessing);
        let effects = [Effect::Say("a".into()), Effect::Say("b".into())];
        let a = plan(&input(&before, &after, &effects, true), &no_heads);
        let b = plan(&input(&before, &after, &effects, true), &no_heads);
        assert_eq!(a, b);
        let keys: Vec<_> = a.outbox.iter().map(|o| o.idempotency_key.as_str()).collect();
        assert_eq!(keys, ["lead:7:v3:say0", "lead:7:v3:say1", "lead:7:v3:crm0"]);
    }

    #[test]
    fn a_handover_updates_the_card_once_and_notifies_the_manager_with_the_phone() {
        let mut before = state(LeadStatus::BotProcessing);
        before.had_dialog = true;
        let mut after = before.clone();
        after.status = LeadStatus::Assigned;
        after.phone = Some(Phone::parse("+79161234567").unwrap());
        after.manager = Some(manager("11", "Анна"));
        let effects = [
            Effect::NotifyManager {
                manager: manager("11", "Анна"),
                text: "Новый лид".into(),
            },
            Effect::Finished(Outcome::PhoneObtained),
        ];
        let p = plan(&input(&before, &after, &effects, true), &no_heads);
        let kinds: Vec<_> = p.outbox.iter().map(|o| o.kind.as_str()).collect();
        assert_eq!(kinds, [KIND_NOTIFICATION, KIND_CRM, KIND_CRM, KIND_CRM]);
        assert_eq!(p.outbox[0].payload["phone"], "+79161234567");
        assert_eq!(p.outbox[0].payload["manager_id"], "11");
        assert_eq!(
            p.outbox[1].payload,
            json!({"crm": "bitrix24", "action": "handed_over", "phone": "+79161234567", "manager_id": "11"})
        );
        assert_eq!(
            p.outbox[2].payload,
            json!({"crm": "bitrix24", "action": "transcript_comment"})
        );
        assert_eq!(p.outbox[3].payload["action"], "notify_manager");
        assert_eq!(p.finished, Some(Outcome::PhoneObtained));
    }

    #[test]
    fn without_a_crm_adapter_the_card_is_left_alone() {
        let before = state(LeadStatus::BotProcessing);
        let mut after = before.clone();
        after.status = LeadStatus::LowQuality;
        let effects = [Effect::Finished(Outcome::NoAnswer)];
        let p = plan(&input(&before, &after, &effects, false), &no_heads);
        assert!(p.outbox.is_empty());
        let p = plan(&input(&before, &after, &effects, true), &no_heads);
        let actions: Vec<_> = p.outbox.iter().map(|o| o.payload["action"].clone()).collect();
        assert_eq!(actions, [json!("failed"), json!("failure_comment")]);
    }

    #[test]
    fn a_reassignment_releases_the_old_manager_and_tells_the_head() {
        let mut before = state(LeadStatus::Assigned);
        before.phone = Some(Phone::parse("+79161234567").unwrap());
        before.manager = Some(manager("11", "Анна"));
        let mut after = before.clone();
        after.manager = Some(manager("12", "Игорь"));
        let effects = [
            Effect::ReleaseManager {
                manager_id: ManagerId::parse("11").unwrap(),
            },
            Effect::NotifyHead {
                about: manager("11", "Анна"),
                text: "Анна не приняла лид".into(),
            },
        ];
        let head = |id: &ManagerId| (id.as_str() == "11").then(|| manager("100", "Ольга"));
        let p = plan(&input(&before, &after, &effects, true), &head);
        assert_eq!(p.released, vec![ManagerId::parse("11").unwrap()]);
        assert_eq!(p.outbox[0].kind, KIND_NOTIFICATION);
        assert_eq!(p.outbox[0].payload["manager_id"], "100");
        assert_eq!(p.outbox[0].idempotency_key, "lead:7:v3:head1");
        // The new manager owns the card now (no transcript again: it was written at handover).
        assert_eq!(p.outbox[1].payload["action"], "handed_over");
        assert_eq!(p.outbox[1].payload["manager_id"], "12");
        assert_eq!(p.outbox.len(), 2);
        let p = plan(&input(&before, &after, &effects, true), &no_heads);
        assert_eq!(
            p.no_head.len(),
            1,
            "an unconfigured head is reported, not dropped silently"
        );
    }

    #[test]
    fn closing_a_queued_lead_leaves_the_queue() {
        let before = state(LeadStatus::Queued);
        let mut after = before.clone();
        after.status = LeadStatus::Closed;
        let p = plan(&input(&before, &after, &[Effect::LeaveQueue], false), &no_heads);
        assert!(p.left_queue);
        assert!(p.released.is_empty());
    }
}
