//! Text as the booking rules compare it: lower case, ё as е, words separated by single spaces
//! (punctuation dropped, but `+` kept: a lone "+" is a yes).

pub fn normalize(text: &str) -> String {
    let lowered = text.to_lowercase().replace('ё', "е");
    let mut out = String::with_capacity(lowered.len());
    for word in lowered.split(|c: char| !(c.is_alphanumeric() || c == '+')) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn words_only() {
        assert_eq!(super::normalize("  Ещё, раз!  Да?? +"), "еще раз да +");
    }
}
