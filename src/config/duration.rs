//! Durations written the way people write them in config: "10m", "1h", "250ms".

use std::time::Duration;

use serde::{Deserialize, Deserializer};

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s).map_err(|e| serde::de::Error::custom(format!("`{s}`: {e}")))
}

pub fn deserialize_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    let items = Vec::<String>::deserialize(d)?;
    items
        .iter()
        .map(|s| humantime::parse_duration(s).map_err(|e| serde::de::Error::custom(format!("`{s}`: {e}"))))
        .collect()
}

/// `Option<Duration>` fields (`#[serde(default, with = "duration::option")]`).
pub mod option {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        s.map(|s| humantime::parse_duration(&s).map_err(|e| serde::de::Error::custom(format!("`{s}`: {e}"))))
            .transpose()
    }
}
