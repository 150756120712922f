//! Phone numbers in what sales leads actually write: finding them in chat
//! messages (digits in any grouping, words, O for zero, glued to text),
//! normalising to E.164, telling their type, and explaining near misses so
//! the dialog can re-prompt precisely.

mod area;
mod cli;
mod client;
mod context;
mod error;
mod extract;
mod kind;
mod metadata;
mod number;
mod policy;
mod reader;
mod scan;
mod words;

pub use area::{area_code_of, named_region};
pub use cli::{run_cli, run_cli_with, CliOptions};
pub use client::ClientContext;
pub use context::Owner;
pub use error::PhoneError;
pub use extract::{Analysis, Extractor, Match};
pub use kind::NumberKind;
pub use number::{mask_e164, PhoneNumber};
pub use policy::{Policy, Rejection};
pub use reader::ClientReader;
