//! Phone numbers in what clients write: a minimal digit-run validator that the phone issue
//! replaces with a full extractor. The API is the one the dialog depends on.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum PhoneError {
    #[error("unsupported region `{0}`")]
    UnsupportedRegion(String),
    #[error("not an E.164 number: `{0}`")]
    NotE164(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberKind {
    Mobile,
    FixedLine,
    TollFree,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber {
    e164: String,
    region: Option<&'static str>,
    kind: NumberKind,
}

impl PhoneNumber {
    pub fn e164(&self) -> &str {
        &self.e164
    }
    pub fn kind(&self) -> NumberKind {
        self.kind
    }
    pub fn region(&self) -> Option<&str> {
        self.region
    }
    /// For logs: keeps the country code, the first three and the last two digits.
    pub fn masked(&self) -> String {
        mask_e164(&self.e164)
    }

    fn from_national_ru(ten: &str) -> PhoneNumber {
        let kind = match ten.as_bytes()[0] {
            b'9' => NumberKind::Mobile,
            b'8' if ten.starts_with("800") => NumberKind::TollFree,
            b'3' | b'4' | b'8' => NumberKind::FixedLine,
            _ => NumberKind::Unknown,
        };
        PhoneNumber {
            e164: format!("+7{ten}"),
            region: Some("RU"),
            kind,
        }
    }
}

/// Masks a number for logs: `+79181234567` → `+7 918 *** ** 67`.
pub fn mask_e164(e164: &str) -> String {
    let digits: String = e164.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.len() < 7 {
        return "***".to_string();
    }
    let (cc_len, area_len) = if digits.starts_with('7') { (1, 3) } else { (3, 2) };
    let cc = &digits[..cc_len];
    let area = &digits[cc_len..cc_len + area_len];
    let last = &digits[digits.len() - 2..];
    format!("+{cc} {area} *** ** {last}")
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.e164)
    }
}

impl FromStr for PhoneNumber {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.strip_prefix('+').unwrap_or("");
        if digits.len() < 8 || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneError::NotE164(s.to_string()));
        }
        if let Some(ten) = digits.strip_prefix('7').filter(|t| t.len() == 10) {
            return Ok(PhoneNumber::from_national_ru(ten));
        }
        Ok(PhoneNumber {
            e164: s.to_string(),
            region: None,
            kind: NumberKind::Unknown,
        })
    }
}

/// Why a phone-like input is not accepted; the dialog turns each into its own re-prompt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("too few digits: {got}, expected {expected}")]
    TooFewDigits { got: usize, expected: usize },
    #[error("too many digits: {got}, expected {expected}")]
    TooManyDigits { got: usize, expected: usize },
    #[error("not a valid number")]
    InvalidNumber,
    #[error("country {country} is not allowed")]
    CountryNotAllowed { country: String },
    #[error("a mobile number is required")]
    NotMobile,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    pub found: Vec<PhoneNumber>,
    pub attempt: Option<Rejection>,
}

/// Finds phone numbers in messages, for one default region.
#[derive(Debug, Clone)]
pub struct Extractor {
    _region: &'static str,
}

impl Extractor {
    pub fn new(default_region: &str) -> Result<Self, PhoneError> {
        match default_region {
            "RU" => Ok(Extractor { _region: "RU" }),
            other => Err(PhoneError::UnsupportedRegion(other.to_string())),
        }
    }

    pub fn find(&self, text: &str) -> Vec<PhoneNumber> {
        self.analyse(text).found
    }

    pub fn analyse(&self, text: &str) -> Analysis {
        let mut analysis = Analysis::default();
        for run in digit_runs(text) {
            match classify_run(&run) {
                Ok(n) => analysis.found.push(n),
                Err(Some(r)) if analysis.attempt.is_none() => analysis.attempt = Some(r),
                Err(_) => {}
            }
        }
        if !analysis.found.is_empty() {
            analysis.attempt = None;
        }
        analysis
    }

    pub fn assemble(&self, recent_messages: &[&str]) -> Option<PhoneNumber> {
        // Try the newest suffixes of the conversation joined together: "8918" + "123 45 67".
        for start in (0..recent_messages.len().saturating_sub(1)).rev() {
            let joined = recent_messages[start..].join(" ");
            if let Some(n) = self.find(&joined).into_iter().next() {
                return Some(n);
            }
        }
        None
    }
}

/// Runs of digits joined across the separators people type inside a number.
fn digit_runs(text: &str) -> Vec<String> {
    let mut runs = Vec::new();
    let mut cur = String::new();
    let mut plus = false;
    let mut gap = 0;
    for c in text.chars() {
        if c.is_ascii_digit() {
            cur.push(c);
            gap = 0;
        } else if c == '+' && cur.is_empty() {
            plus = true;
        } else if matches!(c, ' ' | '-' | '(' | ')' | '.' | '\u{a0}') && !cur.is_empty() && gap < 2 {
            gap += 1;
        } else {
            if !cur.is_empty() {
                runs.push(if plus { format!("+{cur}") } else { cur.clone() });
            }
            cur.clear();
            plus = false;
            gap = 0;
        }
    }
    if !cur.is_empty() {
        runs.push(if plus { format!("+{cur}") } else { cur });
    }
    runs
}

/// `Err(Some(_))`: looks like an attempt at a phone; `Err(None)`: not a phone at all.
fn classify_run(run: &str) -> Result<PhoneNumber, Option<Rejection>> {
    let plus = run.starts_with('+');
    let digits = run.trim_start_matches('+');
    let national = match digits.len() {
        11 if digits.starts_with('7') || (!plus && digits.starts_with('8')) => &digits[1..],
        10 if !plus && digits.starts_with('9') => digits,
        12..=15 if plus && !digits.starts_with('7') => {
            return Ok(PhoneNumber {
                e164: run.to_string(),
                region: None,
                kind: NumberKind::Unknown,
            })
        }
        n if (6..=10).contains(&n) && (digits.starts_with("89") || digits.starts_with("79")) => {
            return Err(Some(Rejection::TooFewDigits { got: n, expected: 11 }))
        }
        n if n > 11 && n <= 13 && (digits.starts_with("89") || digits.starts_with("79")) => {
            return Err(Some(Rejection::TooManyDigits { got: n, expected: 11 }))
        }
        _ => return Err(None),
    };
    let n = PhoneNumber::from_national_ru(national);
    if n.kind == NumberKind::Unknown {
        return Err(Some(Rejection::InvalidNumber));
    }
    Ok(n)
}

/// What numbers a business accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// ISO regions ("RU", "KZ"); empty allows every country.
    pub allowed_countries: Vec<String>,
    pub require_mobile: bool,
}

impl Policy {
    pub fn check(&self, n: &PhoneNumber) -> Result<(), Rejection> {
        if !self.allowed_countries.is_empty() {
            let region = n.region().unwrap_or("??");
            if !self.allowed_countries.iter().any(|c| c == region) {
                return Err(Rejection::CountryNotAllowed {
                    country: region.to_string(),
                });
            }
        }
        if self.require_mobile && n.kind() != NumberKind::Mobile {
            return Err(Rejection::NotMobile);
        }
        Ok(())
    }
}

/// The `leadbot phones` command: one JSON array of E.164 numbers per input line.
pub fn run_cli(
    input: impl std::io::BufRead,
    mut output: impl std::io::Write,
    region: &str,
    _explain: bool,
) -> std::io::Result<()> {
    let ex =
        Extractor::new(region).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    for line in input.lines() {
        let line = line?;
        let found: Vec<String> = ex
            .find(&line)
            .into_iter()
            .map(|n| format!("\"{}\"", n.e164()))
            .collect();
        writeln!(output, "[{}]", found.join(","))?;
    }
    Ok(())
}
