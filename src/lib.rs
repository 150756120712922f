//! leadbot: takes the first contact with every new sales lead, obtains a valid phone number,
//! and hands the lead to the right manager.

pub mod actors;
pub mod app;
pub mod booking;
pub mod calendar;
pub mod channels;
pub mod config;
pub mod crm;
pub mod dialog;
pub mod domain;
pub mod http;
pub mod intake;
pub mod jobs;
pub mod keywords;
pub mod llm;
pub mod notify;
pub mod outbox;
pub mod reports;
pub mod routing;
pub mod sla;
pub mod store;
pub mod telemetry;
