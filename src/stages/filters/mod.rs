//! The heuristic filters FineWeb, Gopher/MassiveText and C4 are built with, each a streaming
//! stage that agrees decision for decision with datatrove 0.10.1's implementation
//! (tests/filters_agreement.py checks it on 5,418 documents) and whose defaults are datatrove's.
//! Words are split the way datatrove splits them (spaCy's English tokenizer, reproduced in
//! `text::spacy_en`), once per document for the whole chain (`view`).
//!
//! | stage | datatrove class |
//! |---|---|
//! | `gopher-repetition` | `GopherRepetitionFilter` |
//! | `gopher-quality` | `GopherQualityFilter` |
//! | `c4-quality` | `C4QualityFilter` |
//! | `c4-badwords` | `C4BadWordsFilter` |
//! | `url-filter` | `URLFilter` |
//! | `pii` | `PIIFormatter` |
//! | `fineweb-quality` | `FineWebQualityFilter` |

pub mod c4_badwords;
pub mod c4_quality;
pub mod charsets;
pub mod fineweb_quality;
pub mod gopher_quality;
pub mod gopher_repetition;
pub mod pii;
pub mod url_filter;
pub mod view;

#[cfg(test)]
mod tests;
