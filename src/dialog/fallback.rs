//! The fallback chain of first contact: when a lead has no chat the bot can talk on, it is
//! reached step by step along its source's chain (the ad platform's chat if it may write first
//! → an SMS with a link to a chat → an automated call → `needs_review` "no channel").
//!
//! Pure: `(state, event, now) -> (state, effects)`. What the outside world knows (which
//! channels can reach the client now, how many SMS and calls went out today) comes in with
//! the event as plain data; the lead's actor persists the state, arms the timer and turns the
//! effects into outbox rows, transcript lines and metrics.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The step's channel name that means "the lead's own channel".
pub const LEAD_CHANNEL: &str = "lead";
pub const SMS: &str = "sms";
pub const VOICE: &str = "voice";

/// One step of a chain: a channel and how long to wait for an answer after it.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRule {
    /// `lead` (the lead's own channel), `sms`, `voice` or a channel's name.
    pub channel: String,
    pub wait: Duration,
}

/// What a step costs and how it is regulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// A chat message: free, any hour.
    Chat,
    /// Paid and regulated: per-lead and per-day caps, quiet hours.
    Sms,
    Call,
}

impl StepKind {
    pub fn of(channel: &str) -> StepKind {
        match channel {
            SMS => StepKind::Sms,
            VOICE => StepKind::Call,
            _ => StepKind::Chat,
        }
    }
}

/// Caps on what costs money; `None`: no cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Caps {
    pub sms_per_lead: Option<u32>,
    pub calls_per_lead: Option<u32>,
    pub sms_per_day: Option<u32>,
    pub calls_per_day: Option<u32>,
}

/// No SMS or calls between `from` and `to` in the client's time zone (may wrap midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub from: NaiveTime,
    pub to: NaiveTime,
}

impl QuietHours {
    fn contains(&self, t: NaiveTime) -> bool {
        if self.from <= self.to {
            self.from <= t && t < self.to
        } else {
            t >= self.from || t < self.to
        }
    }

    /// The first moment at or after `now` outside quiet hours, in `tz`.
    pub fn next_allowed(&self, now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        let local = now.with_timezone(&tz);
        if !self.contains(local.time()) {
            return now;
        }
        let mut day = local.date_naive();
        if local.time() >= self.to {
            day = day.succ_opt().unwrap_or(day);
        }
        let naive = day.and_time(self.to);
        // A morning skipped by a DST change: an hour later exists.
        let at = tz
            .from_local_datetime(&naive)
            .earliest()
            .or_else(|| tz.from_local_datetime(&(naive + Duration::hours(1))).earliest());
        at.map_or(now + Duration::hours(1), |t| t.with_timezone(&Utc))
    }
}

/// The texts sent by the chain; `{link}` is replaced by links to continue in a chat.
#[derive(Debug, Clone, PartialEq)]
pub struct FallbackTexts {
    pub chat: String,
    pub sms: String,
    pub call: String,
}

/// The chains per lead source and the rules on paid steps.
#[derive(Debug, Clone, PartialEq)]
pub struct FallbackRules {
    pub chains: BTreeMap<String, Vec<StepRule>>,
    pub caps: Caps,
    pub quiet: Option<QuietHours>,
    /// The client's time zone (per source where configured).
    pub time_zone: Tz,
    pub time_zones: BTreeMap<String, Tz>,
    pub texts: FallbackTexts,
}

/// Whether a channel can reach this client now (the caller knows the adapters and the lead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Yes,
    /// leadbot has no adapter for it (not configured).
    NoAdapter,
    /// The channel cannot write first to this client (reply-only, no thread).
    CannotInitiate,
    /// SMS and calls need the client's number.
    NoPhone,
}

/// Why a step was taken or passed over; the `reason` label of the metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Sent,
    NoAdapter,
    CannotInitiate,
    NoPhone,
    /// The channel failed (blocked, expired window, refused number).
    Lost,
    /// No answer within the step's wait.
    NoAnswer,
    LeadCap,
    DayCap,
    QuietHours,
    Answered,
    OptedOut,
    Exhausted,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Sent => "sent",
            Reason::NoAdapter => "no_adapter",
            Reason::CannotInitiate => "cannot_initiate",
            Reason::NoPhone => "no_phone",
            Reason::Lost => "lost",
            Reason::NoAnswer => "no_answer",
            Reason::LeadCap => "lead_cap",
            Reason::DayCap => "day_cap",
            Reason::QuietHours => "quiet_hours",
            Reason::Answered => "answered",
            Reason::OptedOut => "opted_out",
            Reason::Exhausted => "exhausted",
        }
    }

    /// The transcript's words for it.
    fn words(self) -> &'static str {
        match self {
            Reason::Sent => "отправлено",
            Reason::NoAdapter => "канал не подключён — следующий шаг",
            Reason::CannotInitiate => "канал не может написать первым — следующий шаг",
            Reason::NoPhone => "нет номера клиента — следующий шаг",
            Reason::Lost => "канал недоступен — следующий шаг",
            Reason::NoAnswer => "нет ответа — следующий шаг",
            Reason::LeadCap => "лимит на лид исчерпан — следующий шаг",
            Reason::DayCap => "дневной лимит исчерпан — следующий шаг",
            Reason::QuietHours => "тихие часы у клиента — отложено",
            Reason::Answered => "клиент ответил",
            Reason::OptedOut => "клиент отказался от сообщений (СТОП)",
            Reason::Exhausted => "каналы исчерпаны — нужна проверка (нет канала)",
        }
    }
}

/// How the chain ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum End {
    Answered { channel: String },
    OptedOut,
    Exhausted,
}

/// The chain's progress for one lead; kept in the lead's snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FallbackState {
    /// The chain of this source (empty: no chain runs).
    pub source: String,
    /// The lead's own channel, which the `lead` step means.
    pub lead_channel: String,
    /// The step tried next.
    pub next_step: usize,
    /// The channel of the step waiting for an answer.
    pub current: Option<String>,
    /// The timer: a step's wait, or a paid step deferred out of quiet hours.
    pub due_at: Option<DateTime<Utc>>,
    pub generation: u64,
    /// The armed timer re-tries `next_step` (it was deferred), not the one after.
    pub deferred: bool,
    pub sms_sent: u32,
    pub calls_made: u32,
    /// Channels that failed for this client.
    pub lost: Vec<String>,
    pub started: bool,
    pub end: Option<End>,
}

impl FallbackState {
    pub fn running(&self) -> bool {
        self.started && self.end.is_none()
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum FbEvent {
    /// The lead has no chat the bot can talk on: the chain begins.
    Start {
        source: String,
        lead_channel: String,
    },
    /// A step's channel cannot deliver: the next step at once.
    ChannelLost {
        channel: String,
    },
    TimerFired {
        generation: u64,
    },
    /// The client answered on `channel`: the dialog continues there.
    Answered {
        channel: String,
    },
    /// "СТОП": nothing more is sent.
    OptedOut,
}

/// What the outside world looks like at this event.
pub struct World<'a> {
    pub reach: &'a dyn Fn(&str) -> Reach,
    /// SMS sent and calls made today by the whole service (for the per-day caps).
    pub sms_today: u32,
    pub calls_today: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FbEffect {
    /// A message (SMS, chat) or a call on `channel`; `{link}` in `text` is for the caller to fill.
    Send {
        channel: String,
        kind: StepKind,
        text: String,
    },
    Arm {
        due_at: DateTime<Utc>,
        generation: u64,
    },
    Cancel,
    /// The step taken or passed over and why: a transcript line and a metric.
    Note {
        channel: String,
        reason: Reason,
        text: String,
    },
    /// Every step failed: the lead needs review, "no channel".
    Exhausted,
}

impl FallbackRules {
    pub fn chain(&self, source: &str) -> Option<&[StepRule]> {
        self.chains.get(source).map(Vec::as_slice).filter(|c| !c.is_empty())
    }

    pub fn has_chain(&self, source: &str) -> bool {
        self.chain(source).is_some()
    }

    /// Whether a per-day cap is set (the caller counts today's SMS and calls only then).
    pub fn has_day_caps(&self) -> bool {
        self.caps.sms_per_day.is_some() || self.caps.calls_per_day.is_some()
    }

    /// The start of `now`'s day in the service's time zone (the per-day caps' day).
    pub fn day_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let tz = self.time_zone;
        let midnight = now.with_timezone(&tz).date_naive().and_time(NaiveTime::MIN);
        tz.from_local_datetime(&midnight)
            .earliest()
            .map_or(now - Duration::hours(24), |t| t.with_timezone(&Utc))
    }

    fn time_zone(&self, source: &str) -> Tz {
        self.time_zones.get(source).copied().unwrap_or(self.time_zone)
    }

    /// Applies one event.
    pub fn step(
        &self,
        mut state: FallbackState,
        event: FbEvent,
        world: &World<'_>,
        now: DateTime<Utc>,
    ) -> (FallbackState, Vec<FbEffect>) {
        let mut fx = Vec::new();
        match event {
            FbEvent::Start { source, lead_channel } => {
                if state.started || !self.has_chain(&source) {
                    return (state, fx);
                }
                state.started = true;
                state.source = source;
                state.lead_channel = lead_channel;
                self.advance(&mut state, &mut fx, world, now);
            }
            FbEvent::ChannelLost { channel } => {
                if !state.lost.contains(&channel) {
                    state.lost.push(channel.clone());
                }
                if state.running() && state.current.as_deref() == Some(channel.as_str()) {
                    state.current = None;
                    self.cancel(&mut state, &mut fx);
                    note(&mut fx, &channel, Reason::Lost);
                    self.advance(&mut state, &mut fx, world, now);
                }
            }
            FbEvent::TimerFired { generation } => {
                if !state.running() || state.due_at.is_none() || state.generation != generation {
                    return (state, fx); // stale
                }
                state.due_at = None;
                if state.deferred {
                    state.deferred = false;
                } else if let Some(ch) = state.current.take() {
                    note(&mut fx, &ch, Reason::NoAnswer);
                }
                self.advance(&mut state, &mut fx, world, now);
            }
            FbEvent::Answered { channel } => {
                if state.running() {
                    self.cancel(&mut state, &mut fx);
                    state.current = None;
                    note(&mut fx, &channel, Reason::Answered);
                    state.end = Some(End::Answered { channel });
                }
            }
            FbEvent::OptedOut => {
                if state.running() {
                    self.cancel(&mut state, &mut fx);
                    let ch = state.current.take().unwrap_or_else(|| state.lead_channel.clone());
                    note(&mut fx, &ch, Reason::OptedOut);
                    state.end = Some(End::OptedOut);
                }
            }
        }
        (state, fx)
    }

    fn cancel(&self, state: &mut FallbackState, fx: &mut Vec<FbEffect>) {
        if state.due_at.take().is_some() {
            fx.push(FbEffect::Cancel);
        }
        state.deferred = false;
    }

    fn arm(&self, state: &mut FallbackState, fx: &mut Vec<FbEffect>, due_at: DateTime<Utc>) {
        state.generation += 1;
        state.due_at = Some(due_at);
        fx.push(FbEffect::Arm {
            due_at,
            generation: state.generation,
        });
    }

    /// Tries the steps from `next_step` on until one is taken (or deferred), or none is left.
    fn advance(&self, state: &mut FallbackState, fx: &mut Vec<FbEffect>, world: &World<'_>, now: DateTime<Utc>) {
        let chain = self.chain(&state.source).unwrap_or(&[]);
        while let Some(rule) = chain.get(state.next_step) {
            let channel = if rule.channel == LEAD_CHANNEL {
                state.lead_channel.clone()
            } else {
                rule.channel.clone()
            };
            let kind = StepKind::of(&channel);
            let reach = if state.lost.contains(&channel) {
                None
            } else {
                Some((world.reach)(&channel))
            };
            let passed = match reach {
                None => Some(Reason::Lost),
                Some(Reach::NoAdapter) => Some(Reason::NoAdapter),
                Some(Reach::CannotInitiate) => Some(Reason::CannotInitiate),
                Some(Reach::NoPhone) => Some(Reason::NoPhone),
                Some(Reach::Yes) => self.capped(state, kind, world),
            };
            if let Some(reason) = passed {
                note(fx, &channel, reason);
                state.next_step += 1;
                continue;
            }
            if kind != StepKind::Chat {
                if let Some(quiet) = self.quiet {
                    let tz = self.time_zone(&state.source);
                    let at = quiet.next_allowed(now, tz);
                    if at > now {
                        let local = at.with_timezone(&tz).format("%d.%m %H:%M");
                        fx.push(FbEffect::Note {
                            channel: channel.clone(),
                            reason: Reason::QuietHours,
                            text: format!("[переход] {channel}: {} до {local} ({tz})", Reason::QuietHours.words()),
                        });
                        state.deferred = true;
                        self.arm(state, fx, at);
                        return;
                    }
                }
            }
            let text = match kind {
                StepKind::Chat => &self.texts.chat,
                StepKind::Sms => &self.texts.sms,
                StepKind::Call => &self.texts.call,
            };
            fx.push(FbEffect::Send {
                channel: channel.clone(),
                kind,
                text: text.clone(),
            });
            match kind {
                StepKind::Sms => state.sms_sent += 1,
                StepKind::Call => state.calls_made += 1,
                StepKind::Chat => {}
            }
            note(fx, &channel, Reason::Sent);
            state.current = Some(channel);
            state.next_step += 1;
            self.arm(state, fx, now + rule.wait);
            return;
        }
        note(fx, "none", Reason::Exhausted);
        state.end = Some(End::Exhausted);
        fx.push(FbEffect::Exhausted);
    }

    fn capped(&self, state: &FallbackState, kind: StepKind, world: &World<'_>) -> Option<Reason> {
        let over = |used: u32, cap: Option<u32>| cap.is_some_and(|c| used >= c);
        match kind {
            StepKind::Chat => None,
            StepKind::Sms if over(state.sms_sent, self.caps.sms_per_lead) => Some(Reason::LeadCap),
            StepKind::Sms if over(world.sms_today, self.caps.sms_per_day) => Some(Reason::DayCap),
            StepKind::Call if over(state.calls_made, self.caps.calls_per_lead) => Some(Reason::LeadCap),
            StepKind::Call if over(world.calls_today, self.caps.calls_per_day) => Some(Reason::DayCap),
            _ => None,
        }
    }
}

fn note(fx: &mut Vec<FbEffect>, channel: &str, reason: Reason) {
    fx.push(FbEffect::Note {
        channel: channel.to_string(),
        reason,
        text: format!("[переход] {channel}: {}", reason.words()),
    });
}

#[cfg(test)]
mod tests {

    use super::*;

    fn rules() -> FallbackRules {
        let chain = vec![
            StepRule {
                channel: LEAD_CHANNEL.into(),
                wait: Duration::minutes(10),
            },
            StepRule {
                channel: SMS.into(),
                wait: Duration::hours(2),
            },
            StepRule {
                channel: VOICE.into(),
                wait: Duration::minutes(30),
            },
        ];
        FallbackRules {
            chains: BTreeMap::from([("avito".to_string(), chain)]),
            caps: Caps {
                sms_per_lead: Some(1),
                calls_per_lead: Some(1),
                sms_per_day: Some(100),
                calls_per_day: Some(50),
            },
            quiet: Some(QuietHours {
                from: NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
                to: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            }),
            time_zone: chrono_tz::Europe::Moscow,
            time_zones: BTreeMap::new(),
            texts: FallbackTexts {
                chat: "Здравствуйте!".into(),
                sms: "Продолжим: {link}".into(),
                call: "Нажмите 1".into(),
            },
        }
    }

    /// 12:00 in Moscow.
    fn noon() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
    }

    fn all(reach: Reach) -> impl Fn(&str) -> Reach {
        move |_| reach
    }

    fn world(reach: &dyn Fn(&str) -> Reach) -> World<'_> {
        World {
            reach,
            sms_today: 0,
            calls_today: 0,
        }
    }

    fn start() -> FbEvent {
        FbEvent::Start {
            source: "avito".into(),
            lead_channel: "avito".into(),
        }
    }

    fn sends(fx: &[FbEffect]) -> Vec<String> {
        fx.iter()
            .filter_map(|e| match e {
                FbEffect::Send { channel, .. } => Some(channel.clone()),
                _ => None,
            })
            .collect()
    }

    fn reasons(fx: &[FbEffect]) -> Vec<(String, Reason)> {
        fx.iter()
            .filter_map(|e| match e {
                FbEffect::Note { channel, reason, .. } => Some((channel.clone(), *reason)),
                _ => None,
            })
            .collect()
    }

    fn armed(fx: &[FbEffect]) -> Option<(DateTime<Utc>, u64)> {
        fx.iter().find_map(|e| match e {
            FbEffect::Arm { due_at, generation } => Some((*due_at, *generation)),
            _ => None,
        })
    }

    fn reply_only(ch: &str) -> Reach {
        if ch == "avito" {
            Reach::CannotInitiate
        } else {
            Reach::Yes
        }
    }

    #[test]
    fn a_reply_only_chat_is_passed_over_at_once_and_the_sms_waits_its_own_time() {
        let r = rules();
        let (s, fx) = r.step(FallbackState::default(), start(), &world(&reply_only), noon());
        assert_eq!(sends(&fx), vec!["sms"]);
        assert_eq!(
            reasons(&fx),
            vec![("avito".into(), Reason::CannotInitiate), ("sms".into(), Reason::Sent)]
        );
        assert_eq!(armed(&fx), Some((noon() + Duration::hours(2), 1)));
        assert_eq!(s.current.as_deref(), Some("sms"));
        assert_eq!(s.sms_sent, 1);
        // Two hours without an answer: the call.
        let later = noon() + Duration::hours(2);
        let (s, fx) = r.step(s, FbEvent::TimerFired { generation: 1 }, &world(&reply_only), later);
        assert_eq!(sends(&fx), vec!["voice"]);
        assert_eq!(reasons(&fx)[0], ("sms".into(), Reason::NoAnswer));
        assert_eq!(armed(&fx), Some((later + Duration::minutes(30), 2)));
        // Nobody picked up: nothing left, the lead needs review.
        let (s, fx) = r.step(s, FbEvent::TimerFired { generation: 2 }, &world(&reply_only), later);
        assert!(fx.contains(&FbEffect::Exhausted));
        assert_eq!(s.end, Some(End::Exhausted));
        assert!(!s.running());
    }

    #[test]
    fn a_chat_that_may_write_first_is_the_first_step() {
        let r = rules();
        let (s, fx) = r.step(FallbackState::default(), start(), &world(&all(Reach::Yes)), noon());
        assert_eq!(sends(&fx), vec!["avito"]);
        assert_eq!(armed(&fx), Some((noon() + Duration::minutes(10), 1)));
        assert_eq!(s.current.as_deref(), Some("avito"));
    }

    #[test]
    fn a_lost_channel_moves_on_at_once_and_a_stale_timer_does_nothing() {
        let r = rules();
        let (s, _) = r.step(FallbackState::default(), start(), &world(&reply_only), noon());
        let (s, fx) = r.step(
            s,
            FbEvent::ChannelLost { channel: "sms".into() },
            &world(&reply_only),
            noon() + Duration::minutes(1),
        );
        assert!(fx.contains(&FbEffect::Cancel));
        assert_eq!(sends(&fx), vec!["voice"]);
        assert_eq!(reasons(&fx)[0], ("sms".into(), Reason::Lost));
        // The SMS step's timer (generation 1) fires late: ignored.
        let (s2, fx) = r.step(
            s.clone(),
            FbEvent::TimerFired { generation: 1 },
            &world(&reply_only),
            noon(),
        );
        assert!(fx.is_empty());
        assert_eq!(s2, s);
    }

    #[test]
    fn an_answer_ends_the_chain_and_nothing_more_is_sent() {
        let r = rules();
        let (s, _) = r.step(FallbackState::default(), start(), &world(&reply_only), noon());
        let (s, fx) = r.step(
            s,
            FbEvent::Answered {
                channel: "telegram".into(),
            },
            &world(&reply_only),
            noon(),
        );
        assert_eq!(fx[0], FbEffect::Cancel);
        assert_eq!(reasons(&fx), vec![("telegram".into(), Reason::Answered)]);
        assert_eq!(
            s.end,
            Some(End::Answered {
                channel: "telegram".into()
            })
        );
        let (_, fx) = r.step(s, FbEvent::TimerFired { generation: 1 }, &world(&reply_only), noon());
        assert!(fx.is_empty());
    }

    #[test]
    fn stop_ends_the_chain_before_any_paid_step() {
        let r = rules();
        let (s, _) = r.step(FallbackState::default(), start(), &world(&all(Reach::Yes)), noon());
        let (s, fx) = r.step(s, FbEvent::OptedOut, &world(&all(Reach::Yes)), noon());
        assert_eq!(s.end, Some(End::OptedOut));
        assert!(sends(&fx).is_empty());
        // Neither the timer nor a lost channel starts anything again.
        let (s, fx) = r.step(
            s,
            FbEvent::TimerFired { generation: 1 },
            &world(&all(Reach::Yes)),
            noon(),
        );
        assert!(fx.is_empty());
        let (_, fx) = r.step(
            s,
            FbEvent::ChannelLost {
                channel: "avito".into(),
            },
            &world(&all(Reach::Yes)),
            noon(),
        );
        assert!(fx.is_empty());
    }

    #[test]
    fn at_night_the_sms_waits_for_the_morning_in_the_clients_time_zone() {
        let r = rules();
        // 23:30 in Moscow.
        let night = Utc.with_ymd_and_hms(2026, 12, 1, 20, 30, 0).unwrap();
        let (s, fx) = r.step(FallbackState::default(), start(), &world(&reply_only), night);
        assert!(sends(&fx).is_empty());
        let morning = Utc.with_ymd_and_hms(2026, 12, 2, 6, 0, 0).unwrap(); // 09:00 MSK
        assert_eq!(armed(&fx), Some((morning, 1)));
        assert!(reasons(&fx).contains(&("sms".into(), Reason::QuietHours)));
        assert!(s.deferred);
        assert_eq!(s.sms_sent, 0);
        // The morning: the deferred SMS goes, with its own wait after it.
        let (s, fx) = r.step(s, FbEvent::TimerFired { generation: 1 }, &world(&reply_only), morning);
        assert_eq!(sends(&fx), vec!["sms"]);
        assert_eq!(armed(&fx), Some((morning + Duration::hours(2), 2)));
        assert!(!s.deferred);
        // Just after midnight the morning is the same day.
        let past_midnight = Utc.with_ymd_and_hms(2026, 12, 1, 21, 30, 0).unwrap(); // 00:30 MSK on the 2nd
        let (_, fx) = r.step(FallbackState::default(), start(), &world(&reply_only), past_midnight);
        assert_eq!(armed(&fx).map(|a| a.0), Some(morning));
        // A source whose clients live in New York: 15:30 there, the SMS goes at once.
        let mut r2 = rules();
        r2.time_zones.insert("avito".into(), chrono_tz::America::New_York);
        let (_, fx) = r2.step(FallbackState::default(), start(), &world(&reply_only), night);
        assert_eq!(sends(&fx), vec!["sms"]);
    }

    #[test]
    fn caps_pass_a_paid_step_over() {
        let r = rules();
        // Per day: the SMS budget is spent, the call goes.
        let reach = reply_only;
        let w = World {
            reach: &reach,
            sms_today: 100,
            calls_today: 0,
        };
        let (s, fx) = r.step(FallbackState::default(), start(), &w, noon());
        assert_eq!(sends(&fx), vec!["voice"]);
        assert!(reasons(&fx).contains(&("sms".into(), Reason::DayCap)));
        assert_eq!(s.calls_made, 1);
        // Per lead: a chain that has SMS twice sends it once.
        let mut r2 = rules();
        r2.chains.insert(
            "avito".into(),
            vec![
                StepRule {
                    channel: SMS.into(),
                    wait: Duration::minutes(5),
                },
                StepRule {
                    channel: SMS.into(),
                    wait: Duration::minutes(5),
                },
            ],
        );
        let (s, fx) = r2.step(FallbackState::default(), start(), &world(&reply_only), noon());
        assert_eq!(sends(&fx), vec!["sms"]);
        let (s, fx) = r2.step(s, FbEvent::TimerFired { generation: 1 }, &world(&reply_only), noon());
        assert!(sends(&fx).is_empty());
        assert!(reasons(&fx).contains(&("sms".into(), Reason::LeadCap)));
        assert_eq!(s.sms_sent, 1);
        assert_eq!(s.end, Some(End::Exhausted));
    }

    #[test]
    fn no_phone_and_no_adapter_are_passed_over() {
        let r = rules();
        let reach = |ch: &str| match ch {
            "sms" => Reach::NoPhone,
            "voice" => Reach::NoAdapter,
            _ => Reach::CannotInitiate,
        };
        let (s, fx) = r.step(FallbackState::default(), start(), &world(&reach), noon());
        assert_eq!(
            reasons(&fx),
            vec![
                ("avito".into(), Reason::CannotInitiate),
                ("sms".into(), Reason::NoPhone),
                ("voice".into(), Reason::NoAdapter),
                ("none".into(), Reason::Exhausted)
            ]
        );
        assert!(fx.contains(&FbEffect::Exhausted));
        assert_eq!(s.end, Some(End::Exhausted));
    }

    #[test]
    fn a_source_without_a_chain_starts_nothing_and_a_second_start_is_ignored() {
        let r = rules();
        let (s, fx) = r.step(
            FallbackState::default(),
            FbEvent::Start {
                source: "site".into(),
                lead_channel: "webchat".into(),
            },
            &world(&reply_only),
            noon(),
        );
        assert!(fx.is_empty());
        assert!(!s.started);
        let (s, _) = r.step(FallbackState::default(), start(), &world(&reply_only), noon());
        let (s2, fx) = r.step(s.clone(), start(), &world(&reply_only), noon());
        assert!(fx.is_empty());
        assert_eq!(s2, s);
    }

    #[test]
    fn the_caps_day_starts_at_midnight_in_the_time_zone() {
        let r = rules();
        // 01:00 MSK on the 2nd is 22:00 UTC on the 1st: the day began at 21:00 UTC.
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 22, 0, 0).unwrap();
        assert_eq!(r.day_start(t), Utc.with_ymd_and_hms(2026, 12, 1, 21, 0, 0).unwrap());
        assert!(r.has_day_caps());
    }

    #[test]
    fn quiet_hours_inside_one_day_and_dst() {
        let q = QuietHours {
            from: NaiveTime::from_hms_opt(13, 0, 0).unwrap(),
            to: NaiveTime::from_hms_opt(14, 0, 0).unwrap(),
        };
        let tz = chrono_tz::UTC;
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 13, 30, 0).unwrap();
        assert_eq!(
            q.next_allowed(at, tz),
            Utc.with_ymd_and_hms(2026, 12, 1, 14, 0, 0).unwrap()
        );
        let free = Utc.with_ymd_and_hms(2026, 12, 1, 14, 0, 0).unwrap();
        assert_eq!(q.next_allowed(free, tz), free);
        // 02:00-03:00 does not exist in Berlin on 2026-03-29: an hour later is taken.
        let q = QuietHours {
            from: NaiveTime::from_hms_opt(0, 0, 0).unwrap(),
            to: NaiveTime::from_hms_opt(2, 30, 0).unwrap(),
        };
        let night = Utc.with_ymd_and_hms(2026, 3, 29, 0, 30, 0).unwrap(); // 01:30 CET
        let next = q.next_allowed(night, chrono_tz::Europe::Berlin);
        assert_eq!(next, Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap()); // 03:30 CEST
    }
}
