//! Reading the client's contact out of a message the way the dialog does,
//! with the conversation as context, so `leadbot phones` and the dialog
//! share one order of trust: a whole number of the client's in the
//! message, then one split over the last messages, then a city number
//! completed with an area code, then a number in the national format of a
//! CIS country the client named.

use crate::client::ClientContext;
use crate::extract::{Analysis, Extractor};

/// CIS regions whose national formats are tried when the client names them.
const NAMED: &[&str] = &["BY", "UA", "UZ", "KG", "TJ", "AM", "AZ", "GE", "MD"];

/// The client's-contact reader. Build once; `Send + Sync` like `Extractor`.
#[derive(Debug, Clone)]
pub struct ClientReader {
    extractor: Extractor,
    named: Vec<Extractor>,
    /// Numbers that are never the client's.
    pub context: ClientContext,
}

impl ClientReader {
    pub fn new(extractor: Extractor) -> ClientReader {
        // Regions the metadata lacks are left out: nothing could be read there anyway.
        let named = NAMED
            .iter()
            .filter(|r| **r != extractor.region())
            .filter_map(|r| Extractor::new(r).ok())
            .collect();
        ClientReader {
            extractor,
            named,
            context: ClientContext::new(),
        }
    }

    pub fn extractor(&self) -> &Extractor {
        &self.extractor
    }

    /// The client's numbers in `text` (`previous`: the client's earlier
    /// messages, oldest first). `found` comes from the first of the steps
    /// that finds anything; `attempt` is the message's own near miss.
    pub fn read(&self, text: &str, previous: &[&str]) -> Analysis {
        let ctx = &self.context;
        let own = self.extractor.analyse_client(text, ctx);
        if !own.found.is_empty() {
            return own;
        }
        let found = |found| Analysis { found, attempt: None };
        if !previous.is_empty() {
            let mut all = previous.to_vec();
            all.push(text);
            if let Some(n) = self.extractor.assemble(&all).filter(|n| ctx.may_be_clients_number(n)) {
                return found(vec![n]);
            }
        }
        // After assembling, so digits split over messages stay one mobile number.
        let local: Vec<_> = self
            .extractor
            .local_numbers(text, previous)
            .into_iter()
            .filter(|n| ctx.may_be_clients_number(n))
            .collect();
        if !local.is_empty() {
            return found(local);
        }
        let region = crate::area::named_region(text)
            .or_else(|| previous.iter().rev().find_map(|m| crate::area::named_region(m)));
        if let Some(ex) = region.and_then(|r| self.named.iter().find(|e| e.region() == r)) {
            let theirs = ex.analyse_client(text, ctx).found;
            if !theirs.is_empty() {
                return found(theirs);
            }
        }
        own
    }
}
