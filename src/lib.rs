//! leadbot: takes the first contact with every new sales lead, obtains a valid phone number,
//! and hands the lead to the right manager.

pub mod actors;
pub mod app;
pub mod channels;
pub mod config;
pub mod crm;
pub mod delivery;
pub mod dialog;
pub mod dispatch;
pub mod domain;
pub mod http;
pub mod keywords;
pub mod notify;
pub mod routing;
pub mod store;
pub mod telemetry;
