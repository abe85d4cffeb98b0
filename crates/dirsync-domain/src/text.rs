//! Text a remote party wrote (Okta's error summaries, a run's error that
//! quotes them), made safe to store, log and return: bounded in length and
//! free of control and bidirectional-override characters. It stays data:
//! nothing renders it as markup.

/// At most `max` characters of `text` (cut on a character boundary, with
/// `…` when cut; the ellipsis counts), control and bidirectional-override
/// characters as spaces.
pub fn bounded(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max * 4));
    for (n, c) in text.chars().enumerate() {
        if n == max {
            out.pop();
            out.push('…');
            return out;
        }
        out.push(if c.is_control() || is_bidi_control(c) { ' ' } else { c });
    }
    out
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::bounded;

    #[test]
    fn text_is_cut_on_a_character_boundary_and_cleaned() {
        assert_eq!(bounded("short", 10), "short");
        assert_eq!(bounded("exactly10!", 10), "exactly10!");
        assert_eq!(bounded("eleven chars", 10), "eleven ch…");
        assert_eq!(bounded("ééééé", 3), "éé…");
        assert_eq!(bounded("a\nb\u{202E}c\u{0}", 10), "a b c ");
    }
}
