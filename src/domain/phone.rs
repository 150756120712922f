use std::fmt;

use serde::{Deserialize, Serialize};

/// A validated phone number in E.164 (`+` and 8 to 15 digits). Only the phone module's
/// extractor and this parser make one, so a `Phone` anywhere in the house is known good.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    pub fn parse(s: &str) -> Result<Phone, String> {
        let digits = s
            .strip_prefix('+')
            .ok_or_else(|| format!("`{}` is not E.164 (no +)", mask(s)))?;
        if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
            return Err(format!("`{}` is not E.164", mask(s)));
        }
        Ok(Phone(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For logs: the country code and the last two digits only.
    pub fn masked(&self) -> String {
        leadbot_phone::mask_e164(&self.0)
    }
}

fn mask(s: &str) -> String {
    let n = s.chars().count();
    if n <= 4 {
        "***".into()
    } else {
        format!("{}***", s.chars().take(2).collect::<String>())
    }
}

impl TryFrom<String> for Phone {
    type Error = String;
    fn try_from(s: String) -> Result<Phone, String> {
        Phone::parse(&s)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::ops::Deref for Phone {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Phone;

    #[test]
    fn only_e164_parses() {
        assert!(Phone::parse("+79161234567").is_ok());
        for bad in [
            "79161234567",
            "+7916",
            "+7 916 123 45 67",
            "+0123456789",
            "",
            "+7916123456789012",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serde_refuses_what_parse_refuses() {
        assert!(serde_json::from_str::<Phone>("\"+79161234567\"").is_ok());
        assert!(serde_json::from_str::<Phone>("\"8916\"").is_err());
    }
}
