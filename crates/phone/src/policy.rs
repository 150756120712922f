//! Why a number (or an attempt at one) is not accepted, and the business
//! policy that decides which valid numbers are acceptable.

use thiserror::Error;

use crate::kind::NumberKind;
use crate::number::PhoneNumber;

/// The reason a number is not accepted. Display is English for logs; the
/// dialog maps each variant to its own re-prompt in the client's language.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Rejection {
    #[error("too few digits: {found}, a complete number has {expected}")]
    TooFewDigits { found: usize, expected: usize },
    #[error("too many digits: {found}, a complete number has {expected}")]
    TooManyDigits { found: usize, expected: usize },
    #[error("the digits do not form a valid number")]
    InvalidNumber,
    #[error("unknown country calling code")]
    UnknownCountryCode,
    #[error("numbers of {region} are not accepted")]
    CountryNotAllowed { region: String },
    #[error("a mobile number is required, this one is {kind}")]
    NotMobile { kind: NumberKind },
}

/// Which valid numbers the business accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// ISO region codes ("RU", "KZ"); empty means every country.
    pub allowed_countries: Vec<String>,
    pub require_mobile: bool,
}

impl Policy {
    pub fn check(&self, n: &PhoneNumber) -> Result<(), Rejection> {
        if !self.allowed_countries.is_empty() {
            let region = n.region().unwrap_or("");
            if !self.allowed_countries.iter().any(|c| c.eq_ignore_ascii_case(region)) {
                let region = if region.is_empty() {
                    format!("+{}", n.country_code())
                } else {
                    region.to_string()
                };
                return Err(Rejection::CountryNotAllowed { region });
            }
        }
        if self.require_mobile && !n.kind().can_be_mobile() {
            return Err(Rejection::NotMobile { kind: n.kind() });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> PhoneNumber {
        s.parse().expect("valid test number")
    }

    #[test]
    fn policy_rejects_with_a_reason() {
        let p = Policy {
            allowed_countries: vec!["RU".into(), "BY".into()],
            require_mobile: true,
        };
        assert_eq!(p.check(&num("+79181234567")), Ok(()));
        assert_eq!(
            p.check(&num("+998901234567")),
            Err(Rejection::CountryNotAllowed { region: "UZ".into() })
        );
        assert_eq!(
            p.check(&num("+74953675406")),
            Err(Rejection::NotMobile {
                kind: NumberKind::FixedLine
            })
        );
        assert_eq!(Policy::default().check(&num("+78007750438")), Ok(()));
    }
}
