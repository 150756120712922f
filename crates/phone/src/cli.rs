//! The logic of `leadbot phones`: one message per input line, one JSON array
//! of E.164 numbers per output line, so the binary stays a thin wrapper.

use std::io::{self, BufRead, Write};

use crate::client::ClientContext;
use crate::extract::Extractor;
use crate::reader::ClientReader;

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
    /// Each input line is a JSON object `{"text": "...", "previous": ["...", ...]}` (the
    /// client's earlier messages, oldest first) and is read as the dialog reads it: split
    /// numbers assembled, the city or country named earlier applied. Implies `client`.
    pub jsonl: bool,
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
    let client =
        opts.client || opts.jsonl || !opts.exclude.is_empty() || opts.toll_free_is_client || opts.city.is_some();
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
    let mut reader = ClientReader::new(extractor.clone());
    reader.context = ctx.clone();
    let mut buf = Vec::new();
    let mut matches = Vec::new();
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        // The plain reading's fast path: most chat lines cannot hold a number, and the bound
        // answers for the bytes as for their lossy decoding, so they need no UTF-8 check.
        let plain = !opts.jsonl && !explain && !client;
        if plain && !crate::scan::may_reach_digits_bytes(&buf, crate::extract::MIN_DIGITS) {
            output.write_all(b"[]\n")?;
            continue;
        }
        // Chat exports are not always valid UTF-8; a bad byte must not stop the run.
        let line = match simdutf8::basic::from_utf8(&buf) {
            Ok(s) => std::borrow::Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(&buf),
        };
        let line = line.trim_end_matches(['\n', '\r']);
        let value = if opts.jsonl {
            read_jsonl(&reader, line, &city_context, explain)
        } else if explain {
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
            // The plain reading is the hot path of `leadbot phones`: written straight out, an
            // E.164 string needs no JSON escaping.
            // The bound was reached above (on the same bytes, trimmed of nothing it counts).
            extractor.find_matches_checked_into(line, &mut matches);
            write_e164_list(&mut output, matches.iter().map(|m| m.number.e164_bytes()))?;
            continue;
        };
        serde_json::to_writer(&mut output, &value)?;
        output.write_all(b"\n")?;
    }
    output.flush()
}

/// `["+79181234567","+74952331890"]` and a newline; E.164 is '+' and digits only.
fn write_e164_list<'a>(output: &mut impl Write, numbers: impl Iterator<Item = &'a [u8]>) -> io::Result<()> {
    output.write_all(b"[")?;
    for (i, n) in numbers.enumerate() {
        debug_assert!(n.iter().all(|&b| b == b'+' || b.is_ascii_digit()));
        if i > 0 {
            output.write_all(b",")?;
        }
        output.write_all(b"\"")?;
        output.write_all(n)?;
        output.write_all(b"\"")?;
    }
    output.write_all(b"]\n")
}

/// One `--jsonl` line: the client's numbers as the dialog would take them, or an error
/// object for a line that is not the expected JSON (the run goes on).
fn read_jsonl(reader: &ClientReader, line: &str, city: &[&str], explain: bool) -> serde_json::Value {
    let input: serde_json::Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return serde_json::json!({ "error": e.to_string() }),
    };
    let Some(text) = input.get("text").and_then(|t| t.as_str()) else {
        return serde_json::json!({ "error": "no \"text\" string" });
    };
    let earlier: Vec<&str> = match input.get("previous") {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::Array(a)) if a.iter().all(|m| m.is_string()) => {
            a.iter().filter_map(|m| m.as_str()).collect()
        }
        Some(_) => return serde_json::json!({ "error": "\"previous\" must be an array of strings" }),
    };
    // The city given on the command line is the oldest context: what the client says wins.
    let previous: Vec<&str> = city.iter().copied().chain(earlier).collect();
    let a = reader.read(text, &previous);
    let e164: Vec<String> = a.found.iter().map(|n| n.e164().to_string()).collect();
    if explain {
        serde_json::json!({ "found": e164, "attempt": a.attempt.map(|r| r.to_string()) })
    } else {
        serde_json::Value::from(e164)
    }
}
