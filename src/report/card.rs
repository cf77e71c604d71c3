//! The sections of a data card, built from a run's facts: funnel, drops, languages, quality,
//! dedup, decontamination, blend, throughput. A section whose records are absent is left out.

use anyhow::Result;

use super::charts::{grouped_bars, horizontal_bars, short_number, Series};
use super::facts::{RunFacts, SpecFacts};
use super::render::{Chart, Section, Table};
use crate::stages::quality::SCORE_BINS;

fn count(n: u64) -> String {
    // 1234567 → "1,234,567": tables give exact counts, charts the short form.
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count with its noun in agreement: "1 document", "2,345 documents".
fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", count(n), if n == 1 { one } else { many })
}

/// "was" or "were" for a count.
fn was(n: u64) -> &'static str {
    if n == 1 {
        "was"
    } else {
        "were"
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn percent(part: f64, whole: f64) -> String {
    if whole <= 0.0 {
        "–".into()
    } else {
        format!("{:.1}%", 100.0 * part / whole)
    }
}

fn chart(stem: &str, svg: Result<String>) -> Result<Chart> {
    Ok(Chart {
        stem: stem.to_string(),
        svg: svg?,
    })
}

/// The card's lines under the title.
pub fn summary(facts: &RunFacts) -> Vec<String> {
    let mut lines = vec![format!(
        "Made by sieve {} from the records of the run directory `{}` ({}).",
        env!("CARGO_PKG_VERSION"),
        facts.name,
        counted(facts.stats.shards, "input shard", "input shards")
    )];
    if let (Some(first), Some(last)) = (facts.stats.stages.first(), facts.stats.stages.last()) {
        let mut line = format!(
            "{} read, {} kept ({} of the records; {:.2} MB of UTF-8 text)",
            counted(first.docs_in, "record", "records"),
            counted(last.docs_out, "document", "documents"),
            percent(last.docs_out as f64, first.docs_in as f64),
            last.bytes_out as f64 / 1e6
        );
        if let Some(tokens) = facts.total_tokens() {
            line.push_str(&format!(", {}", counted(tokens, "token", "tokens")));
        }
        line.push('.');
        lines.push(line);
    }
    lines
}

pub fn sections(facts: &RunFacts, spec: &SpecFacts) -> Result<Vec<Section>> {
    let mut out = vec![funnel(facts)?];
    out.extend(drops(facts)?);
    out.extend(languages(facts, spec)?);
    out.extend(quality(facts, spec)?);
    out.extend(dedup(facts)?);
    out.extend(paragraphs(facts));
    out.extend(decontam(facts)?);
    out.extend(blend(facts)?);
    out.extend(throughput(facts)?);
    Ok(out)
}

fn funnel(facts: &RunFacts) -> Result<Section> {
    let stages = &facts.stats.stages;
    let read = stages.first().map_or(0, |s| s.docs_in) as f64;
    let mut table = Table::new(&["step", "documents in", "documents out", "kept", "MB out"]);
    let mut bars = Vec::new();
    if let Some(first) = stages.first() {
        bars.push(("records read".to_string(), first.docs_in as f64));
    }
    for s in stages {
        table.row(vec![
            s.name.clone(),
            count(s.docs_in),
            count(s.docs_out),
            percent(s.docs_out as f64, s.docs_in as f64),
            format!("{:.2}", s.bytes_out as f64 / 1e6),
        ]);
        bars.push((format!("after {}", s.name), s.docs_out as f64));
    }
    let mut text = vec![format!(
        "Documents through each step of the pipeline, from the records read to the documents \
         written ({} of the records remain). MB are of UTF-8 text.",
        percent(stages.last().map_or(0, |s| s.docs_out) as f64, read)
    )];
    let mut tables = vec![table];
    if let Some(t) = &facts.tokens {
        let mut tokens = Table::new(&["dataset", "documents", "tokens", "tokens per document"]);
        for (name, d) in &t.datasets {
            tokens.row(vec![
                name.clone(),
                count(d.documents),
                count(d.tokens),
                format!("{:.0}", d.tokens as f64 / d.documents.max(1) as f64),
            ]);
        }
        text.push(format!(
            "Tokenized with {} ({}): {}, {}.",
            t.tokenizer.name,
            t.tokenizer.encoding,
            counted(
                t.datasets.values().map(|d| d.documents).sum(),
                "document",
                "documents"
            ),
            counted(facts.total_tokens().unwrap_or(0), "token", "tokens")
        ));
        tables.push(tokens);
    }
    Ok(Section {
        id: "funnel".into(),
        title: "Funnel".into(),
        text,
        charts: vec![chart(
            "funnel",
            horizontal_bars("Documents after each step", "documents", &bars),
        )?],
        tables,
    })
}

fn drops(facts: &RunFacts) -> Result<Option<Section>> {
    let mut rows: Vec<(String, String, &str, u64, u64)> = Vec::new();
    for s in &facts.stats.stages {
        for (reason, n) in &s.dropped {
            rows.push((s.name.clone(), reason.clone(), "dropped", *n, s.docs_in));
        }
        for (kind, n) in &s.errors {
            rows.push((s.name.clone(), kind.clone(), "error", *n, s.docs_in));
        }
    }
    if rows.is_empty() {
        return Ok(None);
    }
    let mut table = Table::new(&["step", "reason", "kind", "documents", "of the step's input"]);
    for (stage, reason, kind, n, input) in &rows {
        table.row(vec![
            stage.clone(),
            reason.clone(),
            kind.to_string(),
            count(*n),
            percent(*n as f64, *input as f64),
        ]);
    }
    let mut bars: Vec<(String, f64)> = rows
        .iter()
        .map(|(stage, reason, _, n, _)| (format!("{stage}: {reason}"), *n as f64))
        .collect();
    bars.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    bars.truncate(20);
    Ok(Some(Section {
        id: "drops".into(),
        title: "Drops by step and reason".into(),
        text: vec![
            "Documents removed on purpose (dropped) and records that could not be processed \
             (errors), by the step that removed them. With `write_rejected`, every dropped \
             document is kept with its reason in the run's `rejected/` directory."
                .into(),
        ],
        charts: vec![chart(
            "drops",
            horizontal_bars("Largest reasons", "documents", &bars),
        )?],
        tables: vec![table],
    }))
}

fn languages(facts: &RunFacts, spec: &SpecFacts) -> Result<Option<Section>> {
    let Some(langs) = facts
        .stats
        .stage("langid")
        .and_then(|s| s.tallies.get("lang"))
    else {
        return Ok(None);
    };
    let total: u64 = langs.values().sum();
    let mut sorted: Vec<(&String, &u64)> = langs.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut table = Table::new(&["language", "documents", "share", "kept by the spec"]);
    for (lang, n) in &sorted {
        let kept = spec.langid_keep.is_empty() || spec.langid_keep.contains(lang);
        table.row(vec![
            lang.to_string(),
            count(**n),
            percent(**n as f64, total as f64),
            if kept { "yes" } else { "no" }.into(),
        ]);
    }
    let shown = 20;
    let mut bars: Vec<(String, f64)> = sorted
        .iter()
        .take(shown)
        .map(|(l, n)| (l.to_string(), **n as f64))
        .collect();
    if sorted.len() > shown {
        let rest: u64 = sorted[shown..].iter().map(|(_, n)| **n).sum();
        bars.push((format!("{} others", sorted.len() - shown), rest as f64));
    }
    let keep = if spec.langid_keep.is_empty() {
        "every language".to_string()
    } else {
        spec.langid_keep.join(", ")
    };
    Ok(Some(Section {
        id: "languages".into(),
        title: "Languages".into(),
        text: vec![format!(
            "The language identified for {} the langid step saw ({}); the spec keeps {keep}.",
            if total == 1 {
                "the 1 document".to_string()
            } else {
                format!("each of the {} documents", count(total))
            },
            match spec.langid_min_score {
                Some(m) if m > 0.0 => format!(
                    "documents identified with a confidence below {m} are dropped as \
                     lang_low_score"
                ),
                _ => "no minimum confidence".to_string(),
            }
        )],
        charts: vec![chart(
            "languages",
            horizontal_bars("Documents by identified language", "documents", &bars),
        )?],
        tables: vec![table],
    }))
}

fn quality(facts: &RunFacts, spec: &SpecFacts) -> Result<Option<Section>> {
    let Some(stage) = facts.stats.stage("quality") else {
        return Ok(None);
    };
    let Some(scored) = stage.tallies.get("score") else {
        return Ok(None);
    };
    let empty = Default::default();
    let kept = stage.tallies.get("score_kept").unwrap_or(&empty);
    let width = 1.0 / SCORE_BINS as f64;
    let bins: Vec<String> = (0..SCORE_BINS)
        .map(|i| format!("{:.2}", i as f64 * width))
        .collect();
    let all: Vec<f64> = bins
        .iter()
        .map(|b| *scored.get(b).unwrap_or(&0) as f64)
        .collect();
    let kept_counts: Vec<f64> = bins
        .iter()
        .map(|b| *kept.get(b).unwrap_or(&0) as f64)
        .collect();
    // P(keep | s) = (2 − s)^(−α) for the Pareto filter, taken at each bin's middle.
    let expected: Option<Vec<f64>> = spec.quality_alpha.map(|alpha| {
        (0..SCORE_BINS)
            .map(|i| (2.0 - (i as f64 + 0.5) * width).powf(-alpha))
            .collect()
    });
    let mut header = vec!["score", "scored", "kept", "kept share"];
    if expected.is_some() {
        header.push("Pareto keep probability");
    }
    let mut table = Table::new(&header);
    for i in 0..SCORE_BINS {
        if all[i] == 0.0 {
            continue;
        }
        let mut row = vec![
            format!("{} – {:.2}", bins[i], (i + 1) as f64 * width),
            count(all[i] as u64),
            count(kept_counts[i] as u64),
            percent(kept_counts[i], all[i]),
        ];
        if let Some(e) = &expected {
            row.push(format!("{:.1}%", 100.0 * e[i]));
        }
        table.row(row);
    }
    let line = expected.as_ref().map(|e| Series {
        name: "expected kept (Pareto)".into(),
        values: e.iter().zip(&all).map(|(p, n)| p * n).collect(),
    });
    let rule = match (spec.quality_alpha, spec.quality_threshold) {
        (Some(a), _) => format!(
            "a document is kept when a Pareto(α = {a}) draw exceeds 1 − score, i.e. with \
             probability (2 − score)^−{a}"
        ),
        (None, Some(t)) => format!("a document is kept when its score is at least {t}"),
        (None, None) => "the spec's rule".into(),
    };
    let total: f64 = all.iter().sum();
    let kept_total: f64 = kept_counts.iter().sum();
    Ok(Some(Section {
        id: "quality".into(),
        title: "Quality scores".into(),
        text: vec![format!(
            "The classifier's probability of high quality, in bins of {width:.2}, for {}; \
             {rule}. {} of them {} kept ({}).",
            counted(total as u64, "document scored", "documents scored"),
            count(kept_total as u64),
            was(kept_total as u64),
            percent(kept_total, total)
        )],
        charts: vec![chart(
            "quality",
            grouped_bars(
                "Quality score histogram",
                "documents",
                &bins,
                &[
                    Series {
                        name: "scored".into(),
                        values: all,
                    },
                    Series {
                        name: "kept".into(),
                        values: kept_counts,
                    },
                ],
                line.as_ref(),
            ),
        )?],
        tables: vec![table],
    }))
}

fn dedup(facts: &RunFacts) -> Result<Vec<Section>> {
    let mut out = Vec::new();
    for (stage, r, config) in &facts.dedup {
        let mut sizes: Vec<(&String, &u64)> = r.size_histogram.iter().collect();
        // "2", "3-4", "5-8", …: by the lower end of each range.
        sizes.sort_by_key(|(k, _)| {
            k.split('-')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(u64::MAX)
        });
        let categories: Vec<String> = sizes.iter().map(|(k, _)| k.to_string()).collect();
        let values: Vec<f64> = sizes.iter().map(|(_, v)| **v as f64).collect();
        let mut largest = Table::new(&["size", "kept copy", "its dataset", "copies by dataset"]);
        for c in r.largest.iter().take(10) {
            let by: Vec<String> = c.datasets.iter().map(|(d, n)| format!("{d} {n}")).collect();
            largest.row(vec![
                count(c.size),
                c.representative.clone(),
                c.representative_dataset.clone(),
                by.join(", "),
            ]);
        }
        let mut removed = Table::new(&["removed from", "documents", "of the dataset"]);
        for (d, n) in &r.removed_by_dataset {
            let of = *r.documents_by_dataset.get(d).unwrap_or(&0) as f64;
            removed.row(vec![d.clone(), count(*n), percent(*n as f64, of)]);
        }
        let kinds: Vec<String> = r
            .removed_by_kind
            .iter()
            .map(|(k, n)| match k.as_str() {
                "exact" => counted(*n, "exact copy", "exact copies"),
                "url" => counted(*n, "copy by URL", "copies by URL"),
                "fuzzy" => counted(*n, "near duplicate", "near duplicates"),
                other => format!("{} by {other}", count(*n)),
            })
            .collect();
        let mut charts = Vec::new();
        if !categories.is_empty() {
            charts.push(chart(
                &format!("{stage}-components"),
                grouped_bars(
                    "Duplicate groups by size",
                    "groups",
                    &categories,
                    &[Series {
                        name: "groups".into(),
                        values,
                    }],
                    None,
                ),
            )?);
        }
        out.push(Section {
            id: stage.clone(),
            title: format!("Deduplication ({stage})"),
            text: vec![format!(
                "{} compared; {} of duplicates {} {}, of which {} {} removed ({}), one copy \
                 kept per group by dataset priority.{}",
                counted(r.documents, "document", "documents"),
                counted(r.components, "group", "groups"),
                if r.components == 1 { "holds" } else { "hold" },
                counted(r.documents_in_components, "document", "documents"),
                count(r.removed),
                was(r.removed),
                if kinds.is_empty() {
                    "none".into()
                } else {
                    kinds.join(", ")
                },
                match config {
                    Some(c) => format!(
                        " Near duplicates are pairs whose {} shingle sets have a Jaccard \
                         similarity of at least {}, found by MinHash LSH ({} hashes in {} bands \
                         of {} rows).",
                        shingles(&c.shingling),
                        c.threshold,
                        c.num_perm(),
                        c.bands,
                        c.rows
                    ),
                    None => String::new(),
                }
            )],
            charts,
            tables: vec![largest, removed],
        });
        let section = out.last_mut().expect("pushed above");
        if !r.against.is_empty() {
            let mut against = Table::new(&[
                "checked against index",
                "generation",
                "indexed documents",
                "removed as their duplicates",
            ]);
            for a in &r.against {
                let removed = r.removed_by_index.get(&a.path).copied().unwrap_or(0);
                against.row(vec![
                    a.path.clone(),
                    count(a.generation as u64),
                    count(a.documents),
                    count(removed),
                ]);
            }
            let removed: u64 = r.removed_by_index.values().sum();
            let indexed: u64 = r.against.iter().map(|a| a.documents).sum();
            section.text.push(format!(
                "The documents were also checked against {} kept by earlier runs: {} of them {} removed as duplicates of an indexed document, counted in the removals above.",
                counted(indexed, "indexed document", "indexed documents"),
                count(removed),
                was(removed),
            ));
            section.tables.push(against);
        }
        if let Some(index) = config.as_ref().and_then(|c| c.write_index.as_ref()) {
            section.text.push(format!(
                "The documents kept were added to the dedup index {} for later runs.",
                index.display()
            ));
        }
    }
    Ok(out)
}

fn paragraphs(facts: &RunFacts) -> Option<Section> {
    let r = facts.paragraphs.as_ref()?;
    let mut top = Table::new(&["repeated unit", "copies", "documents"]);
    for t in r.top.iter().take(15) {
        let text: String = if t.text.chars().count() > 120 {
            t.text.chars().take(117).collect::<String>() + "…"
        } else {
            t.text.clone()
        };
        top.row(vec![text, count(t.copies), count(t.documents)]);
    }
    let rules = match &r.settings {
        Some(o) => format!(
            " Units are {}s of at least {} normalised characters; {} repeated unit {}; one seen more than {} times goes everywhere; a document left with fewer than {} characters is dropped.",
            match o.split {
                crate::paragraphs::units::Split::Line => "line",
                crate::paragraphs::units::Split::Paragraph => "paragraph",
            },
            o.min_unit_chars,
            match o.keep {
                crate::paragraphs::options::Keep::First => "the first copy of a",
                crate::paragraphs::options::Keep::None => "no copy of a",
            },
            "stays",
            o.max_copies,
            o.min_doc_chars
        ),
        None => String::new(),
    };
    Some(Section {
        id: "paragraph-dedup".into(),
        title: "Repeated paragraphs".into(),
        text: vec![format!(
            "{} in {} were compared; {} distinct {} more than once, and {} copies were removed: {} of the text.{rules}",
            counted(r.matched_units, "unit", "units"),
            counted(r.documents, "document", "documents"),
            count(r.repeated_units),
            if r.repeated_units == 1 { "one occurs" } else { "ones occur" },
            count(r.removed_units),
            percent(r.removed_bytes as f64, r.bytes as f64),
        )],
        charts: Vec::new(),
        tables: vec![top],
    })
}

fn decontam(facts: &RunFacts) -> Result<Option<Section>> {
    let Some(d) = &facts.decontam else {
        return Ok(None);
    };
    let mut table = Table::new(&["task", "matches"]);
    let mut bars = Vec::new();
    for (task, n) in &d.matches_by_task {
        table.row(vec![task.clone(), count(*n)]);
        bars.push((task.clone(), *n as f64));
    }
    bars.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut charts = Vec::new();
    if !bars.is_empty() {
        charts.push(chart(
            "decontam",
            horizontal_bars("Task n-gram matches by task", "matches", &bars),
        )?);
    }
    Ok(Some(Section {
        id: "decontam".into(),
        title: "Decontamination".into(),
        text: vec![format!(
            "{} of downstream-task n-grams{}; {} cut around {} ({} kept as pieces, {} dropped \
             for too many pieces, {} with nothing left).",
            counted(d.matches, "match", "matches"),
            match &facts.decontam_config {
                Some(c) => format!(
                    " ({}-grams of words, {} characters removed on each side, pieces of at most \
                     {} characters dropped, documents in more than {} pieces dropped)",
                    if c.min_ngram == c.max_ngram {
                        c.max_ngram.to_string()
                    } else {
                        format!("{}- to {}", c.min_ngram, c.max_ngram)
                    },
                    c.rules.context_chars,
                    c.rules.min_piece_chars,
                    c.rules.max_pieces
                ),
                None => String::new(),
            },
            counted(d.documents_cut, "document", "documents"),
            if d.matches == 1 { "it" } else { "them" },
            count(d.documents_split),
            count(d.documents_dropped_too_many_pieces),
            count(d.documents_dropped_nothing_left)
        )],
        charts,
        tables: vec![table],
    }))
}

fn blend(facts: &RunFacts) -> Result<Option<Section>> {
    let Some(b) = &facts.blend else {
        return Ok(None);
    };
    let train_samples: u64 = b
        .datasets
        .iter()
        .filter_map(|d| d.splits.get("train"))
        .map(|s| s.samples)
        .sum();
    let mut table = Table::new(&[
        "dataset",
        "weight",
        "realised share",
        "tokens",
        "train samples",
        "epochs",
    ]);
    let mut names = Vec::new();
    let mut weights = Vec::new();
    let mut shares = Vec::new();
    for d in &b.datasets {
        let train = d.splits.get("train");
        let samples = train.map_or(0, |s| s.samples);
        let share = samples as f64 / train_samples.max(1) as f64;
        table.row(vec![
            d.name.clone(),
            format!("{:.4}", d.normalized_weight),
            format!("{share:.4}"),
            count(d.tokens),
            count(samples),
            train.map_or("–".into(), |s| format!("{:.2}", s.epochs)),
        ]);
        names.push(d.name.clone());
        weights.push(d.normalized_weight);
        shares.push(share);
    }
    Ok(Some(Section {
        id: "blend".into(),
        title: "Blend".into(),
        text: vec![format!(
            "The training blend: {} of {} (train, validation and test split {}). The realised share is the \
             fraction of training samples drawn from each dataset; epochs are how many times \
             its training tokens are seen.",
            counted(train_samples, "sample", "samples"),
            counted(b.seq_length as u64, "token", "tokens"),
            b.split
        )],
        charts: vec![chart(
            "blend",
            grouped_bars(
                "Blend weights and realised shares",
                "share of samples",
                &names,
                &[
                    Series {
                        name: "weight".into(),
                        values: weights,
                    },
                    Series {
                        name: "realised share".into(),
                        values: shares,
                    },
                ],
                None,
            ),
        )?],
        tables: vec![table],
    }))
}

fn throughput(facts: &RunFacts) -> Result<Option<Section>> {
    if facts.steps.is_empty() {
        return Ok(None);
    }
    let mut table = Table::new(&[
        "step",
        "tasks",
        "attempts",
        "wall s",
        "CPU s",
        "input",
        "per CPU second",
    ]);
    // One chart per unit: steps that read documents and steps that write tokens are not
    // measured on the same axis.
    let mut bars_by_unit: Vec<(&'static str, Vec<(String, f64)>)> = Vec::new();
    let mut cpu_total = 0.0;
    for s in &facts.steps {
        cpu_total += s.cpu_seconds;
        let input = facts.step_input(&s.step);
        let rate = input.filter(|_| s.cpu_seconds > 0.0).map(|(n, unit)| {
            let r = n / s.cpu_seconds;
            match bars_by_unit.iter_mut().find(|(u, _)| *u == unit) {
                Some((_, bars)) => bars.push((s.step.clone(), r)),
                None => bars_by_unit.push((unit, vec![(s.step.clone(), r)])),
            }
            format!("{} {unit}", short_number(r))
        });
        table.row(vec![
            s.step.clone(),
            s.tasks.to_string(),
            s.attempts.to_string(),
            format!("{:.2}", s.wall_seconds),
            format!("{:.2}", s.cpu_seconds),
            input.map_or("–".into(), |(n, unit)| {
                format!("{} {unit}", count(n as u64))
            }),
            rate.unwrap_or_else(|| "–".into()),
        ]);
    }
    let mut charts = Vec::new();
    for (unit, bars) in &bars_by_unit {
        let title = format!("{} per CPU second", capitalized(unit));
        charts.push(chart(
            &format!("throughput-{unit}"),
            horizontal_bars(&title, &format!("{unit} per CPU second"), bars),
        )?);
    }
    Ok(Some(Section {
        id: "throughput".into(),
        title: "Throughput".into(),
        text: vec![format!(
            "Measured times of each step ({:.1} CPU seconds in all), summed over its tasks and \
             over the attempts that finished. These are measurements of the machines that ran \
             the steps, unlike the rest of the card, which is the same on every re-run.",
            cpu_total
        )],
        charts,
        tables: vec![table],
    }))
}

/// `char:5` as "5-character", `word:5` as "5-word".
fn shingles(s: &crate::dedup::shingle::Shingling) -> String {
    match s {
        crate::dedup::shingle::Shingling::Chars(n) => format!("{n}-character"),
        crate::dedup::shingle::Shingling::Words(n) => format!("{n}-word"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(counted(1, "match", "matches"), "1 match");
        assert_eq!(counted(0, "match", "matches"), "0 matches");
        assert_eq!(counted(1234, "document", "documents"), "1,234 documents");
        assert_eq!(was(1), "was");
        assert_eq!(was(2), "were");
        assert_eq!(capitalized("tokens"), "Tokens");
    }

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(percent(1.0, 3.0), "33.3%");
        assert_eq!(percent(1.0, 0.0), "–");
    }
}
