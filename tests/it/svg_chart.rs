//! Reads a bar chart back from its SVG the way a person reads it: each label is paired with
//! the bar beside it (or under it) by position on the page, and the bar's value is read from
//! its length against the axis ticks and from the number printed at its end. Nothing here
//! knows how sieve draws a chart; it sees only positioned text and rectangles.

/// A `<text>` element: where it is anchored and what it says.
#[derive(Debug, Clone)]
pub struct Text {
    pub x: f64,
    pub y: f64,
    pub anchor: String,
    pub content: String,
}

/// A filled `<rect>` element.
#[derive(Debug, Clone)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub fill: String,
    pub opacity: f64,
}

impl Rect {
    fn center(&self) -> (f64, f64) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }

    fn contains(&self, x: f64, y: f64) -> bool {
        x >= self.x && x <= self.x + self.w && y >= self.y && y <= self.y + self.h
    }
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].to_string())
}

fn num(tag: &str, name: &str) -> f64 {
    attr(tag, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number {name} in {tag}"))
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Every text and filled rectangle of an SVG document, in document order.
pub fn elements(svg: &str) -> (Vec<Text>, Vec<Rect>) {
    let mut texts = Vec::new();
    let mut rects = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find('<') {
        rest = &rest[i..];
        let end = rest.find('>').expect("unclosed tag");
        let tag = &rest[..=end];
        if tag.starts_with("<text ") {
            let close = rest.find("</text>").expect("unclosed text");
            texts.push(Text {
                x: num(tag, "x"),
                y: num(tag, "y"),
                anchor: attr(tag, "text-anchor").unwrap_or_else(|| "start".into()),
                content: unescape(rest[end + 1..close].trim()),
            });
            rest = &rest[close..];
        } else if tag.starts_with("<rect ") {
            let fill = attr(tag, "fill").unwrap_or_default();
            if fill != "none" {
                rects.push(Rect {
                    x: num(tag, "x"),
                    y: num(tag, "y"),
                    w: num(tag, "width"),
                    h: num(tag, "height"),
                    fill: fill.to_uppercase(),
                    opacity: attr(tag, "opacity")
                        .and_then(|o| o.parse().ok())
                        .unwrap_or(1.0),
                });
            }
        }
        rest = &rest[1..];
    }
    (texts, rects)
}

/// "1.23M" → 1.23e6, "12.3k" → 12300, "0.250" → 0.25.
pub fn parse_short(s: &str) -> Option<f64> {
    let (digits, scale) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1e3),
        'M' => (&s[..s.len() - 1], 1e6),
        'G' => (&s[..s.len() - 1], 1e9),
        _ => (s, 1.0),
    };
    digits.parse::<f64>().ok().map(|v| v * scale)
}

/// Whether a printed short number stands for `value` (it keeps three significant digits).
pub fn prints(printed: &str, value: f64) -> bool {
    let Some(p) = parse_short(printed) else {
        return false;
    };
    let tolerance = (value.abs() * 0.006).max(if value.abs() < 1.0 { 0.0006 } else { 0.5 });
    (p - value).abs() <= tolerance
}

/// A straight-line fit of pixel positions to the numbers the ticks of one axis print.
fn axis_scale(ticks: &[(f64, f64)]) -> (f64, f64) {
    assert!(
        ticks.len() >= 2,
        "an axis with fewer than two ticks: {ticks:?}"
    );
    let (p0, v0) = ticks[0];
    let (p1, v1) = ticks[ticks.len() - 1];
    let per_unit = (p1 - p0) / (v1 - v0);
    (p0 - v0 * per_unit, per_unit)
}

/// The background and legend boxes are white; everything else filled is data or a swatch.
fn is_box(r: &Rect) -> bool {
    r.fill == "#FFFFFF"
}

/// One bar as read: the label beside it, the number printed at its end (if any), and the
/// value its length stands for on the axis.
#[derive(Debug, Clone)]
pub struct ReadBar {
    pub label: String,
    pub printed: Option<String>,
    pub by_length: f64,
    /// The series (legend entry) of a grouped chart; empty for a single series.
    pub series: String,
}

/// A horizontal bar chart read top to bottom.
pub fn read_horizontal(svg: &str) -> Vec<ReadBar> {
    let (texts, rects) = elements(svg);
    let mut bars: Vec<Rect> = rects.into_iter().filter(|r| !is_box(r)).collect();
    bars.sort_by(|a, b| a.y.total_cmp(&b.y));
    assert!(!bars.is_empty(), "a chart with no bars");
    let left = bars.iter().map(|b| b.x).fold(f64::MAX, f64::min);
    let bottom = bars.iter().map(|b| b.y + b.h).fold(0.0, f64::max);
    // The value axis: numbers centred under the plot.
    let mut ticks: Vec<(f64, f64)> = texts
        .iter()
        .filter(|t| t.anchor == "middle" && t.y > bottom)
        .filter_map(|t| parse_short(&t.content).map(|v| (t.x, v)))
        .collect();
    ticks.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (zero, per_unit) = axis_scale(&ticks);
    bars.iter()
        .map(|b| {
            let (_, cy) = b.center();
            let beside = |t: &&Text| t.y >= b.y - 1.0 && t.y <= b.y + b.h + 1.0;
            let labels: Vec<&Text> = texts
                .iter()
                .filter(|t| t.anchor == "end" && t.x < left && !t.content.is_empty())
                .filter(beside)
                .collect();
            assert_eq!(
                labels.len(),
                1,
                "the bar at y {cy} has labels {labels:?} beside it"
            );
            let end = b.x + b.w;
            let printed = texts
                .iter()
                .filter(|t| t.anchor == "start" && (t.x - end).abs() <= 3.0)
                .find(beside)
                .map(|t| t.content.clone());
            ReadBar {
                label: labels[0].content.clone(),
                printed,
                by_length: (end - zero) / per_unit,
                series: String::new(),
            }
        })
        .collect()
}

/// A vertical (grouped) bar chart read left to right: each bar with the category label under
/// it and the legend entry of its colour.
pub fn read_vertical(svg: &str) -> Vec<ReadBar> {
    let (texts, rects) = elements(svg);
    // The legend box: a white box that is not the background at the origin.
    let legend = rects
        .iter()
        .find(|r| is_box(r) && (r.x > 0.0 || r.y > 0.0))
        .cloned();
    let in_legend = |x: f64, y: f64| legend.as_ref().is_some_and(|l| l.contains(x, y));
    let swatches: Vec<&Rect> = rects
        .iter()
        .filter(|r| !is_box(r) && in_legend(r.x, r.y))
        .collect();
    let series_of = |fill: &str| -> String {
        let Some(s) = swatches.iter().find(|s| s.fill == fill) else {
            return String::new();
        };
        texts
            .iter()
            .filter(|t| in_legend(t.x, t.y) && t.x > s.x)
            .min_by(|a, b| (a.y - s.y).abs().total_cmp(&(b.y - s.y).abs()))
            .map(|t| t.content.clone())
            .unwrap_or_default()
    };
    let mut bars: Vec<&Rect> = rects
        .iter()
        .filter(|r| !is_box(r) && !in_legend(r.x, r.y) && r.opacity > 0.5)
        .collect();
    bars.sort_by(|a, b| a.x.total_cmp(&b.x));
    assert!(!bars.is_empty(), "a chart with no bars");
    let base = bars.iter().map(|b| b.y + b.h).fold(0.0, f64::max);
    let left = bars.iter().map(|b| b.x).fold(f64::MAX, f64::min);
    let mut ticks: Vec<(f64, f64)> = texts
        .iter()
        .filter(|t| t.anchor == "end" && t.x < left)
        .filter_map(|t| parse_short(&t.content).map(|v| (t.y, v)))
        .collect();
    ticks.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (zero, per_unit) = axis_scale(&ticks);
    let categories: Vec<&Text> = texts
        .iter()
        .filter(|t| t.y > base && !t.content.is_empty() && !in_legend(t.x, t.y))
        .filter(|t| t.anchor == "middle" || t.anchor == "start")
        .collect();
    // Categories are evenly spaced: a bar belongs to the label whose slot holds its centre.
    let mut xs: Vec<f64> = categories.iter().map(|t| t.x).collect();
    xs.sort_by(|a, b| a.total_cmp(b));
    let slot = if xs.len() > 1 {
        (xs[xs.len() - 1] - xs[0]) / (xs.len() - 1) as f64
    } else {
        f64::MAX
    };
    bars.iter()
        .map(|b| {
            let (cx, _) = b.center();
            let under: Vec<&&Text> = categories
                .iter()
                .filter(|t| (t.x - cx).abs() < slot / 2.0)
                .collect();
            assert_eq!(
                under.len(),
                1,
                "the bar at x {cx} has labels {under:?} under it"
            );
            ReadBar {
                label: under[0].content.clone(),
                printed: None,
                by_length: (b.y - zero) / per_unit,
                series: series_of(&b.fill),
            }
        })
        .collect()
}

/// Checks bars read from a chart against the expected (label, value) pairs, in order: the
/// same labels (a long label may be shortened with an ellipsis), each bar's length within a
/// pixel and a half of its value, and the printed number (when the chart prints one) equal to
/// it.
pub fn assert_bars(chart: &str, read: &[ReadBar], want: &[(String, f64)]) {
    let labels: Vec<&str> = read.iter().map(|b| b.label.as_str()).collect();
    assert_eq!(
        read.len(),
        want.len(),
        "{chart}: bars {labels:?}, expected {want:?}"
    );
    let max = want.iter().map(|w| w.1).fold(0.0, f64::max).max(1e-12);
    for (bar, (label, value)) in read.iter().zip(want) {
        let same = match bar.label.strip_suffix('…') {
            Some(prefix) => label.starts_with(prefix),
            None => &bar.label == label,
        };
        assert!(
            same,
            "{chart}: the bar labelled {:?} stands where {label:?} should ({labels:?})",
            bar.label
        );
        // Lengths are whole pixels on an axis of a few hundred: 1% of the largest value.
        assert!(
            (bar.by_length - value).abs() <= max * 0.012,
            "{chart}: the bar of {label:?} is as long as {:.3}, its value is {value}",
            bar.by_length
        );
        if let Some(p) = &bar.printed {
            assert!(
                prints(p, *value),
                "{chart}: the bar of {label:?} prints {p}, its value is {value}"
            );
        }
    }
}

/// Checks the bars of a grouped chart, category by category and series by series within
/// each (left to right), against (category, series, value).
pub fn assert_grouped(chart: &str, read: &[ReadBar], want: &[(String, String, f64)]) {
    let seen: Vec<(&str, &str)> = read
        .iter()
        .map(|b| (b.label.as_str(), b.series.as_str()))
        .collect();
    assert_eq!(
        read.len(),
        want.len(),
        "{chart}: bars {seen:?}, expected {want:?}"
    );
    let max = want.iter().map(|w| w.2).fold(0.0, f64::max).max(1e-12);
    for (bar, (category, series, value)) in read.iter().zip(want) {
        assert_eq!(
            (bar.label.as_str(), bar.series.as_str()),
            (category.as_str(), series.as_str()),
            "{chart}: bars in the wrong place ({seen:?})"
        );
        assert!(
            (bar.by_length - value).abs() <= max * 0.012,
            "{chart}: the {series} bar of {category:?} is as tall as {:.4}, its value is {value}",
            bar.by_length
        );
    }
}

#[test]
fn short_numbers_read_back() {
    assert_eq!(parse_short("1.23M"), Some(1.23e6));
    assert_eq!(parse_short("12.3k"), Some(12300.0));
    assert!(prints("551", 551.0));
    assert!(!prints("126", 551.0));
    assert!(prints("32.51M", 32_512_345.0));
    assert!(prints("0.250", 0.25));
}
