//! Reads messages from stdin, one a line, and prints what `parse` makes of
//! them: `cargo run -p leadbot-when --example when -- [now] [zone]`, e.g.
//! `... -- 2026-12-02T07:00:00Z Europe/Moscow`. Defaults: the current
//! time and Europe/Moscow.

use std::io::BufRead;

fn main() {
    let mut args = std::env::args().skip(1);
    let now = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(chrono::Utc::now);
    let tz: chrono_tz::Tz = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(chrono_tz::Europe::Moscow);
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        println!("{line:?} → {:?}", leadbot_when::parse(&line, now, tz));
    }
}
