//! Language detection of post texts (offline, via whatlang), as ISO 639-1 codes.

/// ISO 639-1 code of `text`'s language, or "und" when the text is too short or mixed to tell.
/// Short texts are where detectors guess wildly ("ok", "lol"), so an unreliable guess is "und"
/// rather than a wrong language that would keep the text from being scored.
pub fn detect(text: &str) -> String {
    let sample: String = text.chars().take(2000).collect();
    match whatlang::detect(&sample) {
        Some(info) if info.is_reliable() || (info.confidence() > 0.5 && sample.len() > 40) => {
            iso_639_1(info.lang()).to_string()
        }
        _ => "und".to_string(),
    }
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
    }
}
