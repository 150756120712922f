//! Comparing secrets (webhook tokens, chat tokens, the operator token) without an early exit,
//! so the time a comparison takes does not reveal how much of a guess matched. `subtle` does the
//! comparison (written and reviewed for exactly this, and kept from being optimised into an
//! early exit); only the lengths, which are not secret, are compared first.

use subtle::ConstantTimeEq;

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn equal_only_when_every_byte_is() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(constant_time_eq(b"", b""));
    }
}
