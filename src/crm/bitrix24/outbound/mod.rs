//! Results back into Bitrix24: the lead card (`writeback.rs`, the `Crm` impl) and the bot's
//! messages in the lead's Open Lines chat (`openlines.rs`, a `Channel`).

mod openlines;
mod robots;
mod writeback;

pub use openlines::{link_chat, OpenLines};
pub use writeback::Bitrix24Crm;
