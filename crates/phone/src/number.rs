//! A validated phone number in E.164 form.

use std::fmt;
use std::str::FromStr;

use crate::error::PhoneError;
use crate::kind::NumberKind;
use crate::metadata;

/// E.164 text ('+' and the digits; E.164 allows 15, some plans list longer) kept inline: every number found used to cost an
/// allocation, and many more are built while the extractor tries spans than are reported.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct E164 {
    /// Room for the longest digit run the extractor tries (18) after a 3-digit code.
    buf: [u8; 24],
    len: u8,
}

impl E164 {
    /// "+" then the calling code and `nsn`; None when that is longer than E.164 allows.
    fn new(cc: u16, nsn: &str) -> Option<Self> {
        let mut buf = [0u8; 24];
        buf[0] = b'+';
        let mut len = 1;
        let mut code = [0u8; 5];
        let mut n = 0;
        let mut c = cc;
        loop {
            code[n] = b'0' + (c % 10) as u8;
            n += 1;
            c /= 10;
            if c == 0 {
                break;
            }
        }
        if 1 + n + nsn.len() > buf.len() {
            return None;
        }
        for k in (0..n).rev() {
            buf[len] = code[k];
            len += 1;
        }
        buf[len..len + nsn.len()].copy_from_slice(nsn.as_bytes());
        len += nsn.len();
        Some(E164 { buf, len: len as u8 })
    }

    /// A stored E.164 string as it is (checked by the caller: '+' and 2-15 digits).
    fn from_str(s: &str) -> Option<Self> {
        let mut buf = [0u8; 24];
        buf.get_mut(..s.len())?.copy_from_slice(s.as_bytes());
        Some(E164 {
            buf,
            len: s.len() as u8,
        })
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }
}

impl fmt::Debug for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A phone number that passed validation, kept in E.164 (`+79181234567`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    e164: E164,
    country_code: u16,
    region: Option<&'static str>,
    kind: NumberKind,
}

impl PhoneNumber {
    /// Build from a calling code and a national number if the metadata knows it.
    pub(crate) fn from_parts(cc: u16, nsn: &str) -> Option<Self> {
        let (idx, kind) = metadata::lookup(cc, nsn)?;
        Some(PhoneNumber {
            e164: E164::new(cc, nsn)?,
            country_code: cc,
            region: Some(metadata::region(idx).id),
            kind,
        })
    }

    pub fn e164(&self) -> &str {
        self.e164.as_str()
    }

    /// The E.164 text as bytes, without the UTF-8 check `e164` makes (the CLI's output).
    pub(crate) fn e164_bytes(&self) -> &[u8] {
        &self.e164.buf[..usize::from(self.e164.len)]
    }

    pub fn country_code(&self) -> u16 {
        self.country_code
    }

    /// The national significant number: E.164 without `+` and the calling code.
    pub fn national_number(&self) -> &str {
        let cc_len = self.country_code.to_string().len();
        self.e164.as_str().get(1 + cc_len..).unwrap_or("")
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
        f.write_str(self.e164.as_str())
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
            e164: E164::from_str(s).ok_or_else(|| PhoneError::NotE164(s.to_string()))?,
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
