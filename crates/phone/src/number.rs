//! A validated phone number in E.164 form.

use std::fmt;
use std::str::FromStr;

use crate::error::PhoneError;
use crate::kind::NumberKind;
use crate::metadata;

/// A phone number that passed validation, kept in E.164 (`+79181234567`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    e164: String,
    country_code: u16,
    region: Option<&'static str>,
    kind: NumberKind,
}

impl PhoneNumber {
    /// Build from a calling code and a national number if the metadata knows it.
    pub(crate) fn from_parts(cc: u16, nsn: &str) -> Option<Self> {
        let (idx, kind) = metadata::lookup(cc, nsn)?;
        Some(PhoneNumber {
            e164: format!("+{cc}{nsn}"),
            country_code: cc,
            region: Some(metadata::region(idx).id),
            kind,
        })
    }

    pub fn e164(&self) -> &str {
        &self.e164
    }

    pub fn country_code(&self) -> u16 {
        self.country_code
    }

    /// The national significant number: E.164 without `+` and the calling code.
    pub fn national_number(&self) -> &str {
        let cc_len = self.country_code.to_string().len();
        self.e164.get(1 + cc_len..).unwrap_or("")
    }

    pub fn kind(&self) -> NumberKind {
        self.kind
    }

    /// ISO 3166 region, e.g. "RU" or "KZ" (both share +7).
    pub fn region(&self) -> Option<&str> {
        self.region
    }

    /// For logs: keeps the operator/area code and the last two digits so a
    /// human can tell numbers apart without the log holding personal data,
    /// e.g. "+7 918 *** ** 67".
    pub fn masked(&self) -> String {
        let nsn = self.national_number();
        let n = nsn.len();
        if n < 4 {
            return format!("+{} {}", self.country_code, "*".repeat(n));
        }
        let head = n.saturating_sub(7).clamp(1, 3);
        let tail = 2;
        let hidden = n - head - tail;
        let mut out = format!("+{} {}", self.country_code, &nsn[..head]);
        // Masked middle grouped 3-2-2 from the left like a Russian number is read.
        let mut left = hidden;
        let mut first = true;
        while left > 0 {
            let take = if first && left > 4 { 3 } else { left.min(2) };
            let take = if left - take == 1 { take + 1 } else { take };
            out.push(' ');
            out.push_str(&"*".repeat(take));
            left -= take;
            first = false;
        }
        out.push(' ');
        out.push_str(&nsn[n - tail..]);
        out
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.e164)
    }
}

impl FromStr for PhoneNumber {
    type Err = PhoneError;

    /// Parse an E.164 string back (as stored). A number whose calling code is
    /// known but which the current metadata no longer recognises is kept with
    /// kind `Unknown`, so a metadata update never makes stored leads unreadable.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s
            .strip_prefix('+')
            .filter(|d| (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| PhoneError::NotE164(s.to_string()))?;
        let (cc, nsn) = metadata::split_country_code(digits).ok_or_else(|| PhoneError::InvalidNumber(s.to_string()))?;
        if let Some(n) = PhoneNumber::from_parts(cc, nsn) {
            return Ok(n);
        }
        let main = metadata::regions_for_code(cc)
            .first()
            .map(|&i| metadata::region(i as usize).id);
        Ok(PhoneNumber {
            e164: s.to_string(),
            country_code: cc,
            region: main,
            kind: NumberKind::Unknown,
        })
    }
}

/// Masks a stored E.164 string for logs (`+7 918 *** ** 67`); anything unparsable becomes `***`.
pub fn mask_e164(e164: &str) -> String {
    e164.parse::<PhoneNumber>()
        .map(|n| n.masked())
        .unwrap_or_else(|_| "***".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_like_the_spec() {
        let n: PhoneNumber = "+79181234567".parse().expect("valid");
        assert_eq!(n.masked(), "+7 918 *** ** 67");
        let n: PhoneNumber = "+375339811080".parse().expect("valid");
        assert_eq!(n.masked(), "+375 33 *** ** 80");
    }

    #[test]
    fn round_trips_and_rejects_garbage() {
        let n: PhoneNumber = "+78007750438".parse().expect("valid");
        assert_eq!(n.kind(), NumberKind::TollFree);
        assert_eq!(n.region(), Some("RU"));
        assert_eq!(n.to_string(), "+78007750438");
        assert!("79181234567".parse::<PhoneNumber>().is_err());
        assert!("+7918abc".parse::<PhoneNumber>().is_err());
        assert!("+".parse::<PhoneNumber>().is_err());
    }
}
