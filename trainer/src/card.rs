//! The training card: a run's metrics file as a page a person reads, made the way sieve's data
//! card is: `index.html` with the charts inline, `card.md` with the same summary as a table
//! and the charts as SVG files in `charts/`. The charts, each against the step: train and
//! validation loss, learning rate, gradient norm, tokens/s and MFU.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Context, Result};
use sieve_shards::atomic::AtomicFile;

use crate::metrics::Record;

/// The records of a metrics file (JSON lines, or CSV when the name ends in `.csv`), in step
/// order. A resumed run appends to its file: a step written twice keeps its last record.
pub fn read_metrics(path: &Path) -> Result<Vec<Record>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let csv = path.extension().is_some_and(|e| e == "csv");
    let mut by_step = std::collections::BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || (csv && n == 0) {
            continue;
        }
        let record = match csv {
            true => from_csv(line),
            false => serde_json::from_str(line).map_err(anyhow::Error::from),
        }
        .with_context(|| format!("{} line {}: not a metrics record", path.display(), n + 1))?;
        by_step.insert(record.step, record);
    }
    if by_step.is_empty() {
        bail!("{}: no metrics records", path.display());
    }
    Ok(by_step.into_values().collect())
}

/// A CSV line in `metrics::CSV_HEADER`'s order.
fn from_csv(line: &str) -> Result<Record> {
    let f: Vec<&str> = line.split(',').collect();
    if f.len() != 9 {
        bail!("{} fields, expected 9", f.len());
    }
    let num = |i: usize| -> Result<f64> { Ok(f[i].parse()?) };
    let opt = |i: usize| -> Result<Option<f64>> {
        Ok(match f[i] {
            "" => None,
            v => Some(v.parse()?),
        })
    };
    Ok(Record {
        step: f[0].parse()?,
        loss: num(1)?,
        lr: num(2)?,
        grad_norm: num(3)?,
        batch: f[4].parse()?,
        tokens_per_s: num(5)?,
        mfu: num(6)?,
        val_loss: opt(7)?,
        val_ppl: opt(8)?,
    })
}

/// One line of a chart; `dots` marks each point (for sparse series such as validation).
pub struct Series<'a> {
    pub name: &'a str,
    pub points: Vec<(f64, f64)>,
    pub dots: bool,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 44.0;
const COLOURS: [&str; 2] = ["#356ab3", "#e08a2c"];

/// A tick step of about a fifth of `span` from 1, 2 or 5 × 10ⁿ, and the decimals its labels
/// need.
fn tick_step(span: f64) -> (f64, usize) {
    let raw = span / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    (step, decimals)
}

/// The ticks of [lo, hi] (widened to whole steps), with their labels.
fn ticks(lo: f64, hi: f64) -> (f64, f64, Vec<(f64, String)>) {
    let (lo, hi) = match hi - lo > 0.0 {
        true => (lo, hi),
        false => (lo - lo.abs().max(1.0) * 0.5, hi + hi.abs().max(1.0) * 0.5),
    };
    let (step, decimals) = tick_step(hi - lo);
    let first = (lo / step).floor() as i64;
    let last = (hi / step).ceil() as i64;
    let ticks = (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            (v, format!("{v:.decimals$}"))
        })
        .collect();
    (first as f64 * step, last as f64 * step, ticks)
}

/// A line chart of `series` against the step, as SVG text: each series a `<polyline>` named
/// by its `data-series`, the axes' ticks labelled with their values.
pub fn line_chart(title: &str, y_label: &str, series: &[Series]) -> String {
    let all = || series.iter().flat_map(|s| s.points.iter());
    let (xs, ys): (Vec<f64>, Vec<f64>) = all().copied().unzip();
    let fold = |v: &[f64], f: fn(f64, f64) -> f64, start: f64| v.iter().copied().fold(start, f);
    let (x0, x1, x_ticks) = ticks(
        fold(&xs, f64::min, f64::INFINITY),
        fold(&xs, f64::max, f64::NEG_INFINITY),
    );
    let (y0, y1, y_ticks) = ticks(
        fold(&ys, f64::min, f64::INFINITY),
        fold(&ys, f64::max, f64::NEG_INFINITY),
    );
    let px = |x: f64| LEFT + (x - x0) / (x1 - x0) * (WIDTH - LEFT - RIGHT);
    let py = |y: f64| HEIGHT - BOTTOM - (y - y0) / (y1 - y0) * (HEIGHT - TOP - BOTTOM);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        svg,
        r#"<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="white"/><text class="title" x="{LEFT}" y="20" font-size="14">{}</text>"#,
        escape(title)
    );
    let (bottom, top) = (HEIGHT - BOTTOM, TOP);
    for (v, label) in &y_ticks {
        let y = py(*v);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.2}" x2="{:.2}" y2="{y:.2}" stroke="#e3e6ea"/><text class="y-tick" x="{:.2}" y="{y:.2}" text-anchor="end" dominant-baseline="middle">{label}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0
        );
    }
    for (v, label) in &x_ticks {
        let x = px(*v);
        let _ = write!(
            svg,
            r##"<line x1="{x:.2}" y1="{top}" x2="{x:.2}" y2="{bottom}" stroke="#f0f2f4"/><text class="x-tick" x="{x:.2}" y="{:.2}" text-anchor="middle">{label}</text>"##,
            bottom + 16.0
        );
    }
    let _ = write!(
        svg,
        r##"<text class="x-label" x="{:.2}" y="{:.2}" text-anchor="middle">step</text><text class="y-label" x="14" y="{:.2}" text-anchor="middle" transform="rotate(-90 14 {:.2})">{}</text>"##,
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 6.0,
        (top + bottom) / 2.0,
        (top + bottom) / 2.0,
        escape(y_label)
    );
    for (i, s) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let points: Vec<String> = s
            .points
            .iter()
            .map(|&(x, y)| format!("{:.3},{:.3}", px(x), py(y)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline data-series="{}" fill="none" stroke="{colour}" stroke-width="1.5" points="{}"/>"#,
            escape(s.name),
            points.join(" ")
        );
        if s.dots {
            for &(x, y) in &s.points {
                let _ = write!(
                    svg,
                    r#"<circle cx="{:.3}" cy="{:.3}" r="3" fill="{colour}"/>"#,
                    px(x),
                    py(y)
                );
            }
        }
        // The legend, top right, one entry per series.
        let ly = 14.0 + 14.0 * i as f64;
        let _ = write!(
            svg,
            r#"<rect x="{:.2}" y="{:.2}" width="10" height="10" fill="{colour}"/><text class="legend" x="{:.2}" y="{:.2}">{}</text>"#,
            WIDTH - RIGHT - 150.0,
            ly - 9.0,
            WIDTH - RIGHT - 135.0,
            ly,
            escape(s.name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The card's charts: (file stem, SVG).
pub fn charts(records: &[Record]) -> Vec<(&'static str, String)> {
    let over = |f: &dyn Fn(&Record) -> f64| -> Vec<(f64, f64)> {
        records.iter().map(|r| (r.step as f64, f(r))).collect()
    };
    let valid: Vec<(f64, f64)> = records
        .iter()
        .filter_map(|r| Some((r.step as f64, r.val_loss?)))
        .collect();
    let mut loss = vec![Series {
        name: "train loss",
        points: over(&|r| r.loss),
        dots: false,
    }];
    if !valid.is_empty() {
        loss.push(Series {
            name: "validation loss",
            points: valid,
            dots: true,
        });
    }
    let one = |name, f: &dyn Fn(&Record) -> f64| {
        vec![Series {
            name,
            points: over(f),
            dots: false,
        }]
    };
    vec![
        ("loss", line_chart("Loss", "cross-entropy (nats)", &loss)),
        (
            "lr",
            line_chart(
                "Learning rate",
                "learning rate",
                &one("learning rate", &|r| r.lr),
            ),
        ),
        (
            "grad_norm",
            line_chart(
                "Gradient norm (before clipping)",
                "global L2 norm",
                &one("gradient norm", &|r| r.grad_norm),
            ),
        ),
        (
            "tokens_per_s",
            line_chart(
                "Throughput",
                "tokens/s",
                &one("tokens/s", &|r| r.tokens_per_s),
            ),
        ),
        (
            "mfu",
            line_chart(
                "Model FLOPs utilisation",
                "% of the world's peak",
                &one("MFU", &|r| 100.0 * r.mfu),
            ),
        ),
    ]
}

/// The summary rows: (what, value as printed).
pub fn summary(records: &[Record]) -> Vec<(&'static str, String)> {
    let first = &records[0];
    let last = &records[records.len() - 1];
    let mean = |f: fn(&Record) -> f64| records.iter().map(f).sum::<f64>() / records.len() as f64;
    let mut rows = vec![
        ("steps", format!("{} to {}", first.step, last.step)),
        ("first train loss", format!("{:.4}", first.loss)),
        ("last train loss", format!("{:.4}", last.loss)),
    ];
    if let Some((step, v)) = records
        .iter()
        .rev()
        .find_map(|r| Some((r.step, r.val_loss?)))
    {
        rows.push((
            "last validation loss",
            format!("{v:.4} (perplexity {:.2}, step {step})", v.exp()),
        ));
    }
    rows.push(("mean tokens/s", format!("{:.0}", mean(|r| r.tokens_per_s))));
    rows.push(("mean MFU", format!("{:.2}%", 100.0 * mean(|r| r.mfu))));
    rows
}

/// Writes the card of the metrics file `metrics` into `out`.
pub fn write_card(metrics: &Path, out: &Path) -> Result<()> {
    let records = read_metrics(metrics)?;
    std::fs::create_dir_all(out.join("charts"))
        .with_context(|| format!("cannot create {}", out.display()))?;
    let charts = charts(&records);
    let rows = summary(&records);
    let source = metrics.display().to_string();
    let mut md = format!("# Training card\n\nFrom `{source}`.\n\n| | |\n|---|---|\n");
    let mut html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Training card</title></head><body style=\"font-family: sans-serif; max-width: 760px; margin: 2em auto\"><h1>Training card</h1><p>From <code>{}</code>.</p><table>",
        escape(&source)
    );
    for (what, value) in &rows {
        let _ = writeln!(md, "| {what} | {value} |");
        let _ = write!(
            html,
            "<tr><th style=\"text-align: left\">{what}</th><td>{}</td></tr>",
            escape(value)
        );
    }
    md.push('\n');
    html.push_str("</table>");
    for (stem, svg) in &charts {
        AtomicFile::write_all(&out.join(format!("charts/{stem}.svg")), svg.as_bytes())?;
        let _ = writeln!(md, "![{stem}](charts/{stem}.svg)\n");
        let _ = write!(html, "<figure>{svg}</figure>");
    }
    html.push_str("</body></html>\n");
    AtomicFile::write_all(&out.join("card.md"), md.as_bytes())?;
    AtomicFile::write_all(&out.join("index.html"), html.as_bytes())
}
