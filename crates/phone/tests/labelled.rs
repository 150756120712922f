//! Exact-match evaluation on labelled messages: the shared sample and our
//! larger set. Prints per-category figures (`cargo test -- --nocapture`).

use std::collections::BTreeMap;

use leadbot_phone::{named_region, ClientContext, ClientReader, Extractor};

struct Example {
    text: String,
    want: Vec<String>,
    cat: String,
    region: String,
    /// The business's own numbers for this line (families set only).
    exclude: Vec<String>,
    /// The client's earlier messages (families set only).
    previous: Vec<String>,
}

fn load(path: &str) -> Vec<Example> {
    let text = std::fs::read_to_string(path).expect("labelled data file");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            Example {
                text: v["text"].as_str().expect("text").to_string(),
                want: v["want"]
                    .as_array()
                    .expect("want")
                    .iter()
                    .map(|w| w.as_str().expect("e164").to_string())
                    .collect(),
                cat: v["cat"].as_str().expect("cat").to_string(),
                region: v["region"].as_str().unwrap_or("RU").to_string(),
                exclude: v["exclude"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|w| w.as_str().map(String::from)).collect())
                    .unwrap_or_default(),
                previous: v["previous"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|w| w.as_str().map(String::from)).collect())
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// Returns how many examples matched exactly and how many negatives got a
/// false hit.
fn evaluate(name: &str, examples: &[Example]) -> (usize, usize) {
    evaluate_with(name, examples, |e, ex| {
        e.find(&ex.text).iter().map(|n| n.e164().to_string()).collect()
    })
}

fn evaluate_with(
    name: &str,
    examples: &[Example],
    read: impl Fn(&Extractor, &Example) -> Vec<String>,
) -> (usize, usize) {
    let mut per: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut extractors: BTreeMap<String, Extractor> = BTreeMap::new();
    let mut ok_all = 0;
    let mut fp = 0;
    for ex in examples {
        let e = extractors
            .entry(ex.region.clone())
            .or_insert_with(|| Extractor::new(&ex.region).expect("region"));
        let got = read(e, ex);
        let ok = got == ex.want;
        let entry = per.entry(&ex.cat).or_default();
        entry.1 += 1;
        if ok {
            entry.0 += 1;
            ok_all += 1;
        } else {
            println!("MISS [{}] {:?}: got {:?} want {:?}", ex.cat, ex.text, got, ex.want);
        }
        if ex.want.is_empty() && !got.is_empty() {
            fp += 1;
        }
    }
    let overall = ok_all as f64 / examples.len() as f64;
    println!(
        "== {name}: exact {ok_all}/{} = {overall:.3}, false positives on negatives {fp}",
        examples.len()
    );
    for (cat, (ok, n)) in &per {
        println!("   {cat:<14} {ok:>4}/{n:<4} {:.3}", *ok as f64 / *n as f64);
    }
    (ok_all, fp)
}

#[test]
fn shared_sample() {
    let data = load(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/phones-sample.jsonl"));
    assert_eq!(data.len(), 78);
    let (exact, fp) = evaluate("shared sample", &data);
    // The README claims 1.000 with no false positive; hold it to that.
    assert_eq!(exact, data.len(), "exact matches");
    assert_eq!(fp, 0, "false positives on negatives");
}

#[test]
fn own_labelled_set() {
    let data = load(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/phones-labelled.jsonl"));
    // tools/gen_labelled.py is deterministic; a different count means the
    // file and the generator disagree.
    assert_eq!(data.len(), 1328);
    let (exact, fp) = evaluate("own labelled set", &data);
    assert_eq!(exact, data.len(), "exact matches");
    assert_eq!(fp, 0, "false positives on negatives");
}

/// Families the first sets lacked (non-ASCII digits, lookalikes, dictation
/// artefacts, IDs, whose number it is), written by hand; read as the dialog
/// reads them: the client's numbers, with the bot's format example and the
/// line's business numbers excluded.
#[test]
fn families_set() {
    let data = load(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/phones-families.jsonl"));
    assert_eq!(data.len(), 101);
    let (exact, fp) = evaluate_with("families set", &data, |e, ex| {
        let mut ctx = ClientContext::new();
        ctx.exclude_found_in(e, "например: +7 900 123-45-67");
        for n in &ex.exclude {
            let n = n.parse().expect("e164 in exclude");
            ctx.exclude(&n);
        }
        // As the dialog reads: whole numbers, then a city number with the named city's code,
        // then the national format of a named CIS country.
        let previous: Vec<&str> = ex.previous.iter().map(String::as_str).collect();
        let whole: Vec<String> = e
            .client_matches(&ex.text, &ctx)
            .iter()
            .map(|m| m.number.e164().to_string())
            .collect();
        if !whole.is_empty() {
            return whole;
        }
        let local: Vec<String> = e
            .local_numbers(&ex.text, &previous)
            .iter()
            .map(|n| n.e164().to_string())
            .collect();
        if !local.is_empty() {
            return local;
        }
        let region = named_region(&ex.text).or_else(|| previous.iter().rev().find_map(|m| named_region(m)));
        region
            .and_then(|r| Extractor::new(r).ok())
            .map(|other| {
                other
                    .client_matches(&ex.text, &ctx)
                    .iter()
                    .map(|m| m.number.e164().to_string())
                    .collect()
            })
            .unwrap_or_default()
    });
    assert_eq!(exact, data.len(), "exact matches");
    assert_eq!(fp, 0, "false positives on negatives");
}

/// The second hand-written set (tools/gen_blind.py), written before any of it was run, read
/// through `ClientReader` exactly as the dialog reads a message: the bot's format example and
/// the line's business numbers excluded, the line's earlier messages as context.
#[test]
fn blind_set() {
    let data = load(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/phones-blind.jsonl"));
    assert_eq!(data.len(), 88);
    let (exact, fp) = evaluate_with("blind set", &data, |e, ex| {
        let mut reader = ClientReader::new(e.clone());
        reader.context.exclude_found_in(e, "например: +7 900 123-45-67");
        for n in &ex.exclude {
            let n = n.parse().expect("e164 in exclude");
            reader.context.exclude(&n);
        }
        let previous: Vec<&str> = ex.previous.iter().map(String::as_str).collect();
        reader
            .read(&ex.text, &previous)
            .found
            .iter()
            .map(|n| n.e164().to_string())
            .collect()
    });
    assert_eq!(exact, data.len(), "exact matches");
    assert_eq!(fp, 0, "false positives on negatives");
}
