//! The logic of `leadbot phones`: one message per input line, one JSON array
//! of E.164 numbers per output line, so the binary stays a thin wrapper.

use std::io::{self, BufRead, Write};

use crate::client::ClientContext;
use crate::extract::Extractor;

/// How `leadbot phones` reads: every number (the default), or only what can
/// be the client's contact.
#[derive(Debug, Clone, Default)]
pub struct CliOptions {
    pub explain: bool,
    /// Print only numbers that can be the client's (no toll-free, no
    /// "ваш …", no format examples, none of `exclude`).
    pub client: bool,
    /// The business's own numbers, in any format the extractor reads.
    pub exclude: Vec<String>,
    pub toll_free_is_client: bool,
    /// The client's city ("Ростов", "Караганда"): 5-7-digit city numbers get its area code
    /// (a city named in the line itself wins). Implies `client`.
    pub city: Option<String>,
}

/// Read messages line by line and print, for each, the numbers found as a
/// JSON array (`[]` when none). With `explain`, print instead one JSON
/// object per line with each number's type, region and masked form, and the
/// near miss when nothing was found.
pub fn run_cli(input: impl BufRead, output: impl Write, region: &str, explain: bool) -> io::Result<()> {
    run_cli_with(
        input,
        output,
        region,
        &CliOptions {
            explain,
            ..CliOptions::default()
        },
    )
}

/// `run_cli` with the client's context. An `exclude` entry that holds no
/// number is an error: a typo must not silently exclude nothing.
pub fn run_cli_with(
    mut input: impl BufRead,
    mut output: impl Write,
    region: &str,
    opts: &CliOptions,
) -> io::Result<()> {
    let extractor = Extractor::new(region).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let explain = opts.explain;
    let client = opts.client || !opts.exclude.is_empty() || opts.toll_free_is_client || opts.city.is_some();
    if let Some(city) = &opts.city {
        if crate::area::area_code_of(city).is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("--city {city:?}: not in the area-code table"),
            ));
        }
    }
    let city_context: Vec<&str> = opts.city.iter().map(String::as_str).collect();
    let mut ctx = ClientContext::new();
    ctx.toll_free_is_client = opts.toll_free_is_client;
    for raw in &opts.exclude {
        let found = extractor.find(raw);
        if found.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("--exclude {raw:?}: no phone number in it"),
            ));
        }
        found.iter().for_each(|n| ctx.exclude(n));
    }
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        // Chat exports are not always valid UTF-8; a bad byte must not stop the run.
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\n', '\r']);
        let value = if explain {
            let a = if client {
                extractor.analyse_client(line, &ctx)
            } else {
                extractor.analyse(line)
            };
            serde_json::json!({
                "found": a.found.iter().map(|n| serde_json::json!({
                    "e164": n.e164(),
                    "kind": n.kind().as_str(),
                    "region": n.region(),
                    "masked": n.masked(),
                })).collect::<Vec<_>>(),
                "attempt": a.attempt.map(|r| r.to_string()),
            })
        } else if client {
            let mut found: Vec<String> = extractor
                .client_matches(line, &ctx)
                .iter()
                .map(|m| m.number.e164().to_string())
                .collect();
            // A city number only when the line holds no whole number, as the dialog reads it.
            if found.is_empty() {
                found = extractor
                    .local_numbers(line, &city_context)
                    .iter()
                    .filter(|n| ctx.may_be_clients_number(n))
                    .map(|n| n.e164().to_string())
                    .collect();
            }
            serde_json::Value::from(found)
        } else {
            serde_json::Value::from(
                extractor
                    .find(line)
                    .iter()
                    .map(|n| n.e164().to_string())
                    .collect::<Vec<_>>(),
            )
        };
        serde_json::to_writer(&mut output, &value)?;
        output.write_all(b"\n")?;
    }
    output.flush()
}
