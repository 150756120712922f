//! `cargo run --release --example phones -- RU [--explain] < messages.txt`:
//! the same thing `leadbot phones` does, for measuring without the service.

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let region = args.iter().find(|a| !a.starts_with("--")).map_or("RU", String::as_str);
    let explain = args.iter().any(|a| a == "--explain");
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    leadbot_phone::run_cli(stdin.lock(), std::io::BufWriter::new(stdout.lock()), region, explain)
}
