//! Language detection of post texts (offline, via whatlang), as ISO 639-1 codes.

/// ISO 639-1 code of `text`'s language, or "und" when the text is too short or mixed to tell.
/// Short texts are where detectors guess wildly ("ok", "lol"), so an unreliable guess is "und"
/// rather than a wrong language that would keep the text from being scored.
pub fn detect(text: &str) -> String {
    let sample: String = text.chars().take(2000).collect();
    let words = sample
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphabetic))
        .count();
    if words < 3 {
        return "und".to_string();
    }
    match whatlang::detect(&sample) {
        Some(info) if info.is_reliable() || (info.confidence() > 0.5 && sample.len() > 40) => {
            iso_639_1(info.lang()).to_string()
        }
        // Short texts rarely reach "reliable"; an English best guess, or a text full of English
        // function words, is still best labelled English. Other unreliable guesses stay "und".
        Some(info) if info.lang() == whatlang::Lang::Eng => "en".to_string(),
        _ if english_function_word_share(&sample) >= 0.2 => "en".to_string(),
        _ => "und".to_string(),
    }
}

fn english_function_word_share(text: &str) -> f64 {
    const WORDS: &[&str] = &[
        "the", "a", "an", "and", "or", "but", "i", "my", "me", "it", "is", "was", "are", "to",
        "of", "in", "on", "for", "with", "this", "that", "not", "so", "very", "they", "we", "you",
        "have", "had", "be", "at", "from", "just", "too",
    ];
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    if words.is_empty() {
        return 0.0;
    }
    words.iter().filter(|w| WORDS.contains(&w.as_str())).count() as f64 / words.len() as f64
}

fn iso_639_1(l: whatlang::Lang) -> &'static str {
    use whatlang::Lang::*;
    match l {
        Eng => "en",
        Deu => "de",
        Fra => "fr",
        Spa => "es",
        Ita => "it",
        Por => "pt",
        Nld => "nl",
        Rus => "ru",
        Ukr => "uk",
        Pol => "pl",
        Ces => "cs",
        Swe => "sv",
        Dan => "da",
        Nob => "no",
        Fin => "fi",
        Tur => "tr",
        Jpn => "ja",
        Cmn => "zh",
        Kor => "ko",
        Ara => "ar",
        Heb => "he",
        Hin => "hi",
        Ell => "el",
        Hun => "hu",
        Ron => "ro",
        Bul => "bg",
        Vie => "vi",
        Tha => "th",
        Ind => "id",
        other => other.code(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_common_languages_and_abstains_on_short_text() {
        assert_eq!(
            detect("The shoes arrived late and the box was damaged, very disappointing."),
            "en"
        );
        assert_eq!(
            detect("Die Schuhe sind bequem, aber die Lieferung hat viel zu lange gedauert."),
            "de"
        );
        assert_eq!(
            detect("Les chaussures sont confortables mais la livraison était très lente."),
            "fr"
        );
        assert_eq!(detect("ok"), "und");
        assert_eq!(detect("Love it. I love my Acme Phone, great camera!"), "en");
    }
}
