//! The training card, read back as a person reads it: each chart's line is mapped through the
//! values printed at its axis ticks, and every point must land on the value the metrics file
//! holds for that step; the summary's numbers are recomputed from the metrics file.

use crate::common;

/// `name="value"` of an SVG tag.
fn attr<'a>(tag: &'a str, name: &str) -> &'a str {
    let key = format!(" {name}=\"");
    let start = tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        + key.len();
    &tag[start..start + tag[start..].find('"').unwrap()]
}

/// Every `<tag …>` of the document (the text after a `<text …>` up to `</text>` included).
fn tags<'a>(svg: &'a str, name: &str) -> Vec<(&'a str, &'a str)> {
    let open = format!("<{name} ");
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(at) = rest.find(&open) {
        let tag_end = at + rest[at..].find('>').unwrap();
        let tag = &rest[at..=tag_end];
        let content = &rest[tag_end + 1..];
        let content = &content[..content.find('<').unwrap_or(0)];
        out.push((tag, content));
        rest = &rest[tag_end + 1..];
    }
    out
}

/// The axis of tick class `class`: value = a + b × position, from its first and last ticks.
fn axis(svg: &str, class: &str, coord: &str) -> (f64, f64) {
    let ticks: Vec<(f64, f64)> = tags(svg, "text")
        .into_iter()
        .filter(|(t, _)| attr(t, "class") == class)
        .map(|(t, c)| (attr(t, coord).parse().unwrap(), c.parse().unwrap()))
        .collect();
    assert!(ticks.len() >= 2, "{class}: {ticks:?}");
    let ((p0, v0), (p1, v1)) = (ticks[0], ticks[ticks.len() - 1]);
    let b = (v1 - v0) / (p1 - p0);
    (v0 - b * p0, b)
}

/// The points of series `name`, in data values, and the value a pixel is worth on the y axis.
fn series(svg: &str, name: &str) -> (Vec<(f64, f64)>, f64) {
    let (xa, xb) = axis(svg, "x-tick", "x");
    let (ya, yb) = axis(svg, "y-tick", "y");
    let line = tags(svg, "polyline")
        .into_iter()
        .find(|(t, _)| attr(t, "data-series") == name)
        .unwrap_or_else(|| panic!("no series {name}"))
        .0;
    let points = attr(line, "points")
        .split_whitespace()
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap();
            let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
            (xa + xb * x, ya + yb * y)
        })
        .collect();
    (points, yb.abs())
}

#[test]
fn the_training_card_draws_every_metric_where_the_metrics_file_puts_it() {
    let blend = common::sample_blend();
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("train.jsonl");
    let out = common::sieve_train()
        .args(["train", "-q", "--no-save", "--data"])
        .arg(&blend)
        .args([
            "--model",
            "tiny",
            "-j",
            "2",
            "--seq-len",
            "32",
            "--micro-batch",
            "2",
        ])
        .args([
            "--global-batch",
            "4",
            "--train-iters",
            "12",
            "--warmup-iters",
            "3",
        ])
        .args(["--lr", "3e-3", "--eval-interval", "4", "--eval-iters", "1"])
        .args(["--peak-flops", "1e9", "--metrics"])
        .arg(&metrics)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let card = dir.path().join("train-card");
    assert_eq!(summary["card"], card.to_str().unwrap());
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&metrics)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 12);
    let value = |r: &serde_json::Value, k: &str| r[k].as_f64().unwrap();

    for (file, title, series_name, key, scale) in [
        ("loss", "Loss", "train loss", "loss", 1.0),
        ("lr", "Learning rate", "learning rate", "lr", 1.0),
        (
            "grad_norm",
            "Gradient norm (before clipping)",
            "gradient norm",
            "grad_norm",
            1.0,
        ),
        (
            "tokens_per_s",
            "Throughput",
            "tokens/s",
            "tokens_per_s",
            1.0,
        ),
        ("mfu", "Model FLOPs utilisation", "MFU", "mfu", 100.0),
    ] {
        let svg = std::fs::read_to_string(card.join(format!("charts/{file}.svg"))).unwrap();
        assert!(svg.contains(&format!(">{title}</text>")), "{file}: title");
        let (points, per_pixel) = series(&svg, series_name);
        assert_eq!(points.len(), records.len(), "{file}: one point a step");
        for (p, r) in points.iter().zip(&records) {
            assert!((p.0 - value(r, "step")).abs() < 0.01, "{file}: step {p:?}");
            let want = scale * value(r, key);
            // Points are written to a thousandth of a pixel.
            assert!(
                (p.1 - want).abs() <= per_pixel * 0.002 + 1e-12,
                "{file}: {p:?} vs {want}"
            );
        }
    }
    // The validation points: steps 4, 8 and 12, dotted on the loss chart.
    let svg = std::fs::read_to_string(card.join("charts/loss.svg")).unwrap();
    let (points, per_pixel) = series(&svg, "validation loss");
    let valid: Vec<(f64, f64)> = records
        .iter()
        .filter(|r| !r["val_loss"].is_null())
        .map(|r| (value(r, "step"), value(r, "val_loss")))
        .collect();
    assert_eq!(
        valid.iter().map(|v| v.0).collect::<Vec<_>>(),
        [4.0, 8.0, 12.0]
    );
    for (p, v) in points.iter().zip(&valid) {
        assert!((p.0 - v.0).abs() < 0.01 && (p.1 - v.1).abs() <= per_pixel * 0.002 + 1e-12);
    }
    assert_eq!(tags(&svg, "circle").len(), 3);

    // The summary, from the metrics file.
    let md = std::fs::read_to_string(card.join("card.md")).unwrap();
    let last = &records[11];
    let mean = |k: &str| records.iter().map(|r| value(r, k)).sum::<f64>() / 12.0;
    for row in [
        "| steps | 1 to 12 |".to_string(),
        format!("| first train loss | {:.4} |", value(&records[0], "loss")),
        format!("| last train loss | {:.4} |", value(last, "loss")),
        format!(
            "| last validation loss | {:.4} (perplexity {:.2}, step 12) |",
            value(last, "val_loss"),
            value(last, "val_loss").exp()
        ),
        format!("| mean tokens/s | {:.0} |", mean("tokens_per_s")),
        format!("| mean MFU | {:.2}% |", 100.0 * mean("mfu")),
    ] {
        assert!(md.contains(&row), "{row} not in\n{md}");
    }
    let html = std::fs::read_to_string(card.join("index.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 5);
    assert!(html.contains(&format!("{:.4}", value(last, "loss"))));

    // The command makes the same card from the file.
    let again = dir.path().join("again");
    let o = common::sieve_train()
        .args(["card", "--metrics"])
        .arg(&metrics)
        .arg("--output")
        .arg(&again)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["card.md", "charts/loss.svg", "charts/mfu.svg"] {
        assert_eq!(
            std::fs::read(card.join(f)).unwrap(),
            std::fs::read(again.join(f)).unwrap()
        );
    }
}
