//! Phone number extraction (filled in by the phone issue).
