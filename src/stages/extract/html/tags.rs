//! Element names as small integers, and the element categories of the HTML tree-construction
//! rules (special, formatting, scope boundaries, implied end tags).
//!
//! The names the rules distinguish are numbered once, here; any other name gets a number from
//! the page's own table ([`Names`]), so `</x-card>` still closes `<x-card>` and nothing else.

use std::collections::HashMap;

/// An element name: a known one (below [`KNOWN`]) or one interned in the page's [`Names`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tag(pub u32);

macro_rules! known_tags {
    ($($konst:ident = $name:literal,)*) => {
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[repr(u32)]
        enum Index { $($konst,)* Count }
        $(pub const $konst: Tag = Tag(Index::$konst as u32);)*
        /// How many names are known; interned ones are numbered from here.
        pub const KNOWN: u32 = Index::Count as u32;
        const NAMES: [&[u8]; KNOWN as usize] = [$($name,)*];
        fn known(name: &[u8]) -> Option<Tag> {
            match name {
                $($name => Some($konst),)*
                _ => None,
            }
        }
    };
}

known_tags! {
    A = b"a", ABBR = b"abbr", ADDRESS = b"address", APPLET = b"applet", AREA = b"area",
    ARTICLE = b"article", ASIDE = b"aside", AUDIO = b"audio", B = b"b", BASE = b"base",
    BASEFONT = b"basefont", BGSOUND = b"bgsound", BIG = b"big", BLOCKQUOTE = b"blockquote",
    BODY = b"body", BR = b"br", BUTTON = b"button", CANVAS = b"canvas", CAPTION = b"caption",
    CENTER = b"center", CODE = b"code", COL = b"col", COLGROUP = b"colgroup", DD = b"dd",
    DETAILS = b"details", DIALOG = b"dialog", DIR = b"dir", DIV = b"div", DL = b"dl", DT = b"dt",
    EM = b"em", EMBED = b"embed", FIELDSET = b"fieldset", FIGCAPTION = b"figcaption",
    FIGURE = b"figure", FONT = b"font", FOOTER = b"footer", FORM = b"form", FRAME = b"frame",
    FRAMESET = b"frameset", H1 = b"h1", H2 = b"h2", H3 = b"h3", H4 = b"h4", H5 = b"h5",
    H6 = b"h6", HEAD = b"head", HEADER = b"header", HGROUP = b"hgroup", HR = b"hr",
    HTML = b"html", I = b"i", IFRAME = b"iframe", IMAGE = b"image", IMG = b"img",
    INPUT = b"input", KEYGEN = b"keygen", LABEL = b"label", LI = b"li", LINK = b"link",
    LISTING = b"listing", MAIN = b"main", MAP = b"map", MARQUEE = b"marquee", MATH = b"math",
    MENU = b"menu", META = b"meta", NAV = b"nav", NOBR = b"nobr", NOEMBED = b"noembed",
    NOFRAMES = b"noframes", NOSCRIPT = b"noscript", OBJECT = b"object", OL = b"ol",
    OPTGROUP = b"optgroup", OPTION = b"option", P = b"p", PARAM = b"param",
    PLAINTEXT = b"plaintext", PRE = b"pre", RB = b"rb", RP = b"rp", RT = b"rt", RTC = b"rtc",
    RUBY = b"ruby", S = b"s", SCRIPT = b"script", SEARCH = b"search", SECTION = b"section",
    SELECT = b"select", SMALL = b"small", SOURCE = b"source", SPAN = b"span",
    STRIKE = b"strike", STRONG = b"strong", STYLE = b"style", SUB = b"sub",
    SUMMARY = b"summary", SUP = b"sup", SVG = b"svg", TABLE = b"table", TBODY = b"tbody",
    TD = b"td", TEMPLATE = b"template", TEXTAREA = b"textarea", TFOOT = b"tfoot", TH = b"th",
    THEAD = b"thead", TIME = b"time", TITLE = b"title", TR = b"tr", TRACK = b"track",
    TT = b"tt", U = b"u", UL = b"ul", VAR = b"var", VIDEO = b"video", WBR = b"wbr",
    XMP = b"xmp", MI = b"mi", MO = b"mo", MN = b"mn", MS = b"ms", MTEXT = b"mtext",
    ANNOTATION_XML = b"annotation-xml", FOREIGNOBJECT = b"foreignobject", DESC = b"desc",
    MGLYPH = b"mglyph", MALIGNMARK = b"malignmark",
}

/// The page's table of element names: the known ones, then every other name met, each
/// numbered once (lowercase, as the tokenizer gives them). Kept across pages; cleared per page.
#[derive(Default)]
pub struct Names {
    other: HashMap<Box<[u8]>, Tag>,
    /// Names of the interned tags, by `tag.0 - KNOWN`.
    spelled: Vec<Box<[u8]>>,
}

impl Names {
    pub fn clear(&mut self) {
        self.other.clear();
        self.spelled.clear();
    }

    /// The tag of a lowercase name.
    pub fn tag(&mut self, name: &[u8]) -> Tag {
        if let Some(t) = known(name) {
            return t;
        }
        if let Some(&t) = self.other.get(name) {
            return t;
        }
        let t = Tag(KNOWN + self.spelled.len() as u32);
        self.spelled.push(name.into());
        self.other.insert(name.into(), t);
        t
    }

    /// The lowercase name of a tag.
    pub fn name(&self, tag: Tag) -> &[u8] {
        match NAMES.get(tag.0 as usize) {
            Some(n) => n,
            None => &self.spelled[(tag.0 - KNOWN) as usize],
        }
    }
}

/// The name the extractor reads for a known tag (`x-other` for every name the extractor does
/// not distinguish; see `dom::intern_tag`).
pub fn extractor_name(tag: Tag) -> &'static str {
    static TABLE: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        NAMES
            .iter()
            .map(|n| super::super::dom::intern_tag(std::str::from_utf8(n).unwrap_or("")))
            .collect()
    });
    table.get(tag.0 as usize).copied().unwrap_or("x-other")
}

/// HTML elements of the "special" category: an end tag of another name never closes them.
/// (As in html5ever, which sieve's trees are checked against, MathML and SVG elements are not
/// special, and neither is `<search>`.)
pub fn is_special(t: Tag) -> bool {
    matches!(
        t,
        ADDRESS
            | APPLET
            | AREA
            | ARTICLE
            | ASIDE
            | BASE
            | BASEFONT
            | BGSOUND
            | BLOCKQUOTE
            | BODY
            | BR
            | BUTTON
            | CAPTION
            | CENTER
            | COL
            | COLGROUP
            | DD
            | DETAILS
            | DIR
            | DIV
            | DL
            | DT
            | EMBED
            | FIELDSET
            | FIGCAPTION
            | FIGURE
            | FOOTER
            | FORM
            | FRAME
            | FRAMESET
            | H1
            | H2
            | H3
            | H4
            | H5
            | H6
            | HEAD
            | HEADER
            | HGROUP
            | HR
            | HTML
            | IFRAME
            | IMG
            | INPUT
            | KEYGEN
            | LI
            | LINK
            | LISTING
            | MAIN
            | MARQUEE
            | MENU
            | META
            | NAV
            | NOEMBED
            | NOFRAMES
            | NOSCRIPT
            | OBJECT
            | OL
            | P
            | PARAM
            | PLAINTEXT
            | PRE
            | SCRIPT
            | SECTION
            | SELECT
            | SOURCE
            | STYLE
            | SUMMARY
            | TABLE
            | TBODY
            | TD
            | TEMPLATE
            | TEXTAREA
            | TFOOT
            | TH
            | THEAD
            | TITLE
            | TR
            | TRACK
            | UL
            | WBR
            | XMP
    )
}

/// Formatting elements: recorded in the list of active formatting elements, reopened after
/// a block that closed them, and repaired by the adoption agency algorithm.
pub fn is_formatting(t: Tag) -> bool {
    matches!(
        t,
        A | B | BIG | CODE | EM | FONT | I | NOBR | S | SMALL | STRIKE | STRONG | TT | U
    )
}

pub fn is_heading(t: Tag) -> bool {
    matches!(t, H1 | H2 | H3 | H4 | H5 | H6)
}

/// Elements whose end tags are implied by the start of a sibling ("generate implied end tags").
pub fn has_implied_end(t: Tag) -> bool {
    matches!(t, DD | DT | LI | OPTGROUP | OPTION | P | RB | RP | RT | RTC)
}

/// Start tags that end a `<p>` open in button scope.
pub fn closes_p(t: Tag) -> bool {
    matches!(
        t,
        ADDRESS
            | ARTICLE
            | ASIDE
            | BLOCKQUOTE
            | CENTER
            | DETAILS
            | DIALOG
            | DIR
            | DIV
            | DL
            | FIELDSET
            | FIGCAPTION
            | FIGURE
            | FOOTER
            | HEADER
            | HGROUP
            | MAIN
            | MENU
            | NAV
            | OL
            | P
            | SEARCH
            | SECTION
            | SUMMARY
            | UL
    )
}

/// End tags that close a block of the same name in scope, with implied ends generated.
pub fn is_block_end(t: Tag) -> bool {
    closes_p(t) && t != P || matches!(t, BUTTON | LISTING | PRE | SELECT)
}

/// Start tags that leave foreign (MathML/SVG) content, popping back to an HTML element.
pub fn breaks_out_of_foreign(t: Tag) -> bool {
    matches!(
        t,
        B | BIG
            | BLOCKQUOTE
            | BODY
            | BR
            | CENTER
            | CODE
            | DD
            | DIV
            | DL
            | DT
            | EM
            | EMBED
            | H1
            | H2
            | H3
            | H4
            | H5
            | H6
            | HEAD
            | HR
            | I
            | IMG
            | LI
            | LISTING
            | MENU
            | META
            | NOBR
            | OL
            | P
            | PRE
            | RUBY
            | S
            | SMALL
            | SPAN
            | STRONG
            | STRIKE
            | SUB
            | SUP
            | TABLE
            | TT
            | U
            | UL
            | VAR
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_other_names_are_numbered_once() {
        let mut names = Names::default();
        assert_eq!(names.tag(b"div"), DIV);
        assert_eq!(names.tag(b"annotation-xml"), ANNOTATION_XML);
        let card = names.tag(b"x-card");
        assert!(card.0 >= KNOWN);
        assert_eq!(names.tag(b"x-card"), card);
        assert_ne!(names.tag(b"o:p"), card);
        assert_eq!(names.name(card), b"x-card");
        assert_eq!(names.name(TD), b"td");
        for n in NAMES {
            assert!(std::str::from_utf8(n).is_ok());
        }
        assert_eq!(extractor_name(DIV), "div");
        assert_eq!(extractor_name(NOBR), "x-other");
        assert_eq!(extractor_name(card), "x-other");
    }
}
