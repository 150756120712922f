//! The lead actor's side of bookings: the booking dialog's effects carried out against the
//! calendar and the booking store, each answered with the event the dialog waits for — in the
//! same step, before its commit. Bookings are idempotent by key, so a step redone after a crash
//! books nothing twice; scores are stored once per key.

use chrono::{DateTime, Utc};
use ractor::ActorProcessingErr;

use super::lead::{LeadActor, LeadRuntime};
use crate::booking::schedule::grid_seconds;
use crate::booking::{Busy, Slot};
use crate::calendar::{BookOutcome, NewBooking};
use crate::dialog::{DialogState, Effect, Event};
use crate::store::NewCsat;
use crate::telemetry;

impl LeadActor {
    /// The event answering `effect`, or `None` when it is not a booking effect (or needs none).
    pub(super) async fn resolve_booking(
        &self,
        rt: &LeadRuntime,
        state: &DialogState,
        effect: &Effect,
        now: DateTime<Utc>,
    ) -> Result<Option<Event>, ActorProcessingErr> {
        let (Some(deps), Some(rules)) = (&self.deps.booking, self.deps.dialog.booking_rules()) else {
            return Ok(None);
        };
        let lead = rt.lead_id();
        Ok(match effect {
            Effect::FindSlots { service, wish } => {
                let Some(service) = rules.schedule.service(service) else {
                    return Ok(None);
                };
                let resources: Vec<String> = rules.schedule.resources_for(service).map(|r| r.id.clone()).collect();
                let (from, to) = rules.schedule.horizon(now);
                let busy: Vec<Busy> = deps
                    .calendar
                    .busy(&resources, from - chrono::Duration::days(1), to)
                    .await
                    .map_err(|e| ActorProcessingErr::from(format!("calendar busy: {e}")))?
                    .into_iter()
                    .map(|b| Busy {
                        resource: b.resource,
                        from: b.from,
                        until: b.until,
                    })
                    .collect();
                Some(Event::SlotsFound(rules.schedule.offer(
                    service,
                    &busy,
                    wish,
                    now,
                    rules.offer,
                )))
            }
            Effect::Book { slot, key } => {
                let booking = self.new_booking(rt, state, slot, key);
                let outcome = deps
                    .calendar
                    .book(&booking)
                    .await
                    .map_err(|e| ActorProcessingErr::from(format!("calendar book: {e}")))?;
                Some(answer(outcome, slot, "booked"))
            }
            Effect::MoveBooking { old_id, slot, key } => {
                let booking = self.new_booking(rt, state, slot, key);
                let outcome = deps
                    .calendar
                    .reschedule(lead, *old_id, &booking, now)
                    .await
                    .map_err(|e| ActorProcessingErr::from(format!("calendar reschedule: {e}")))?;
                Some(answer(outcome, slot, "rescheduled"))
            }
            Effect::CancelBooking { booking_id } => {
                // Already cancelled (a redone step) is cancelled all the same.
                let freed = deps
                    .calendar
                    .cancel(lead, *booking_id, now)
                    .await
                    .map_err(|e| ActorProcessingErr::from(format!("calendar cancel: {e}")))?;
                if freed {
                    metrics::counter!(telemetry::BOOKINGS, "result" => "cancelled").increment(1);
                }
                Some(Event::BookingCancelled {
                    booking_id: *booking_id,
                })
            }
            Effect::LookUpClient { phone } => {
                deps.store
                    .client_history(phone.as_str(), lead)
                    .await?
                    .map(|h| Event::ReturningClient {
                        name: h.client_name,
                        service: h.service,
                        resource: h.resource,
                    })
            }
            Effect::RecordCsat {
                key,
                score,
                service,
                booking_id,
            } => {
                let stored = deps
                    .store
                    .record_csat(&NewCsat {
                        lead,
                        key: key.clone(),
                        score: *score,
                        channel: state.channel.to_string(),
                        manager_id: state.manager.as_ref().map(|m| m.id.to_string()),
                        service: service.clone(),
                        booking_id: *booking_id,
                        at: now,
                    })
                    .await?;
                if stored {
                    let channel = state.channel.to_string();
                    metrics::counter!(telemetry::CSAT_SCORES, "channel" => channel.clone(), "score" => score.to_string())
                        .increment(1);
                    metrics::counter!(telemetry::CSAT_SUM, "channel" => channel).increment(*score as u64);
                }
                None
            }
            Effect::CsatComment { key, text } => {
                deps.store.csat_comment(lead, key, text).await?;
                None
            }
            _ => None,
        })
    }

    fn new_booking(&self, rt: &LeadRuntime, state: &DialogState, slot: &Slot, key: &str) -> NewBooking {
        let buffer = self
            .deps
            .dialog
            .booking_rules()
            .map_or(chrono::Duration::zero(), |r| r.schedule.buffer);
        let cell = self
            .deps
            .dialog
            .booking_rules()
            .map_or(900, |r| grid_seconds(&r.schedule));
        NewBooking {
            lead: rt.lead_id(),
            key: key.to_string(),
            resource: slot.resource.clone(),
            service: slot.service.clone(),
            starts_at: slot.start,
            ends_at: slot.end,
            busy_until: slot.end + buffer,
            cell_seconds: cell,
            channel: state.channel.to_string(),
            client_name: state.name.clone(),
            phone: state.phone.as_ref().map(|p| p.as_str().to_string()),
            manager_id: state.manager.as_ref().map(|m| m.id.to_string()),
        }
    }

    /// The LLM's reading of a client message, when bookings ask for it.
    pub(super) async fn intent_hint(&self, text: &str) -> Option<Event> {
        let reader = self.deps.booking.as_ref()?.intents.as_ref()?;
        let started = std::time::Instant::now();
        let hint = reader.read(text).await;
        metrics::histogram!(telemetry::LLM_INTENT_SECONDS, "result" => if hint.is_some() { "ok" } else { "rules" })
            .record(started.elapsed().as_secs_f64());
        hint.map(Event::IntentHint)
    }
}

fn answer(outcome: BookOutcome, slot: &Slot, what: &'static str) -> Event {
    match outcome {
        BookOutcome::Booked(row) | BookOutcome::AlreadyBooked(row) => {
            metrics::counter!(telemetry::BOOKINGS, "result" => what).increment(1);
            Event::Booked {
                booking_id: row.id,
                slot: slot.clone(),
            }
        }
        BookOutcome::Taken => {
            metrics::counter!(telemetry::BOOKINGS, "result" => "taken").increment(1);
            Event::SlotTaken
        }
    }
}
