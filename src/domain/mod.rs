//! Domain types shared by every layer: ids and newtypes parsed once, statuses, the records the
//! doors pass around. No I/O here.

pub mod access;
pub mod capabilities;
mod channel;
mod deal;
mod lead;
mod manager;
mod phone;
mod records;
mod report;
pub mod secret;
mod visit;

pub use access::{Principal, Role, User};
pub use channel::{ChannelName, LEAD_ORIGINS};
pub use deal::{Claim, DealJob, JobTaker};
pub use lead::{LeadId, LeadStatus, Outcome};
pub use manager::{ManagerId, ManagerRef};
pub use phone::Phone;
pub use records::{Created, EventKey, InboxPayload, LeadRecord, NewLead};
pub use report::{ReportCounter, ReportCsat, ReportDeal, ReportLead, ReportLine, ReportSend, ReportViolation};
pub use visit::VisitNote;
