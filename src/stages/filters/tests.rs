//! The worked examples of shared/reference/filters.md (each run there on datatrove 0.10.1),
//! as unit tests: the decision, the reason, and for C4 the rewritten text.

use super::c4_quality::{C4Outcome, C4QualityOptions, C4QualityStage};
use super::fineweb_quality::{FinewebQualityOptions, FinewebQualityStage};
use super::gopher_quality::{GopherQualityOptions, GopherQualityStage};
use super::gopher_repetition::{GopherRepetitionOptions, GopherRepetitionStage};

fn gopher_quality(text: &str) -> Option<&'static str> {
    GopherQualityStage::new(GopherQualityOptions::default()).verdict(text)
}

fn gopher_repetition(text: &str) -> Option<&'static str> {
    GopherRepetitionStage::new(GopherRepetitionOptions::default())
        .unwrap()
        .verdict(text)
}

fn fineweb(text: &str) -> Option<&'static str> {
    FinewebQualityStage::new(FinewebQualityOptions::default()).verdict(text)
}

#[test]
fn gopher_quality_examples() {
    let g1 = "The committee met on Tuesday to review the budget of the new library and the plans for its opening.\nMembers agreed that the reading room should stay open late, with extra staff on weekends.\nA final vote on the funding of the project is expected next month, after a public hearing.\nResidents can send comments by e-mail until the end of March.";
    assert_eq!(gopher_quality(g1), None);
    let g2 = "- Fresh apples from local farms, picked this week and sold by the kilo at the market\n- Organic pears with a sweet taste, great for baking pies and tarts with the family\n- Seasonal plums and cherries, available only in summer while supplies last at the stall\n- Free delivery on all orders over twenty dollars placed before noon on any weekday";
    assert_eq!(gopher_quality(g2), Some("gopher_too_many_bullets"));
    let g3 = "The Quick Brown Fox Jumps Over Lazy Dogs In Summer. ".repeat(6);
    assert_eq!(gopher_quality(&g3), Some("gopher_enough_stop_words"));
    let sixty = "word ".repeat(60);
    assert_eq!(
        gopher_quality(&format!("The the {sixty}")),
        Some("gopher_enough_stop_words")
    );
    assert_eq!(gopher_quality(&format!("the and {sixty}")), None);
    assert_eq!(gopher_quality(""), Some("gopher_short_doc"));
}

#[test]
fn gopher_quality_boundaries_are_datatrove_s() {
    // Exactly 50 non-symbol words passes (the rule is "< 50"); 49 fails.
    let words = |n: usize| format!("the and {}", "word ".repeat(n - 2));
    assert_eq!(gopher_quality(&words(50)), None);
    assert_eq!(gopher_quality(&words(49)), Some("gopher_short_doc"));
    // Ratios are compared as IEEE quotients: 5 '#' in 50 words is exactly 0.1, not above it
    // ("a#b" stays one word: '#' is peeled only at a word's ends).
    let hashes = |n: usize| format!("the and {}{}", "a#b ".repeat(n), "word ".repeat(48 - n));
    assert_eq!(gopher_quality(&hashes(5)), None);
    assert_eq!(gopher_quality(&hashes(6)), Some("gopher_too_many_hashes"));
}

#[test]
fn gopher_repetition_examples() {
    assert_eq!(
        gopher_repetition("\nBuy now.\nBest price.\n"),
        Some("top_2_gram")
    );
    let r2 = "Our bakery opens at seven every morning and closes at six.\nFresh bread is baked twice a day by our team of four bakers.\nFresh bread is baked twice a day by our team of four bakers.\nAsk about our weekly specials when you visit the shop.";
    assert_eq!(gopher_repetition(r2), Some("dup_line_char_frac"));
    let r3 = "Call us today for a free quote on roof repairs and gutter cleaning in your area.\n\nWe serve homes and businesses across the county with fast and friendly service.\n\nOur crew has twenty years of experience with every kind of roof and every budget.\n\nCall us today for a free quote.";
    assert_eq!(gopher_repetition(r3), None);
    assert_eq!(gopher_repetition(""), Some("empty"));
}

#[test]
fn c4_examples() {
    let mut c4 = C4QualityStage::new(C4QualityOptions::default());
    let c1 = "Welcome to our site. We hope you enjoy it! Read more below.\nPlease enable JavaScript to view the comments.\nThe river is 300 km long.[1] It flows into the sea.\nMenu\nThis site uses cookies to improve your experience.\nDr. Smith said \"the water is clean.\" Tests agree.";
    match c4.apply(c1) {
        C4Outcome::Keep(text, counts) => {
            assert_eq!(text, "Welcome to our site. We hope you enjoy it! Read more below.\nThe river is 300 km long. It flows into the sea.\nDr. Smith said \"the water is clean.\" Tests agree.");
            assert_eq!(
                (
                    counts.javascript,
                    counts.no_terminal_punct,
                    counts.policy,
                    counts.kept
                ),
                (1, 1, 1, 3)
            );
        }
        other => panic!("{other:?}"),
    }
    let c2 = "Great recipes for you to try at home.\nMix flour and sugar {see notes}\nBake it.";
    assert_eq!(c4.apply(c2), C4Outcome::Drop("too_few_sentences"));
    let mut fineweb_c4 = C4QualityStage::new(C4QualityOptions {
        filter_no_terminal_punct: false,
        ..Default::default()
    });
    assert_eq!(fineweb_c4.apply(c2), C4Outcome::Drop("curly_bracket"));
    let mut no_minimum = C4QualityStage::new(C4QualityOptions {
        min_num_sentences: -1,
        ..Default::default()
    });
    let c3 = "[1] [2] Hi.\nThe end is near. [3]\nSee the notes [edit] here.\nIt was fine … okay…\nWe walked home...";
    match no_minimum.apply(c3) {
        C4Outcome::Keep(text, _) => assert_eq!(text, "Hi.\nSee the notes  here."),
        other => panic!("{other:?}"),
    }
    assert_eq!(c4.apply(""), C4Outcome::Drop("too_few_sentences"));
}

#[test]
fn fineweb_examples() {
    let f1 = "Home\nAbout us\nContact\nOur shop sells hand-made furniture built from local oak and walnut.";
    assert_eq!(fineweb(f1), Some("short_line_ratio"));
    let f2 = "Our shop sells hand-made furniture.\r\nEvery piece is finished by hand.\r\nVisit us on Saturdays at the market.\r\nPrices start at 200 dollars, tax included.\r\nWe deliver anywhere in the county for free.";
    assert_eq!(fineweb(f2), None);
    let f3 = "First line of the text ends here.\nShop\nSecond line of text ends here too.\nShop\nThird and final line ends here.";
    assert_eq!(fineweb(f3), Some("char_dup_ratio"));
    let f4 = "Nice\n\n\n\n\nA sentence that is long enough to count here.";
    assert_eq!(fineweb(f4), Some("list_ratio"));
    assert_eq!(fineweb(" \n\t\n"), Some("empty"));
}
