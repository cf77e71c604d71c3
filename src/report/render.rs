//! One card, two renderings: a self-contained HTML page (charts inline, styles inline, no
//! scripts) and Markdown with the charts as SVG files beside it. Both come from the same
//! [`Section`] list, so they say the same thing.

/// A table: header and rows of cells; columns whose header is in `numeric` align right.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
}

/// A chart: its file stem (`funnel` → `funnel.svg` beside the Markdown) and its SVG.
#[derive(Debug, Clone)]
pub struct Chart {
    pub stem: String,
    pub svg: String,
}

#[derive(Debug, Clone, Default)]
pub struct Section {
    /// Anchor name.
    pub id: String,
    pub title: String,
    /// Plain sentences (no markup) before the chart.
    pub text: Vec<String>,
    pub charts: Vec<Chart>,
    pub tables: Vec<Table>,
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// `name` (Markdown code) as <code>name</code>, in text already escaped.
fn code_spans(escaped: &str) -> String {
    let mut out = String::with_capacity(escaped.len());
    for (i, part) in escaped.split('`').enumerate() {
        match i % 2 {
            1 => out.push_str(&format!("<code>{part}</code>")),
            _ => out.push_str(part),
        }
    }
    out
}

/// A cell that reads as a number is right-aligned.
fn numeric(cell: &str) -> bool {
    let t = cell.trim_end_matches(['%', '×', 's', 'k', 'M', 'G']);
    !t.is_empty()
        && t.replace([',', '.', '-', '+'], "")
            .chars()
            .all(|c| c.is_ascii_digit())
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:860px;\
margin:2em auto;padding:0 1em;color:#1d2430;line-height:1.45}\
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #d8dde3}\
nav a{margin-right:.8em}table{border-collapse:collapse;margin:.8em 0;font-size:.9em}\
th,td{padding:.25em .7em;border-bottom:1px solid #e3e7eb;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f5f7}\
.chart svg{max-width:100%;height:auto}p.meta{color:#5b6675}";

pub fn html(title: &str, meta: &[String], sections: &[Section]) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str(&format!("<title>{}</title>\n", html_escape(title)));
    h.push_str(&format!("<style>{STYLE}</style>\n</head>\n<body>\n"));
    h.push_str(&format!("<h1>{}</h1>\n", html_escape(title)));
    for m in meta {
        h.push_str(&format!(
            "<p class=\"meta\">{}</p>\n",
            code_spans(&html_escape(m))
        ));
    }
    h.push_str("<nav>");
    for s in sections {
        h.push_str(&format!(
            "<a href=\"#{}\">{}</a>",
            html_escape(&s.id),
            html_escape(&s.title)
        ));
    }
    h.push_str("</nav>\n");
    for s in sections {
        h.push_str(&format!(
            "<section id=\"{}\">\n<h2>{}</h2>\n",
            html_escape(&s.id),
            html_escape(&s.title)
        ));
        for p in &s.text {
            h.push_str(&format!("<p>{}</p>\n", code_spans(&html_escape(p))));
        }
        for c in &s.charts {
            h.push_str("<div class=\"chart\">\n");
            h.push_str(strip_xml_declaration(&c.svg));
            h.push_str("\n</div>\n");
        }
        for t in &s.tables {
            h.push_str("<table>\n<tr>");
            for head in &t.header {
                h.push_str(&format!("<th>{}</th>", html_escape(head)));
            }
            h.push_str("</tr>\n");
            for row in &t.rows {
                h.push_str("<tr>");
                for cell in row {
                    let class = if numeric(cell) { " class=\"n\"" } else { "" };
                    h.push_str(&format!("<td{class}>{}</td>", html_escape(cell)));
                }
                h.push_str("</tr>\n");
            }
            h.push_str("</table>\n");
        }
        h.push_str("</section>\n");
    }
    h.push_str("</body>\n</html>\n");
    h
}

fn strip_xml_declaration(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

fn md_cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('\n', " ")
}

pub fn markdown(title: &str, meta: &[String], sections: &[Section]) -> String {
    let mut m = format!("# {title}\n\n");
    for line in meta {
        m.push_str(&format!("{line}\n\n"));
    }
    for s in sections {
        m.push_str(&format!("## {}\n\n", s.title));
        for p in &s.text {
            m.push_str(&format!("{p}\n\n"));
        }
        for c in &s.charts {
            m.push_str(&format!("![{}]({}.svg)\n\n", s.title, c.stem));
        }
        for t in &s.tables {
            m.push_str(&format!(
                "| {} |\n",
                t.header
                    .iter()
                    .map(|c| md_cell(c))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
            let aligns: Vec<&str> = (0..t.header.len())
                .map(|i| {
                    let right = !t.rows.is_empty()
                        && t.rows.iter().all(|r| r.get(i).is_none_or(|c| numeric(c)));
                    if right {
                        "---:"
                    } else {
                        "---"
                    }
                })
                .collect();
            m.push_str(&format!("| {} |\n", aligns.join(" | ")));
            for row in &t.rows {
                m.push_str(&format!(
                    "| {} |\n",
                    row.iter()
                        .map(|c| md_cell(c))
                        .collect::<Vec<_>>()
                        .join(" | ")
                ));
            }
            m.push('\n');
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Section> {
        let mut t = Table::new(&["dataset", "docs"]);
        t.row(vec!["web <b>|x".into(), "1,234".into()]);
        vec![Section {
            id: "funnel".into(),
            title: "Funnel".into(),
            text: vec!["Docs & `more`.".into()],
            charts: vec![Chart {
                stem: "funnel".into(),
                svg: "<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>".into(),
            }],
            tables: vec![t],
        }]
    }

    #[test]
    fn html_escapes_text_and_inlines_charts() {
        let h = html("card", &["m".into()], &sample());
        assert!(h.contains("web &lt;b&gt;|x") && h.contains("Docs &amp; <code>more</code>."));
        assert!(h.contains("<div class=\"chart\">\n<svg"));
        assert!(h.contains("<td class=\"n\">1,234</td>"));
        assert!(!h.contains("<script"));
    }

    #[test]
    fn markdown_links_the_svg_files_and_escapes_pipes() {
        let m = markdown("card", &[], &sample());
        assert!(m.contains("![Funnel](funnel.svg)"));
        assert!(m.contains("| web &lt;b>\\|x | 1,234 |"));
        assert!(m.contains("| --- | ---: |"));
    }
}
