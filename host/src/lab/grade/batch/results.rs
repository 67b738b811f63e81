//! A batch's results folder: one record per submission (the truth), and
//! what is made from all of them — results.csv, results.jsonl and the
//! summary — plus the merge of shards' folders.
//!
//! ```text
//! OUT/records/<id>.json   the verdict: score, max, success, each check
//! OUT/course/<id>.json    the course's {"max_grade", "score", "success"}
//! OUT/reports/<id>.txt    the grader's report and the program's output
//! OUT/results.csv  OUT/results.jsonl  OUT/summary.txt
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::ui::failure::Failure;

/// The folders of a results folder.
pub const FOLDERS: [&str; 3] = ["records", "course", "reports"];

/// Where one submission's files go.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Its record.
    pub record: PathBuf,
    /// The course's JSON.
    pub course: PathBuf,
    /// The report.
    pub report: PathBuf,
}

impl Paths {
    /// The paths of `id` in `out`.
    pub fn of(out: &Path, id: &str) -> Paths {
        Paths {
            record: out.join("records").join(format!("{id}.json")),
            course: out.join("course").join(format!("{id}.json")),
            report: out.join("reports").join(format!("{id}.txt")),
        }
    }
}

/// Makes the results folder.
pub fn prepare(out: &Path) -> Result<(), Failure> {
    for folder in FOLDERS {
        let dir = out.join(folder);
        std::fs::create_dir_all(&dir).map_err(|e| {
            Failure::usage(format!(
                "--out {}: cannot create {}: {e}",
                out.display(),
                dir.display()
            ))
        })?;
    }
    Ok(())
}

/// The record of `id`, if it was graded and its record reads.
pub fn read_record(out: &Path, id: &str) -> Option<Value> {
    let text = std::fs::read_to_string(Paths::of(out, id).record).ok()?;
    serde_json::from_str(&text).ok()
}

/// A record for a submission that could not be graded at all.
pub fn failed_record(id: &str, reason: &str, seconds: f64) -> Value {
    serde_json::json!({
        "id": id,
        "score": 0.0,
        "max": super::super::report::MAX_GRADE,
        "success": false,
        "error": reason,
        "seconds": seconds,
        "checks": [],
    })
}

/// Every record in `out`, sorted by id.
pub fn all_records(out: &Path) -> Vec<Value> {
    let Ok(entries) = std::fs::read_dir(out.join("records")) else {
        return Vec::new();
    };
    let mut records: Vec<Value> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| serde_json::from_str(&std::fs::read_to_string(e.path()).ok()?).ok())
        .collect();
    records.sort_by(|a, b| id_of(a).cmp(id_of(b)));
    records
}

fn id_of(record: &Value) -> &str {
    record["id"].as_str().unwrap_or_default()
}

/// Writes results.jsonl, results.csv and summary.txt from every record in
/// `out`; returns the summary.
pub fn write_all(out: &Path) -> Result<String, Failure> {
    let records = all_records(out);
    let write = |name: &str, text: String| {
        let path = out.join(name);
        std::fs::write(&path, text)
            .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", path.display())))
    };
    let jsonl: String = records.iter().map(|r| format!("{r}\n")).collect();
    write("results.jsonl", jsonl)?;
    write("results.csv", csv(&records))?;
    let summary = summary(&records);
    write("summary.txt", summary.clone())?;
    Ok(summary)
}

/// One row per submission; a column per check (its verdict and reason).
fn csv(records: &[Value]) -> String {
    let mut checks: Vec<String> = Vec::new();
    for record in records {
        for check in record["checks"].as_array().into_iter().flatten() {
            let name = check["name"].as_str().unwrap_or_default().to_string();
            if !checks.contains(&name) {
                checks.push(name);
            }
        }
    }
    let mut header = vec!["id", "score", "max", "success", "error", "contained"]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    header.extend(checks.iter().cloned());
    let mut out = row(&header);
    for record in records {
        let mut cells = vec![
            id_of(record).to_string(),
            number(&record["score"]),
            number(&record["max"]),
            u8::from(record["success"].as_bool().unwrap_or(false)).to_string(),
            record["error"].as_str().unwrap_or_default().to_string(),
            contained(record).join("; "),
        ];
        for name in &checks {
            let check = record["checks"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["name"].as_str() == Some(name));
            cells.push(match check {
                None => String::new(),
                Some(c) if c["passed"].as_bool() == Some(true) => "pass".into(),
                Some(c) => format!("FAIL: {}", c["reason"].as_str().unwrap_or_default()),
            });
        }
        out.push_str(&row(&cells));
    }
    out
}

/// What containment said of a submission's program.
pub fn contained(record: &Value) -> Vec<String> {
    record["contained"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect()
}

fn number(value: &Value) -> String {
    value.as_f64().map_or_else(String::new, |n| format!("{n}"))
}

/// A CSV row (RFC 4180 quoting).
fn row(cells: &[String]) -> String {
    let quoted: Vec<String> = cells
        .iter()
        .map(|c| match c.contains([',', '"', '\n', '\r']) {
            true => format!("\"{}\"", c.replace('"', "\"\"")),
            false => c.clone(),
        })
        .collect();
    format!("{}\r\n", quoted.join(","))
}

/// How many got each score, and the most common reasons for failing
/// (each counted once per submission).
fn summary(records: &[Value]) -> String {
    let mut by_score: BTreeMap<u64, usize> = BTreeMap::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for record in records {
        let score = record["score"].as_f64().unwrap_or(0.0);
        // Scores have two decimals: hundredths sort as integers.
        *by_score.entry((score * 100.0).round() as u64).or_default() += 1;
        let mut mine: Vec<String> = Vec::new();
        if let Some(error) = record["error"].as_str() {
            mine.push(format!("not graded: {}", generic(error)));
        }
        for check in record["checks"].as_array().into_iter().flatten() {
            if check["passed"].as_bool() == Some(false) && check["scored"].as_bool() != Some(false)
            {
                mine.push(generic(check["reason"].as_str().unwrap_or_default()));
            }
        }
        mine.extend(
            contained(record)
                .iter()
                .map(|n| format!("contained: {}", generic(n))),
        );
        mine.sort();
        mine.dedup();
        for reason in mine {
            *reasons.entry(reason).or_default() += 1;
        }
    }
    let total = records.len();
    let passed = records
        .iter()
        .filter(|r| r["success"].as_bool() == Some(true))
        .count();
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let mut text = format!(
        "{total} submission{} graded, {passed} with every check passed.\n\nScores:\n",
        plural(total)
    );
    for (hundredths, count) in by_score.iter().rev() {
        let score = *hundredths as f64 / 100.0;
        text.push_str(&format!(
            "  {score:>4} / 5   {count:>4}  {}\n",
            "█".repeat((*count).min(60))
        ));
    }
    let mut common: Vec<(&String, &usize)> = reasons.iter().collect();
    common.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    if !common.is_empty() {
        text.push_str("\nMost common reasons (submissions):\n");
        for (reason, count) in common.into_iter().take(8) {
            text.push_str(&format!("  {count:>4}  {reason}\n"));
        }
    }
    text
}

/// A reason with its run-specific parts (numbers, quoted words, lines of
/// output) taken out, so that the same failure counts once; cut to 140
/// characters.
fn generic(reason: &str) -> String {
    let first = reason.split(';').next().unwrap_or_default();
    let mut out = String::new();
    let mut in_quote = false;
    for c in first.chars() {
        match c {
            '"' => {
                if !in_quote {
                    out.push_str("\"…\"");
                }
                in_quote = !in_quote;
            }
            _ if in_quote => {}
            '0'..='9' => {
                if !out.ends_with('#') {
                    out.push('#');
                }
            }
            c => out.push(c),
        }
    }
    match out.char_indices().nth(140) {
        Some((at, _)) => format!("{}…", &out[..at]),
        None => out,
    }
}

/// Joins the results folders `from` into `out`: records, course files and
/// reports copied (the newer record wins when two shards graded one
/// submission), then the combined results written.
pub fn merge(from: &[PathBuf], out: &Path) -> Result<String, Failure> {
    prepare(out)?;
    let out_real = out.canonicalize().ok();
    let mut copied = 0;
    for dir in from {
        if !dir.join("records").is_dir() {
            return Err(Failure::usage(format!(
                "--merge {}: not a results folder (no records/ in it)",
                dir.display()
            )));
        }
        if dir.canonicalize().ok() == out_real {
            continue;
        }
        for record in all_records(dir) {
            let id = id_of(&record).to_string();
            let (theirs, ours) = (Paths::of(dir, &id), Paths::of(out, &id));
            let newer = match (modified(&ours.record), modified(&theirs.record)) {
                (Some(ours), Some(theirs)) => theirs > ours,
                _ => true,
            };
            if !newer {
                continue;
            }
            for (a, b) in [
                (&theirs.record, &ours.record),
                (&theirs.course, &ours.course),
                (&theirs.report, &ours.report),
            ] {
                if a.exists() {
                    std::fs::copy(a, b)
                        .map_err(|e| Failure::runtime(format!("copying {}: {e}", a.display())))?;
                }
            }
            copied += 1;
        }
    }
    let summary = write_all(out)?;
    Ok(format!(
        "merged {copied} records from {} folders into {}\n\n{summary}",
        from.len(),
        out.display()
    ))
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).ok()?.modified().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, score: f64, reason: Option<&str>) -> Value {
        serde_json::json!({
            "id": id, "score": score, "max": 5.0, "success": reason.is_none(),
            "checks": [
                {"name": "n = 15", "scored": true, "passed": true, "reason": null, "notes": []},
                {"name": "floodme", "scored": true, "passed": reason.is_none(), "reason": reason, "notes": []},
            ],
        })
    }

    #[test]
    fn the_csv_has_a_column_per_check_and_quotes_what_needs_it() {
        let csv = csv(&[
            record("alice", 5.0, None),
            record("bob", 2.5, Some("got 3, \"wanted\" 4")),
        ]);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "id,score,max,success,error,contained,n = 15,floodme"
        );
        assert_eq!(lines[1], "alice,5,5,1,,,pass,pass");
        assert_eq!(
            lines[2],
            "bob,2.5,5,0,,,pass,\"FAIL: got 3, \"\"wanted\"\" 4\""
        );
    }

    #[test]
    fn the_summary_counts_scores_and_groups_reasons_across_runs() {
        let text = summary(&[
            record("a", 5.0, None),
            record(
                "b",
                2.5,
                Some("it missed the bot's line \"amber gale 123\""),
            ),
            record(
                "c",
                2.5,
                Some("it missed the bot's line \"willow dusk 456\""),
            ),
            failed_record("d", "no program found", 0.0),
        ]);
        assert!(
            text.contains("4 submissions graded, 1 with every check passed"),
            "{text}"
        );
        assert!(
            text.contains("     2  it missed the bot's line \"…\""),
            "{text}"
        );
        assert!(
            text.contains("     1  not graded: no program found"),
            "{text}"
        );
        assert!(text.contains(" 2.5 / 5      2"), "{text}");
    }
}
