//! Quirks mode from the `<!DOCTYPE>`: the one tree-construction rule the extractor sees that
//! depends on it is that `<table>` closes an open `<p>` in standards mode and nests inside it
//! in quirks mode (pages without a doctype, or with an old HTML 3/4 one).

/// The document's mode, as the HTML standard decides it from the doctype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Standards,
    LimitedQuirks,
    Quirks,
}

/// Public identifiers (lowercase) whose prefixes put a page in quirks mode.
const QUIRKY_PUBLIC_PREFIXES: &[&str] = &[
    "+//silmaril//dtd html pro v0r11 19970101//",
    "-//as//dtd html 3.0 aswedit + extensions//",
    "-//advasoft ltd//dtd html 3.0 aswedit + extensions//",
    "-//ietf//dtd html 2.0 level 1//",
    "-//ietf//dtd html 2.0 level 2//",
    "-//ietf//dtd html 2.0 strict level 1//",
    "-//ietf//dtd html 2.0 strict level 2//",
    "-//ietf//dtd html 2.0 strict//",
    "-//ietf//dtd html 2.0//",
    "-//ietf//dtd html 2.1e//",
    "-//ietf//dtd html 3.0//",
    "-//ietf//dtd html 3.2 final//",
    "-//ietf//dtd html 3.2//",
    "-//ietf//dtd html 3//",
    "-//ietf//dtd html level 0//",
    "-//ietf//dtd html level 1//",
    "-//ietf//dtd html level 2//",
    "-//ietf//dtd html level 3//",
    "-//ietf//dtd html strict level 0//",
    "-//ietf//dtd html strict level 1//",
    "-//ietf//dtd html strict level 2//",
    "-//ietf//dtd html strict level 3//",
    "-//ietf//dtd html strict//",
    "-//ietf//dtd html//",
    "-//metrius//dtd metrius presentational//",
    "-//microsoft//dtd internet explorer 2.0 html strict//",
    "-//microsoft//dtd internet explorer 2.0 html//",
    "-//microsoft//dtd internet explorer 2.0 tables//",
    "-//microsoft//dtd internet explorer 3.0 html strict//",
    "-//microsoft//dtd internet explorer 3.0 html//",
    "-//microsoft//dtd internet explorer 3.0 tables//",
    "-//netscape comm. corp.//dtd html//",
    "-//netscape comm. corp.//dtd strict html//",
    "-//o'reilly and associates//dtd html 2.0//",
    "-//o'reilly and associates//dtd html extended 1.0//",
    "-//o'reilly and associates//dtd html extended relaxed 1.0//",
    "-//sq//dtd html 2.0 hotmetal + extensions//",
    "-//softquad software//dtd hotmetal pro 6.0::19990601::extensions to html 4.0//",
    "-//softquad//dtd hotmetal pro 4.0::19971010::extensions to html 4.0//",
    "-//spyglass//dtd html 2.0 extended//",
    "-//sun microsystems corp.//dtd hotjava html//",
    "-//sun microsystems corp.//dtd hotjava strict html//",
    "-//w3c//dtd html 3 1995-03-24//",
    "-//w3c//dtd html 3.2 draft//",
    "-//w3c//dtd html 3.2 final//",
    "-//w3c//dtd html 3.2//",
    "-//w3c//dtd html 3.2s draft//",
    "-//w3c//dtd html 4.0 frameset//",
    "-//w3c//dtd html 4.0 transitional//",
    "-//w3c//dtd html experimental 19960712//",
    "-//w3c//dtd html experimental 970421//",
    "-//w3c//dtd w3 html//",
    "-//w3o//dtd w3 html 3.0//",
    "-//webtechs//dtd mozilla html 2.0//",
    "-//webtechs//dtd mozilla html//",
];

/// HTML 4.01 transitional and frameset: quirks without a system identifier, limited quirks
/// with one.
const HTML401_LOOSE: &[&str] = &[
    "-//w3c//dtd html 4.01 frameset//",
    "-//w3c//dtd html 4.01 transitional//",
];

const XHTML1_LOOSE: &[&str] = &[
    "-//w3c//dtd xhtml 1.0 frameset//",
    "-//w3c//dtd xhtml 1.0 transitional//",
];

/// The mode of a doctype token's body: the bytes between `<!DOCTYPE` and its `>` (`None` when
/// the page ends inside it).
pub fn mode(body: Option<&[u8]>) -> Mode {
    let Some(body) = body else {
        return Mode::Quirks;
    };
    let mut p = Parser { b: body, at: 0 };
    p.skip_space();
    let name = p.word();
    if name.is_empty() {
        return Mode::Quirks;
    }
    let name = name.to_ascii_lowercase();
    p.skip_space();
    let keyword = p.word().to_ascii_lowercase();
    let (mut public, mut system) = (None, None);
    let mut force_quirks = false;
    match keyword.as_slice() {
        b"" => {}
        b"public" => match p.quoted() {
            Some(id) => {
                public = Some(id);
                system = p.quoted();
            }
            None => force_quirks = true,
        },
        b"system" => match p.quoted() {
            Some(id) => system = Some(id),
            None => force_quirks = true,
        },
        _ => force_quirks = true,
    }
    if force_quirks || name != b"html" {
        return Mode::Quirks;
    }
    let public = public.map(|p| String::from_utf8_lossy(&p).to_ascii_lowercase());
    let system = system.map(|s| String::from_utf8_lossy(&s).to_ascii_lowercase());
    let starts = |list: &[&str]| {
        public
            .as_deref()
            .is_some_and(|p| list.iter().any(|q| p.starts_with(q)))
    };
    let quirky_public = matches!(
        public.as_deref(),
        Some(
            "-//w3o//dtd w3 html strict 3.0//en//" | "-/w3c/dtd html 4.0 transitional/en" | "html"
        )
    );
    let quirky_system =
        system.as_deref() == Some("http://www.ibm.com/data/dtd/v11/ibmxhtml1-transitional.dtd");
    if quirky_public
        || quirky_system
        || starts(QUIRKY_PUBLIC_PREFIXES)
        || (system.is_none() && starts(HTML401_LOOSE))
    {
        Mode::Quirks
    } else if starts(XHTML1_LOOSE) || (system.is_some() && starts(HTML401_LOOSE)) {
        Mode::LimitedQuirks
    } else {
        Mode::Standards
    }
}

struct Parser<'a> {
    b: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self.at < self.b.len() && is_space(self.b[self.at]) {
            self.at += 1;
        }
    }

    fn word(&mut self) -> Vec<u8> {
        let start = self.at;
        while self.at < self.b.len() && !is_space(self.b[self.at]) {
            self.at += 1;
        }
        self.b[start..self.at].to_vec()
    }

    /// A quoted identifier, after optional space; `None` if there is none.
    fn quoted(&mut self) -> Option<Vec<u8>> {
        self.skip_space();
        let quote = *self.b.get(self.at)?;
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        let rest = &self.b[self.at + 1..];
        let end = memchr::memchr(quote, rest).unwrap_or(rest.len());
        self.at += 1 + end + 1;
        Some(rest[..end].to_vec())
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_of_common_doctypes() {
        assert_eq!(mode(Some(b" html")), Mode::Standards);
        assert_eq!(mode(Some(b"HTML")), Mode::Standards);
        assert_eq!(mode(None), Mode::Quirks);
        assert_eq!(mode(Some(b"")), Mode::Quirks);
        assert_eq!(
            mode(Some(
                b" HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\""
            )),
            Mode::Quirks
        );
        assert_eq!(
            mode(Some(
                b" HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" \"http://www.w3.org/TR/html4/loose.dtd\""
            )),
            Mode::LimitedQuirks
        );
        assert_eq!(
            mode(Some(
                b" html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\""
            )),
            Mode::Standards
        );
        assert_eq!(
            mode(Some(b" HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\"")),
            Mode::Quirks
        );
        assert_eq!(mode(Some(b" svg")), Mode::Quirks);
    }
}
