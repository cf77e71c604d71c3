//! The examples of shared/reference/filters.md §2, verified there with spaCy 3.8.18; the
//! corpus-wide comparison with spaCy itself is tests/filters_agreement.py.

use super::*;

fn split(text: &str) -> String {
    words(text).join(" ")
}

#[test]
fn reference_examples_split_as_spacy_does() {
    let cases = [
        (
            "Hello, world! It's a test.",
            "Hello , world ! It 's a test .",
        ),
        ("don't", "do n't"),
        ("don’t", "do n’t"),
        ("I'm", "I 'm"),
        ("well-known", "well - known"),
        ("3-year-old", "3 - year - old"),
        ("2024-01-01", "2024 - 01 - 01"),
        ("5-10", "5 - 10"),
        ("$1,000.50", "$ 1,000.50"),
        (
            "3.14 50% 10km 5pm 1/2 +1 1,2,3",
            "3.14 50 % 10 km 5 pm 1/2 +1 1,2,3",
        ),
        ("https://example.com/a?b=1", "https://example.com/a?b=1"),
        ("www.foo.org", "www.foo.org"),
        ("john.doe@example.com", "john.doe@example.com"),
        (
            "http://localhost:8000/x?y=1#z",
            "http://localhost:8000 / x?y=1#z",
        ),
        (
            "Mr. e.g. U.S. Ph.D. a. U.K.-based",
            "Mr. e.g. U.S. Ph.D. a. U.K.-based",
        ),
        ("etc.", "etc ."),
        (
            "Hello... wait… ?! hi!! end.)",
            "Hello ... wait … ? ! hi ! ! end . )",
        ),
        (
            "#hashtag @user C# C++ •item -item –item",
            "# hashtag @user C # C++ •item -item – item",
        ),
        (":) :-( <3 日本語のテキスト", ":) :-( <3 日本語のテキスト"),
        ("smile:)", "smile :)"),
        ("Dont", "Do nt"),
        ("(Mr.", "( Mr."),
    ];
    for (text, want) in cases {
        assert_eq!(split(text), want, "{text:?}");
    }
}

#[test]
fn whitespace_runs_are_tokens_but_not_words() {
    let mut t = Vec::new();
    tokenize_into("ok.\n\nb  c", &mut t);
    let texts: Vec<&str> = t.iter().map(|x| &"ok.\n\nb  c"[x.start..x.end]).collect();
    assert_eq!(texts, ["ok", ".", "\n\n", "b", " ", "c"]);
    assert_eq!(words(" a "), ["a"]);
}

#[test]
fn sentence_counts_match_the_reference() {
    let count = |s: &str| {
        let mut t = Vec::new();
        tokenize_into(s, &mut t);
        count_sentences(s, &t)
    };
    for s in [
        "Hello world. This is it.",
        "Wait... what? Yes!",
        "Mr. Smith went home. He slept.",
        "He said \"Hi.\" Then left.",
        "Version 3.14 is out.It works.",
    ] {
        assert_eq!(count(s), 2, "{s:?}");
    }
    assert_eq!(count("Is it?!Yes"), 1);
    assert_eq!(count("etc. and so on. Fin"), 3);
    assert_eq!(count(""), 1);
}
