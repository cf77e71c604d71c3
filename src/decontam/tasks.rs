//! Task sets: which evaluation files to protect, and which fields of their records hold text.
//!
//! On the command line a task is `NAME=FILE[:FIELD[,FIELD...]]` (repeat a name to add files);
//! in a TOML task set (`--tasks TASKS.toml`, or a pipeline spec's `tasks` table):
//!
//! ```toml
//! [[task]]
//! name = "race"
//! paths = ["eval/race/race_high_test.jsonl.gz", "eval/race/race_middle_test.jsonl.gz"]
//! fields = ["article", "question", "options"]
//! ```
//!
//! Files are JSON lines (plain, gzip or zstd). A field is a dotted path into the record; a
//! string is one task text, an array gives one text per string in it, and `a+b` joins two
//! fields with a space (LAMBADA's passage is its `context` followed by its `continuation`).
//! Relative paths in a TOML file are relative to that file.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::ngrams::NgramIndex;
use crate::io::shards::open_decompressed;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    pub name: String,
    pub paths: Vec<PathBuf>,
    #[serde(default = "default_fields")]
    pub fields: Vec<String>,
}

fn default_fields() -> Vec<String> {
    vec!["text".into()]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskFile {
    task: Vec<TaskSpec>,
}

/// Parses `NAME=FILE[:FIELD[,FIELD...]]`.
pub fn parse_task_arg(arg: &str) -> Result<TaskSpec> {
    let Some((name, rest)) = arg.split_once('=') else {
        bail!("--task `{arg}`: expected NAME=FILE[:FIELD,...]");
    };
    if name.is_empty() || rest.is_empty() {
        bail!("--task `{arg}`: expected NAME=FILE[:FIELD,...]");
    }
    // The last ':' starts the fields unless what follows looks like a path.
    let (path, fields) = match rest.rsplit_once(':') {
        Some((p, f)) if !f.contains('/') && !p.is_empty() => (
            p,
            f.split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .map(String::from)
                .collect(),
        ),
        _ => (rest, default_fields()),
    };
    Ok(TaskSpec {
        name: name.to_string(),
        paths: vec![PathBuf::from(path)],
        fields,
    })
}

/// Reads a TOML task set; relative paths become relative to its directory.
pub fn load_task_file(path: &Path) -> Result<Vec<TaskSpec>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read task set {}", path.display()))?;
    let file: TaskFile = toml::from_str(&text)
        .with_context(|| format!("{} is not a valid task set", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    Ok(anchor(file.task, base))
}

/// Makes relative task paths relative to `base`.
pub fn anchor(tasks: Vec<TaskSpec>, base: &Path) -> Vec<TaskSpec> {
    tasks
        .into_iter()
        .map(|mut t| {
            t.paths = t
                .paths
                .into_iter()
                .map(|p| if p.is_relative() { base.join(p) } else { p })
                .collect();
            t
        })
        .collect()
}

/// Merges specs with the same name (their files and fields add up), keeping first-seen order.
pub fn merge(specs: Vec<TaskSpec>) -> Vec<TaskSpec> {
    let mut out: Vec<TaskSpec> = Vec::new();
    for s in specs {
        match out.iter_mut().find(|o| o.name == s.name) {
            Some(o) => {
                o.paths.extend(s.paths);
                for f in s.fields {
                    if !o.fields.contains(&f) {
                        o.fields.push(f);
                    }
                }
            }
            None => out.push(s),
        }
    }
    out
}

fn lookup<'v>(v: &'v serde_json::Value, dotted: &str) -> Option<&'v serde_json::Value> {
    dotted.split('.').try_fold(v, |v, key| v.get(key))
}

fn push_texts(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|i| push_texts(i, out)),
        _ => {}
    }
}

/// The task texts of one record for one field spec.
fn field_texts(record: &serde_json::Value, field: &str, out: &mut Vec<String>) {
    if field.contains('+') {
        // Joined fields: every combination of their texts, in order.
        let mut joined = vec![String::new()];
        for part in field.split('+') {
            let mut texts = Vec::new();
            if let Some(v) = lookup(record, part) {
                push_texts(v, &mut texts);
            }
            if texts.is_empty() {
                return;
            }
            joined = joined
                .iter()
                .flat_map(|j| {
                    texts.iter().map(move |t| {
                        if j.is_empty() {
                            t.clone()
                        } else {
                            format!("{j} {t}")
                        }
                    })
                })
                .collect();
        }
        out.extend(joined);
    } else if let Some(v) = lookup(record, field) {
        push_texts(v, out);
    }
}

/// What loading the tasks found, per task.
#[derive(Debug, Default, Serialize)]
pub struct TaskStats {
    pub records: u64,
    pub texts: u64,
    pub ngrams: u64,
}

/// Every task text of one task, in file and record order.
pub fn task_texts(spec: &TaskSpec) -> Result<(u64, Vec<String>)> {
    let mut records = 0u64;
    let mut texts = Vec::new();
    for path in &spec.paths {
        let reader = open_decompressed(path)
            .with_context(|| format!("task {}: cannot open {}", spec.name, path.display()))?;
        for (n, line) in reader.lines().enumerate() {
            let line =
                line.with_context(|| format!("{}: cannot read line {}", path.display(), n + 1))?;
            if line.trim().is_empty() {
                continue;
            }
            let record: serde_json::Value = serde_json::from_str(&line)
                .with_context(|| format!("{}: line {} is not JSON", path.display(), n + 1))?;
            records += 1;
            for f in &spec.fields {
                field_texts(&record, f, &mut texts);
            }
        }
    }
    Ok((records, texts))
}

/// Builds the n-gram index of every task.
pub fn build_index(
    tasks: &[TaskSpec],
    min_n: usize,
    max_n: usize,
) -> Result<(NgramIndex, Vec<(String, TaskStats)>)> {
    if tasks.is_empty() {
        bail!("no tasks given (use --task NAME=FILE[:FIELDS] or --tasks TASKS.toml)");
    }
    if tasks.len() > u16::MAX as usize {
        bail!("too many tasks");
    }
    let names = tasks.iter().map(|t| t.name.clone()).collect();
    let mut index = NgramIndex::new(names, min_n, max_n);
    let mut sets = HashMap::new();
    let mut stats = Vec::new();
    for (t, spec) in tasks.iter().enumerate() {
        let mut st = TaskStats::default();
        let before = index.len();
        let (records, texts) = task_texts(spec)?;
        st.records = records;
        st.texts = texts.len() as u64;
        for text in texts {
            index.add_text(t as u16, &text, &mut sets);
        }
        if st.texts == 0 {
            bail!(
                "task {}: no text in fields {:?} of {:?}",
                spec.name,
                spec.fields,
                spec.paths
            );
        }
        st.ngrams = (index.len() - before) as u64;
        stats.push((spec.name.clone(), st));
    }
    index.finish();
    Ok((index, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_arguments() {
        let t = parse_task_arg("lambada=data/lambada.jsonl:context+continuation,x").unwrap();
        assert_eq!(t.name, "lambada");
        assert_eq!(t.paths, vec![PathBuf::from("data/lambada.jsonl")]);
        assert_eq!(t.fields, vec!["context+continuation", "x"]);
        let t = parse_task_arg("race=race.jsonl.gz").unwrap();
        assert_eq!(t.fields, vec!["text"]);
        assert!(parse_task_arg("nofile").is_err());
        // A name and a file are both required.
        for bad in ["=x.jsonl", "qa=", "="] {
            assert!(parse_task_arg(bad).is_err(), "{bad}");
        }
        // A ':' followed by a path, or with nothing before it, is part of the file name.
        let t = parse_task_arg("qa=mnt:data/q.jsonl").unwrap();
        assert_eq!(
            (t.paths, t.fields),
            (vec!["mnt:data/q.jsonl".into()], vec!["text".to_string()])
        );
        let t = parse_task_arg("qa=:q").unwrap();
        assert_eq!(
            (t.paths, t.fields),
            (vec![":q".into()], vec!["text".to_string()])
        );
    }

    #[test]
    fn task_sets_are_read_relative_to_their_file_and_merged_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let set = dir.path().join("tasks.toml");
        std::fs::write(
            &set,
            "[[task]]\nname = \"qa\"\npaths = [\"q.jsonl\", \"/abs/q2.jsonl\"]\nfields = [\"question\"]\n\
             [[task]]\nname = \"lm\"\npaths = [\"l.jsonl\"]\n\
             [[task]]\nname = \"qa\"\npaths = [\"q3.jsonl\"]\nfields = [\"question\", \"answer\"]\n",
        )
        .unwrap();
        let tasks = merge(load_task_file(&set).unwrap());
        let named: Vec<(&str, Vec<PathBuf>, &[String])> = tasks
            .iter()
            .map(|t| (t.name.as_str(), t.paths.clone(), &t.fields[..]))
            .collect();
        let q = |f: &str| dir.path().join(f);
        assert_eq!(
            named,
            [
                (
                    "qa",
                    vec![q("q.jsonl"), "/abs/q2.jsonl".into(), q("q3.jsonl")],
                    &["question".to_string(), "answer".to_string()][..]
                ),
                ("lm", vec![q("l.jsonl")], &["text".to_string()][..]),
            ]
        );
    }

    #[test]
    fn texts_records_and_ngrams_of_each_task_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let words = |k: usize, n: usize| {
            (0..n)
                .map(|i| format!("t{k}w{i}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        // Task a: two records (a blank line between), three texts: 13 words (one 13-gram),
        // 15 words (three) and 5 words (too short for an 8-gram). Task b: one record of 8 words.
        let a = dir.path().join("a.jsonl");
        let records = [
            serde_json::json!({"q": words(1, 13), "o": [words(2, 15), words(3, 5)]}),
            serde_json::json!({"q": 3}),
        ];
        std::fs::write(&a, format!("{}\n\n{}\n", records[0], records[1])).unwrap();
        let b = dir.path().join("b.jsonl");
        std::fs::write(
            &b,
            format!("{}\n", serde_json::json!({"text": words(4, 8)})),
        )
        .unwrap();
        let spec = |name: &str, path: &Path, fields: &[&str]| TaskSpec {
            name: name.into(),
            paths: vec![path.to_path_buf()],
            fields: fields.iter().map(|f| f.to_string()).collect(),
        };
        let tasks = [spec("a", &a, &["q", "o"]), spec("b", &b, &["text"])];
        let (records, texts) = task_texts(&tasks[0]).unwrap();
        assert_eq!((records, texts.len()), (2, 3));
        let (index, stats) = build_index(&tasks, 8, 13).unwrap();
        let counts: Vec<(&str, u64, u64, u64)> = stats
            .iter()
            .map(|(n, s)| (n.as_str(), s.records, s.texts, s.ngrams))
            .collect();
        assert_eq!(counts, [("a", 2, 3, 4), ("b", 1, 1, 1)]);
        assert_eq!(index.len(), 5);
        // A task whose fields hold no text is an error, not an empty task.
        let err = build_index(&[spec("c", &b, &["missing"])], 8, 13)
            .err()
            .unwrap();
        assert!(err.to_string().contains("no text in fields"), "{err}");
    }

    #[test]
    fn up_to_65535_tasks_are_numbered() {
        let many = |n: usize| -> Vec<TaskSpec> {
            (0..n)
                .map(|i| TaskSpec {
                    name: format!("t{i}"),
                    paths: vec!["/nonexistent/t.jsonl".into()],
                    fields: vec!["text".into()],
                })
                .collect()
        };
        // 65,535 pass the count and fail on the missing file; one more is refused first.
        let err = build_index(&many(65_535), 8, 13).err().unwrap();
        assert!(err.to_string().contains("cannot open"), "{err}");
        let err = build_index(&many(65_536), 8, 13).err().unwrap();
        assert_eq!(err.to_string(), "too many tasks");
        assert!(build_index(&[], 8, 13).is_err());
    }

    #[test]
    fn fields_arrays_and_joins() {
        let r: serde_json::Value = serde_json::json!({
            "a": "first", "b": ["x", "y"], "n": {"q": "deep"}
        });
        let mut out = Vec::new();
        field_texts(&r, "a", &mut out);
        field_texts(&r, "b", &mut out);
        field_texts(&r, "n.q", &mut out);
        field_texts(&r, "a+b", &mut out);
        field_texts(&r, "missing", &mut out);
        assert_eq!(out, ["first", "x", "y", "deep", "first x", "first y"]);
    }
}
