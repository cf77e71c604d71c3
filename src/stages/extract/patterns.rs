//! What marks an element as boilerplate or as content: tag names, ARIA roles, and tokens of
//! `class`/`id` attributes. Tokens are compared whole (after splitting on space, `-` and `_`)
//! or by prefix, never as raw substrings, so `canvas` is not `nav` and `headline` is not `ad`.

/// Elements that never hold main text; their whole subtree is skipped. (`<object>` is not
/// one: with plugins gone, browsers show its fallback content, often a video's description.)
pub fn is_skipped_tag(tag: &str) -> bool {
    matches!(
        tag,
        "script"
            | "style"
            | "noscript"
            | "template"
            | "svg"
            | "canvas"
            | "iframe"
            | "embed"
            | "button"
            | "select"
            | "input"
            | "textarea"
            | "option"
            | "nav"
            | "aside"
            | "footer"
            | "header"
            | "head"
            | "title"
            | "meta"
            | "link"
            | "map"
            | "audio"
            | "video"
            | "figcaption"
            | "menu"
            | "dialog"
    )
}

/// Elements that start a new text block.
pub fn is_block_tag(tag: &str) -> bool {
    matches!(
        tag,
        "p" | "div"
            | "section"
            | "article"
            | "main"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "li"
            | "ul"
            | "ol"
            | "dl"
            | "dt"
            | "dd"
            | "pre"
            | "blockquote"
            | "table"
            | "tr"
            | "td"
            | "th"
            | "thead"
            | "tbody"
            | "tfoot"
            | "caption"
            | "figure"
            | "address"
            | "center"
            | "form"
            | "fieldset"
            | "hr"
            | "body"
            | "html"
            | "details"
            | "summary"
    )
}

pub fn is_heading(tag: &str) -> bool {
    matches!(tag, "h1" | "h2" | "h3" | "h4" | "h5" | "h6")
}

/// ARIA roles of page furniture.
pub fn is_boilerplate_role(role: &str) -> bool {
    matches!(
        role,
        "navigation"
            | "banner"
            | "contentinfo"
            | "complementary"
            | "search"
            | "menu"
            | "menubar"
            | "dialog"
            | "alertdialog"
            | "tooltip"
    )
}

const NEGATIVE_PREFIXES: &[&str] = &[
    "comment",
    "sidebar",
    "share",
    "sharing",
    "social",
    "related",
    "recommend",
    "cookie",
    "consent",
    "footer",
    "breadcrumb",
    "advert",
    "newsletter",
    "subscri",
    "promo",
    "sponsor",
    "popup",
    "modal",
    "widget",
    "navbar",
    "navigation",
    "menu",
    "banner",
    "taboola",
    "outbrain",
    "disqus",
    "pagination",
    "pager",
    "login",
    "signup",
    "signin",
    "masthead",
    "toolbar",
    "trending",
    "popular",
    "byline",
    "dateline",
    "timestamp",
    "copyright",
    "rightrail",
    "leftrail",
    "slideshow",
    "carousel",
    "gallery",
    "teaser",
    "tagcloud",
    "jump",
    "skiplink",
    "print",
    "rating",
    "follow",
    "author",
];

const NEGATIVE_TOKENS: &[&str] = &[
    "ad",
    "ads",
    "adv",
    "nav",
    "tags",
    "tag",
    "hidden",
    "hide",
    "skip",
    "rail",
    "aside",
    "meta",
    "more",
    "links",
    "share",
    "extra",
    "utility",
    "tools",
    "header",
    "foot",
    "date",
    "caption",
    "credit",
    "credits",
    "inline-ad",
    "sr",
    "visually",
];

const POSITIVE_TOKENS: &[&str] = &[
    "article",
    "content",
    "entry",
    "main",
    "post",
    "story",
    "body",
    "text",
    "blog",
    "prose",
    "articlebody",
    "article_body",
    "postbody",
    "storybody",
    "maincontent",
];

/// Negative tokens that say how a box looks or where it sits, not that it is furniture: a
/// story wrapped in `<div class="image-with-caption">` or `<div class="gallery-extra">` by a
/// theme is still the story.
const PRESENTATIONAL_TOKENS: &[&str] = &[
    "caption",
    "credit",
    "credits",
    "gallery",
    "slideshow",
    "carousel",
    "extra",
    "more",
    "meta",
    "jump",
    "print",
    "tools",
    "utility",
];

/// The token lists as hash sets, and the prefixes by their first byte: a class attribute is
/// looked up once per distinct value per page, and big pages have thousands of them.
struct TokenTables {
    negative: rustc_hash::FxHashSet<&'static str>,
    positive: rustc_hash::FxHashSet<&'static str>,
    prefixes_by_first_byte: Vec<Vec<&'static str>>,
}

fn tables() -> &'static TokenTables {
    static TABLES: std::sync::OnceLock<TokenTables> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let mut prefixes_by_first_byte = vec![Vec::new(); 256];
        for p in NEGATIVE_PREFIXES {
            prefixes_by_first_byte[p.as_bytes()[0] as usize].push(*p);
        }
        TokenTables {
            negative: NEGATIVE_TOKENS.iter().copied().collect(),
            positive: POSITIVE_TOKENS.iter().copied().collect(),
            prefixes_by_first_byte,
        }
    })
}

fn is_negative_token(t: &str) -> bool {
    let tables = tables();
    tables.negative.contains(t)
        || tables.prefixes_by_first_byte[t.as_bytes()[0] as usize]
            .iter()
            .any(|p| t.starts_with(p))
}

/// Whether every boilerplate-looking token of a class/id is only presentational.
pub fn is_presentational(class_id: &str) -> bool {
    tokens(class_id)
        .filter(|t| is_negative_token(t))
        .all(|t| PRESENTATIONAL_TOKENS.iter().any(|p| t.starts_with(p)))
}

fn tokens(class_id: &str) -> impl Iterator<Item = &str> {
    class_id
        .split([' ', '-', '_', ':'])
        .filter(|t| !t.is_empty())
}

/// Tokens that name a rights notice. A notice sits beside the story it covers, so its box is
/// often named after the story too (`story_copyright`, `article-copyright`): the notice
/// token wins over the positive one.
const RIGHTS_NOTICE_PREFIXES: &[&str] = &["copyright"];

/// −1 for boilerplate-looking class/id, +1 for content-looking, 0 otherwise. A negative token
/// wins over a positive one only when no positive token is present, or when it names a rights
/// notice.
pub fn class_weight(class_id: &str) -> i32 {
    let mut negative = false;
    let mut positive = false;
    for t in tokens(class_id) {
        if RIGHTS_NOTICE_PREFIXES.iter().any(|p| t.starts_with(p)) {
            return -1;
        }
        if is_negative_token(t) {
            negative = true;
        }
        if tables().positive.contains(t) {
            positive = true;
        }
    }
    match (negative, positive) {
        (true, false) => -1,
        (false, true) => 1,
        _ => 0,
    }
}

/// Whole blocks that are page furniture whatever their markup.
pub fn is_boilerplate_phrase(block: &str) -> bool {
    let b = block.trim().trim_end_matches(['.', ':', '!']);
    // The longest phrase has 20 characters, and lowercasing never makes a text shorter in
    // characters: longer blocks (almost all of them) need no lowercase copy.
    if b.len() > 20 * 4 || b.chars().nth(20).is_some() {
        return false;
    }
    let b = b.to_lowercase();
    matches!(
        b.as_str(),
        "advertisement"
            | "advertisements"
            | "sponsored"
            | "share"
            | "share this"
            | "share this article"
            | "read more"
            | "continue reading"
            | "related"
            | "related articles"
            | "related stories"
            | "comments"
            | "loading"
            | "loading..."
            | "subscribe"
            | "sign up"
            | "log in"
            | "print"
            | "email"
            | "tweet"
            | "follow us"
            | "skip to content"
            | "skip to main content"
            | "back to top"
            | "image"
            | "photo"
            | "video"
            | "close"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_tokens_are_matched_whole_or_by_prefix() {
        assert_eq!(class_weight("sidebar-left"), -1);
        assert_eq!(class_weight("comments-list"), -1);
        assert_eq!(class_weight("ad"), -1);
        assert_eq!(class_weight("headline"), 0);
        assert_eq!(class_weight("canvas"), 0);
        assert_eq!(class_weight("article-body"), 1);
        assert_eq!(class_weight("comment-content"), 0);
        // A rights notice stays furniture when its box is also named after the story.
        assert_eq!(class_weight("story_copyright"), -1);
        assert_eq!(class_weight("copyright"), -1);
    }
}
