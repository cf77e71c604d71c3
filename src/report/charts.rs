//! The data card's charts as SVG text, drawn with plotters' SVG backend: no fonts to load,
//! no raster images, nothing fetched when the page opens.

use anyhow::{anyhow, Result};
use plotters::prelude::*;

/// Colours of the series, in order (a palette that stays distinct in grey print).
pub const PALETTE: [RGBColor; 4] = [
    RGBColor(0x35, 0x6a, 0xb3),
    RGBColor(0xe0, 0x8a, 0x2c),
    RGBColor(0x9a, 0xa5, 0xb1),
    RGBColor(0x3a, 0x9a, 0x5b),
];

const FONT: &str = "sans-serif";
const WIDTH: u32 = 760;

fn draw_err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("cannot draw chart: {e}")
}

/// Text as plotters writes it into SVG: it does not escape markup, so the few characters
/// that would break the document are replaced by look-alikes.
fn svg_safe(label: &str) -> String {
    label
        .chars()
        .map(|c| match c {
            '<' => '‹',
            '>' => '›',
            '&' => '+',
            '"' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// Long labels shortened to `max` characters with an ellipsis.
fn clip(label: &str, max: usize) -> String {
    let safe = svg_safe(label);
    if safe.chars().count() <= max {
        return safe;
    }
    let mut s: String = safe.chars().take(max - 1).collect();
    s.push('…');
    s
}

/// The discrete range whose segments hold `n` bars. A discrete range holds both its ends, so
/// 0..n − 1 is n segments; a single segment cannot be drawn, so one bar gets an empty second.
fn segments(n: usize) -> std::ops::Range<usize> {
    0..(n - 1).max(1)
}

/// A tick of a value axis: whole counts on a count axis, else a short number.
fn value_tick(counts: bool, v: f64) -> String {
    if counts {
        count_tick(v)
    } else {
        short_number(v)
    }
}

/// Tick labels of an axis of counts: whole numbers only (no "0.500 documents").
fn count_tick(v: f64) -> String {
    // Tick positions are sums of decimal steps: 1.0000000000000002 is the tick at 1.
    let whole = v.round();
    if (v - whole).abs() <= 1e-9 * whole.abs().max(1.0) {
        short_number(whole)
    } else {
        String::new()
    }
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        1.0
    } else {
        v * 1.08
    }
}

/// A horizontal bar chart: one bar per (label, value), top to bottom, the value printed at
/// the end of each bar.
pub fn horizontal_bars(title: &str, x_desc: &str, bars: &[(String, f64)]) -> Result<String> {
    let n = bars.len().max(1);
    let height = 70 + 24 * n as u32;
    let labels: Vec<String> = bars.iter().map(|(l, _)| clip(l, 34)).collect();
    let max = nice_max(bars.iter().map(|(_, v)| *v).fold(0.0, f64::max));
    let counts = bars.iter().all(|(_, v)| v.fract() == 0.0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(svg_safe(title), (FONT, 17))
            .margin(8)
            .margin_right(60)
            .x_label_area_size(34)
            .y_label_area_size(230)
            .build_cartesian_2d(0f64..max, segments(n).into_segmented())
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            // Segments count from the bottom and bars are listed from the top: the label of
            // segment i is that of bar n − 1 − i, the row its bar is drawn in below.
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if *i < n => {
                    labels.get(n - 1 - *i).cloned().unwrap_or_default()
                }
                _ => String::new(),
            })
            .x_desc(svg_safe(x_desc))
            .x_label_formatter(&|v| value_tick(counts, *v))
            .label_style((FONT, 12))
            .draw()
            .map_err(draw_err)?;
        // Top to bottom: bar i sits in segment n − 1 − i.
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
                let row = n - 1 - i;
                let mut bar = Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(row)),
                        (*v, SegmentValue::Exact(row + 1)),
                    ],
                    PALETTE[0].filled(),
                );
                bar.set_margin(3, 3, 0, 0);
                bar
            }))
            .map_err(draw_err)?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
                Text::new(
                    short_number(*v),
                    (*v, SegmentValue::CenterOf(n - 1 - i)),
                    (FONT, 11).into_font().color(&BLACK),
                )
            }))
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// One series of a grouped bar chart.
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

/// Vertical bars, one group per category with one bar per series, and optionally a line
/// over the categories (an expectation to hold the bars against).
pub fn grouped_bars(
    title: &str,
    y_desc: &str,
    categories: &[String],
    series: &[Series],
    line: Option<&Series>,
) -> Result<String> {
    let n = categories.len().max(1);
    let k = series.len().max(1);
    let labels: Vec<String> = categories.iter().map(|c| clip(c, 14)).collect();
    // Headroom above the tallest bar for the legend in the upper right corner, so that it
    // never hides a bar.
    let max = 1.3
        * nice_max(
            series
                .iter()
                .chain(line)
                .flat_map(|s| s.values.iter().copied())
                .fold(0.0, f64::max),
        );
    let counts = series
        .iter()
        .flat_map(|s| s.values.iter())
        .all(|v| v.fract() == 0.0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 340)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(svg_safe(title), (FONT, 17))
            .margin(8)
            .x_label_area_size(if n > 8 { 52 } else { 34 })
            .y_label_area_size(64)
            .build_cartesian_2d(segments(n).into_segmented(), 0f64..max)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_label_style(if n > 8 {
                (FONT, 11).into_font().transform(FontTransform::Rotate90)
            } else {
                (FONT, 12).into_font()
            })
            .y_desc(svg_safe(y_desc))
            .y_label_formatter(&|v| value_tick(counts, *v))
            .label_style((FONT, 12))
            .draw()
            .map_err(draw_err)?;
        // A category is one segment of the x axis; its series share the segment's middle 80%,
        // placed in pixels (a segmented axis has no positions inside a segment).
        for (j, s) in series.iter().enumerate() {
            let color = PALETTE[j % PALETTE.len()];
            for (i, v) in s.values.iter().enumerate() {
                let (x0, base) = chart.backend_coord(&(SegmentValue::Exact(i), 0.0));
                let (x1, top) = chart.backend_coord(&(SegmentValue::Exact(i + 1), *v));
                let slot = (x1 - x0) as f64 * 0.8 / k as f64;
                let left = x0 as f64 + (x1 - x0) as f64 * 0.1 + j as f64 * slot;
                let bar = Rectangle::new(
                    [
                        (left.round() as i32, top),
                        ((left + slot * 0.92).round() as i32, base),
                    ],
                    color.filled(),
                );
                root.draw(&bar).map_err(draw_err)?;
            }
            chart
                .draw_series(std::iter::empty::<Circle<(SegmentValue<usize>, f64), i32>>())
                .map_err(draw_err)?
                .label(svg_safe(&s.name))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        if let Some(l) = line {
            let color = RGBColor(0xc0, 0x39, 0x2b);
            chart
                .draw_series(LineSeries::new(
                    l.values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (SegmentValue::CenterOf(i), *v)),
                    color.stroke_width(2),
                ))
                .map_err(draw_err)?
                .label(svg_safe(&l.name))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 12, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 12))
            .draw()
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// 1234567 → "1.23M": axis ticks and bar labels stay short whatever the scale.
pub fn short_number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_their_labels_escaped() {
        let bars = vec![("a<b&c".to_string(), 3.0), ("plain".to_string(), 1200.0)];
        let svg = horizontal_bars("drops <by> reason", "documents", &bars).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..60]);
        assert!(
            svg.contains("a‹b+c") && svg.contains("plain"),
            "labels missing"
        );
        assert!(!svg.contains("a<b"), "unescaped markup in the SVG");
        let cats: Vec<String> = (0..3).map(|i| format!("c{i}")).collect();
        let s = Series {
            name: "kept".into(),
            values: vec![1.0, 2.0, 3.0],
        };
        let svg = grouped_bars("t", "docs", &cats, &[s], None).unwrap();
        assert!(svg.contains("c2") && svg.contains("kept"));
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(short_number(1_234_567.0), "1.23M");
        assert_eq!(short_number(12_345.0), "12.3k");
        assert_eq!(short_number(512.0), "512");
        assert_eq!(short_number(0.25), "0.250");
    }
}
