//! The `langid` stage: the language of each document and the identifier's confidence, with
//! cld2 by default (no model file; the most accurate and the fastest of the identifiers
//! measured by `sieve eval langid`, see docs/design.md), whatlang, or a fastText language-ID
//! model such as lid.176, GlotLID or OpenLID (`lid_model`), run by sieve's own Rust reader of
//! fastText models (the C++ library only for a format that reader does not know).
//! Documents outside `keep` or under `min_score` are dropped.
//!
//! Languages are ISO 639-1 codes where one exists (`en`, `de`), else ISO 639-3; whatlang's
//! ISO 639-3 codes and cld2's withdrawn codes are mapped to those.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::doc::Document;
use crate::pipeline::stage::{Emit, Stage};
use crate::stages::fasttext_infer::{SupervisedModel, Unsupported};
use crate::stages::fasttext_model::{load_shared, load_supervised_shared, one_line};

/// The langid stage's settings: the `sieve langid` flags and the spec's `[[stage]]` keys are
/// these fields (`--min-score` is `min_score`), with the defaults of `Default` for both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct LangidOptions {
    /// Languages to keep (ISO 639-1; comma-separated on the command line); empty keeps every
    /// language and only labels them.
    #[arg(long, value_delimiter = ',')]
    pub keep: Vec<String>,
    /// Documents whose identified language has a lower confidence are dropped
    /// (`lang_low_score`).
    #[arg(long, default_value_t = LangidOptions::default().min_score)]
    pub min_score: f32,
    /// datatrove's LanguageFilter rule: also drop (`lang_low_score`) documents whose score,
    /// widened to f64, is not strictly above this. FineWeb keeps English above 0.65.
    #[arg(long, value_name = "SCORE")]
    pub score_above: Option<f64>,
    /// The identifier when no `lid_model` is given.
    #[arg(long, value_enum, default_value_t = LangidOptions::default().backend)]
    pub backend: Backend,
    /// A fastText language-ID model (e.g. lid.176.ftz, GlotLID, OpenLID), run by sieve's Rust
    /// reader; when given, it is the identifier.
    #[arg(long, value_name = "PATH")]
    pub lid_model: Option<PathBuf>,
}

/// The language identifiers that need no model file.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Compact Language Detector 2 (quadgrams and words, 80+ languages), as the MT-NLG paper
    /// used; the `cld2` crate's bundled C++.
    #[default]
    Cld2,
    /// Trigram profiles of 69 languages (the `whatlang` crate).
    Whatlang,
}

/// A language and the identifier's confidence in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Guess {
    pub lang: String,
    pub score: f32,
}

/// A language identifier.
pub enum Identifier {
    Whatlang,
    Cld2,
    FastText(Arc<SupervisedModel>),
    /// A model in a fastText format the Rust reader does not know (an older version).
    FastTextCpp(Arc<fasttext::FastText>),
}

/// Characters of a document given to the identifier: enough for a confident answer, and it
/// keeps the cost per document bounded.
const MAX_CHARS: usize = 4000;

fn prefix(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

impl Identifier {
    /// The identifier of a model file, or else of `backend`.
    pub fn new(backend: Backend, lid_model: Option<&Path>) -> Result<Identifier> {
        Ok(match lid_model {
            // The C++ library reads a damaged file without noticing, so it only gets what the
            // Rust reader recognises as well-formed but cannot serve.
            Some(p) => match load_supervised_shared(p) {
                Ok(model) => Identifier::FastText(model),
                Err(e) if e.downcast_ref::<Unsupported>().is_some() => {
                    Identifier::FastTextCpp(load_shared(p)?)
                }
                Err(e) => return Err(e),
            },
            None => match backend {
                Backend::Whatlang => Identifier::Whatlang,
                Backend::Cld2 => Identifier::Cld2,
            },
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Identifier::Whatlang => "whatlang",
            Identifier::Cld2 => "cld2",
            Identifier::FastText(_) | Identifier::FastTextCpp(_) => "fasttext",
        }
    }

    /// The most likely language, or `None` when the text gives no signal.
    pub fn identify(&self, text: &str) -> Option<Guess> {
        let text = prefix(text, MAX_CHARS);
        match self {
            Identifier::Whatlang => {
                let info = whatlang::detect(text)?;
                Some(Guess {
                    lang: iso639_1(info.lang().code()).to_string(),
                    score: info.confidence() as f32,
                })
            }
            Identifier::Cld2 => {
                let r = cld2::detect_language_ext(text, cld2::Format::Text, &Default::default());
                let top = &r.scores[0];
                let code = top.language?.0;
                if code == "un" {
                    return None;
                }
                // `zh-Hant` is Chinese; the script is not part of `lang`. cld2 keeps some
                // withdrawn ISO 639-1 codes: Hebrew `iw`, Javanese `jw`, Indonesian `in`,
                // Yiddish `ji`, Moldovan `mo` (Romanian).
                let code = match code.split('-').next().unwrap_or(code) {
                    "iw" => "he",
                    "jw" => "jv",
                    "in" => "id",
                    "ji" => "yi",
                    "mo" => "ro",
                    other => other,
                };
                let reliable = matches!(r.reliability, cld2::Reliability::Reliable);
                Some(Guess {
                    lang: iso639_1(code).to_string(),
                    // The share of the text in that language, halved when cld2 itself
                    // calls the answer unreliable.
                    score: top.percent as f32 / 100.0 * if reliable { 1.0 } else { 0.5 },
                })
            }
            Identifier::FastText(model) => {
                let line = fasttext_line(text)?;
                let (label, p) = model.predict_best(&line)?;
                Some(Guess {
                    lang: language_of_label(&model.labels()[label]),
                    score: p.clamp(0.0, 1.0),
                })
            }
            Identifier::FastTextCpp(model) => {
                let line = fasttext_line(text)?;
                let best = model.predict(&line, 1, 0.0).ok()?.into_iter().next()?;
                Some(Guess {
                    lang: language_of_label(&best.label),
                    score: best.prob.clamp(0.0, 1.0),
                })
            }
        }
    }
}

/// A document as a fastText input line, or `None` when it has no text. The newline adds
/// `</s>`, as fastText's own tools and Python bindings do.
fn fasttext_line(text: &str) -> Option<String> {
    let mut line = one_line(text);
    if line.trim().is_empty() {
        return None;
    }
    line.push('\n');
    Some(line)
}

/// The language of a fastText label. lid.176's labels are already sieve's codes (`de`;
/// Wikipedia's codes such as `als` for Alemannic where ISO 639-1 has none). GlotLID's and
/// OpenLID's `deu_Latn` are ISO 639-3 with a script: the script is dropped and the code
/// becomes ISO 639-1 where one exists (`de`), so a pipeline keeps `en` whatever the model.
fn language_of_label(label: &str) -> String {
    let code = label.trim_start_matches("__label__");
    match code.split_once('_') {
        Some((lang, _script)) => iso639_3_to_1(lang),
        None => code.to_string(),
    }
}

/// An ISO 639-3 code as ISO 639-1 where one exists, else unchanged. The individual
/// languages these models label where ISO 639-1 only names the macrolanguage (Standard
/// Arabic `arb`, Mandarin `cmn`, Standard Malay `zsm`, ...) take the macrolanguage's code,
/// as lid.176 and cld2 label them.
pub fn iso639_3_to_1(code: &str) -> String {
    let macrolanguage = match code {
        "arb" => "ar",
        "cmn" => "zh",
        "pes" | "prs" => "fa",
        "zsm" => "ms",
        "ekk" => "et",
        "lvs" => "lv",
        "swh" => "sw",
        "azj" => "az",
        "uzn" => "uz",
        "khk" => "mn",
        "plt" => "mg",
        "ydd" => "yi",
        "gaz" => "om",
        "als" => "sq",
        "npi" => "ne",
        "pbt" => "ps",
        "nob" => "no",
        "quy" => "qu",
        _ => "",
    };
    if !macrolanguage.is_empty() {
        return macrolanguage.to_string();
    }
    isolang::Language::from_639_3(code)
        .and_then(|l| l.to_639_1())
        .unwrap_or(code)
        .to_string()
}

/// ISO 639-3 codes of whatlang's languages → ISO 639-1 (the code itself if it has none).
pub fn iso639_1(code3: &str) -> &str {
    match code3 {
        "epo" => "eo",
        "eng" => "en",
        "rus" => "ru",
        "cmn" => "zh",
        "spa" => "es",
        "por" => "pt",
        "ita" => "it",
        "ben" => "bn",
        "fra" => "fr",
        "deu" => "de",
        "ukr" => "uk",
        "kat" => "ka",
        "ara" => "ar",
        "hin" => "hi",
        "jpn" => "ja",
        "heb" => "he",
        "yid" => "yi",
        "pol" => "pl",
        "amh" => "am",
        "jav" => "jv",
        "kor" => "ko",
        "nob" => "no",
        "dan" => "da",
        "swe" => "sv",
        "fin" => "fi",
        "tur" => "tr",
        "nld" => "nl",
        "hun" => "hu",
        "ces" => "cs",
        "ell" => "el",
        "bul" => "bg",
        "bel" => "be",
        "mar" => "mr",
        "kan" => "kn",
        "ron" => "ro",
        "slv" => "sl",
        "hrv" => "hr",
        "srp" => "sr",
        "mkd" => "mk",
        "lit" => "lt",
        "lav" => "lv",
        "est" => "et",
        "tam" => "ta",
        "vie" => "vi",
        "urd" => "ur",
        "tha" => "th",
        "guj" => "gu",
        "uzb" => "uz",
        "pan" => "pa",
        "aze" => "az",
        "ind" => "id",
        "tel" => "te",
        "pes" => "fa",
        "mal" => "ml",
        "ori" => "or",
        "mya" => "my",
        "nep" => "ne",
        "sin" => "si",
        "khm" => "km",
        "tuk" => "tk",
        "aka" => "ak",
        "zul" => "zu",
        "sna" => "sn",
        "afr" => "af",
        "lat" => "la",
        "slk" => "sk",
        "cat" => "ca",
        "tgl" => "tl",
        "hye" => "hy",
        "cym" => "cy",
        other => other,
    }
}

/// Whether a score passes `min_score` (at least, in f32) and `score_above` (strictly above, the
/// f32 score widened to f64 as datatrove compares: 0.65f32 is 0.6499999762 and not above 0.65).
fn confident(score: f32, min_score: f32, score_above: Option<f64>) -> bool {
    score >= min_score && score_above.is_none_or(|t| f64::from(score) > t)
}

pub struct LangidStage {
    identifier: Identifier,
    keep: Vec<String>,
    min_score: f32,
    score_above: Option<f64>,
}

impl LangidStage {
    pub fn new(options: &LangidOptions) -> Result<LangidStage> {
        Ok(LangidStage {
            identifier: Identifier::new(options.backend, options.lid_model.as_deref())?,
            keep: options
                .keep
                .iter()
                .map(|l| l.trim().to_ascii_lowercase())
                .collect(),
            min_score: options.min_score,
            score_above: options.score_above,
        })
    }

    pub fn from_table(table: &toml::Table) -> Result<Box<dyn Stage>> {
        let options: LangidOptions = toml::Value::Table(table.clone()).try_into()?;
        Ok(Box::new(LangidStage::new(&options)?))
    }
}

impl Stage for LangidStage {
    fn name(&self) -> &'static str {
        "langid"
    }

    fn process(&mut self, mut doc: Document, out: &mut Emit) -> Result<()> {
        let Some(guess) = self.identifier.identify(&doc.text) else {
            out.tally("lang", "unknown");
            out.drop(doc, "lang_unknown");
            return Ok(());
        };
        let kept = self.keep.is_empty() || self.keep.contains(&guess.lang);
        let confident = confident(guess.score, self.min_score, self.score_above);
        out.tally("lang", guess.lang.clone());
        doc.lang = Some(guess.lang);
        doc.lang_score = Some(guess.score);
        doc.meta
            .insert("langid".into(), self.identifier.name().into());
        if !kept {
            out.drop(doc, "lang_not_kept");
        } else if !confident {
            out.drop(doc, "lang_low_score");
        } else {
            out.keep(doc);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Document {
        Document {
            id: "t/x#1".into(),
            dataset: "t".into(),
            text: text.into(),
            ..Default::default()
        }
    }

    #[test]
    fn each_backend_labels_keeps_and_drops() {
        for backend in [Backend::Cld2, Backend::Whatlang] {
            labels_keeps_and_drops(backend);
        }
    }

    fn labels_keeps_and_drops(backend: Backend) {
        let mut stage = LangidStage::new(&LangidOptions {
            keep: vec!["en".into()],
            backend,
            ..Default::default()
        })
        .unwrap();
        let mut e = Emit::default();
        stage.process(doc("The quick brown fox jumps over the lazy dog near the river bank every morning."), &mut e).unwrap();
        stage.process(doc("Der schnelle braune Fuchs springt jeden Morgen über den faulen Hund am Flussufer."), &mut e).unwrap();
        stage.process(doc(""), &mut e).unwrap();
        assert_eq!(e.kept.len(), 1, "{backend:?}");
        assert_eq!(e.kept[0].lang.as_deref(), Some("en"));
        assert!(e.kept[0].lang_score.unwrap() > 0.5, "{backend:?}");
        assert_eq!(e.kept[0].meta["langid"], stage.identifier.name());
        let reasons: Vec<_> = e
            .dropped
            .iter()
            .map(|(d, r)| (d.lang.clone(), *r))
            .collect();
        assert_eq!(
            reasons,
            [
                (Some("de".to_string()), "lang_not_kept"),
                (None, "lang_unknown")
            ],
            "{backend:?}"
        );
    }

    #[test]
    fn model_labels_become_sieve_codes() {
        // lid.176: as they are, Wikipedia codes included.
        assert_eq!(language_of_label("__label__de"), "de");
        assert_eq!(language_of_label("__label__als"), "als");
        // GlotLID / OpenLID: ISO 639-3 + script.
        assert_eq!(language_of_label("__label__deu_Latn"), "de");
        assert_eq!(language_of_label("__label__isl_Latn"), "is");
        assert_eq!(language_of_label("__label__arb_Arab"), "ar");
        assert_eq!(language_of_label("__label__als_Latn"), "sq");
        assert_eq!(language_of_label("__label__nob_Latn"), "no");
        // No ISO 639-1 code: ISO 639-3 stays.
        assert_eq!(language_of_label("__label__ceb_Latn"), "ceb");
    }

    /// Individual languages that GlotLID and OpenLID label, each in the macrolanguage ISO 639-1
    /// names (SIL's ISO 639-3 macrolanguage mappings): what lid.176 and cld2 call them.
    #[test]
    fn individual_languages_take_their_macrolanguages_code() {
        for (individual, macro_code) in [
            ("arb", "ar"), // Standard Arabic: Arabic
            ("cmn", "zh"), // Mandarin: Chinese
            ("pes", "fa"), // Iranian Persian: Persian
            ("prs", "fa"), // Dari: Persian
            ("zsm", "ms"), // Standard Malay: Malay
            ("ekk", "et"), // Standard Estonian: Estonian
            ("lvs", "lv"), // Standard Latvian: Latvian
            ("swh", "sw"), // Swahili (individual language): Swahili
            ("azj", "az"), // North Azerbaijani: Azerbaijani
            ("uzn", "uz"), // Northern Uzbek: Uzbek
            ("khk", "mn"), // Halh Mongolian: Mongolian
            ("plt", "mg"), // Plateau Malagasy: Malagasy
            ("ydd", "yi"), // Eastern Yiddish: Yiddish
            ("gaz", "om"), // West Central Oromo: Oromo
            ("als", "sq"), // Tosk Albanian: Albanian
            ("npi", "ne"), // Nepali (individual language): Nepali
            ("pbt", "ps"), // Southern Pashto: Pashto
            ("nob", "no"), // Norwegian Bokmål: Norwegian
            ("quy", "qu"), // Ayacucho Quechua: Quechua
        ] {
            assert_eq!(iso639_3_to_1(individual), macro_code, "{individual}");
        }
        // Languages with their own ISO 639-1 code keep it; those without keep ISO 639-3.
        assert_eq!(iso639_3_to_1("deu"), "de");
        assert_eq!(iso639_3_to_1("ceb"), "ceb");
    }

    /// Every whatlang language's code becomes the ISO 639-1 code the `isolang` tables give
    /// (a separate source), or the macrolanguage's where lid.176 and cld2 label that: Mandarin,
    /// Iranian Persian and Bokmål (`no`, where ISO 639-1 also has `nb`).
    #[test]
    fn every_whatlang_code_becomes_its_iso_639_1_code() {
        for lang in whatlang::Lang::all() {
            let code = lang.code();
            let expected = match code {
                "cmn" => "zh",
                "pes" => "fa",
                "nob" => "no",
                _ => isolang::Language::from_639_3(code)
                    .and_then(|l| l.to_639_1())
                    .unwrap_or(code),
            };
            assert_eq!(iso639_1(code), expected, "{code}");
        }
    }

    /// cld2's withdrawn codes become today's: Hebrew is `he`, not `iw`.
    #[test]
    fn cld2_reports_current_iso_codes() {
        let id = Identifier::new(Backend::Cld2, None).unwrap();
        let hebrew = "השפה העברית היא שפה שמית ממשפחת השפות האפרו-אסייתיות, והיא שפתם של היהודים \
                      ושפתה הרשמית של מדינת ישראל.";
        assert_eq!(id.identify(hebrew).unwrap().lang, "he");
        let german = "Der schnelle braune Fuchs springt jeden Morgen über den faulen Hund.";
        let g = id.identify(german).unwrap();
        assert_eq!(g.lang, "de");
        assert!(g.score > 0.5 && g.score <= 1.0, "{g:?}");
    }

    #[test]
    fn min_score_drops_unconfident_guesses() {
        // whatlang: it gives a short text a low but non-zero confidence (cld2 gives none).
        let mut stage = LangidStage::new(&LangidOptions {
            min_score: 0.99,
            backend: Backend::Whatlang,
            ..Default::default()
        })
        .unwrap();
        let mut e = Emit::default();
        let clear =
            "The quick brown fox jumps over the lazy dog near the river bank every morning.";
        stage.process(doc("ok fine"), &mut e).unwrap();
        stage.process(doc(clear), &mut e).unwrap();
        // The short text is identified, but below the threshold: dropped for its score, with
        // its guess kept on the document; the clear sentence passes.
        assert_eq!(e.dropped.len(), 1, "{:?}", e.dropped);
        let (dropped, reason) = &e.dropped[0];
        assert_eq!(*reason, "lang_low_score");
        assert!(dropped.lang.is_some() && dropped.lang_score.unwrap() < 0.99);
        assert_eq!(e.kept.len(), 1);
        assert!(e.kept[0].lang_score.unwrap() >= 0.99);
    }

    /// cld2's score is the share of the text in the top language, halved when cld2 calls the
    /// answer unreliable: checked against cld2's own result on a reliable and an unreliable
    /// text.
    #[test]
    fn cld2_scores_are_halved_when_unreliable() {
        let mut seen = [false, false];
        // The second is Irish with a Russian name in Cyrillic: 46 % Irish, and unreliable.
        for text in [
            "The committee published its report on the history of the river valley today.",
            "Tá an chathair Omsk (Омск) sa tSibéir.",
        ] {
            let r = cld2::detect_language_ext(text, cld2::Format::Text, &Default::default());
            let reliable = matches!(r.reliability, cld2::Reliability::Reliable);
            let share = r.scores[0].percent as f32 / 100.0;
            let guess = Identifier::Cld2.identify(text).unwrap();
            let expected = if reliable { share } else { share / 2.0 };
            assert_eq!(guess.score, expected, "{text:?}");
            seen[reliable as usize] = true;
        }
        assert_eq!(seen, [true, true], "one reliable and one unreliable answer");
    }

    #[test]
    fn score_above_is_strict_and_compared_in_f64() {
        let above = Some(0.65);
        assert!(!confident(0.65f32, 0.0, above));
        // Exactly at the threshold (in f64) is not above it.
        assert!(!confident(0.65f32, 0.0, Some(f64::from(0.65f32))));
        assert!(confident(f32::from_bits(0.65f32.to_bits() + 1), 0.0, above));
        assert!(confident(0.65f32, 0.65, None));
        assert!(confident(f32::from_bits(0.65f32.to_bits() + 1), 0.65, None));
        assert!(!confident(
            f32::from_bits(0.65f32.to_bits() - 1),
            0.65,
            None
        ));
    }

    #[test]
    fn a_missing_model_is_a_clear_error() {
        let options = LangidOptions {
            lid_model: Some("/no/such/lid.176.ftz".into()),
            ..Default::default()
        };
        let err = LangidStage::new(&options).err().unwrap().to_string();
        assert!(err.contains("/no/such/lid.176.ftz"), "{err}");
    }
}
