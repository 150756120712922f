//! The logic of `leadbot phones`: one message per input line, one JSON array
//! of E.164 numbers per output line, so the binary stays a thin wrapper.

use std::io::{self, BufRead, Write};

use crate::extract::Extractor;

/// Read messages line by line and print, for each, the numbers found as a
/// JSON array (`[]` when none). With `explain`, print instead one JSON
/// object per line with each number's type, region and masked form, and the
/// near miss when nothing was found.
pub fn run_cli(mut input: impl BufRead, mut output: impl Write, region: &str, explain: bool) -> io::Result<()> {
    let extractor = Extractor::new(region).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
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
            let a = extractor.analyse(line);
            serde_json::json!({
                "found": a.found.iter().map(|n| serde_json::json!({
                    "e164": n.e164(),
                    "kind": n.kind().as_str(),
                    "region": n.region(),
                    "masked": n.masked(),
                })).collect::<Vec<_>>(),
                "attempt": a.attempt.map(|r| r.to_string()),
            })
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
