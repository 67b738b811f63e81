//! Verdicts, printed as each check finishes, and the course's score.

use super::program::Ran;
use crate::ui::failure::Failure;
use crate::ui::output::{paint, say, style};

/// The course's maximum grade per part.
pub const MAX_GRADE: f64 = 5.0;

/// Lines of a program's output shown under a failed check.
const SHOWN_LINES: usize = 30;

/// One check's verdict.
#[derive(Debug, Clone)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// `Err(reason)` when it failed.
    pub verdict: Result<(), String>,
    /// Remarks that do not change the verdict.
    pub notes: Vec<String>,
    /// Counted in the score; an unscored check only informs.
    pub scored: bool,
    /// The program's run, shown when the check failed.
    pub ran: Option<Ran>,
    /// The same check's name in every grading, when its name carries
    /// what this run drew (a random n): batch results are columns of these.
    pub key: Option<String>,
}

impl Check {
    /// A scored check of what `ran` printed: its exit is noted when it
    /// matters.
    pub fn of(name: impl Into<String>, ran: &Ran, verdict: Result<(), String>) -> Check {
        let mut check = Check::plain(name, ran, verdict);
        if let Some(note) = ran.exit_note() {
            check.notes.push(note);
        }
        check.notes.extend(ran.containment_notes());
        check
    }

    /// A scored check of `ran` judged by something else than its output or
    /// exit (what a server sent the grader's client; a refusal).
    pub fn plain(name: impl Into<String>, ran: &Ran, verdict: Result<(), String>) -> Check {
        Check {
            name: name.into(),
            verdict,
            notes: Vec::new(),
            scored: true,
            ran: Some(ran.clone()),
            key: None,
        }
    }

    /// When the grader's servers delivered what the program should have
    /// printed: a failure says if its output was likely lost unflushed.
    pub fn delivered(mut self) -> Check {
        let hint = self.ran.as_ref().and_then(Ran::unflushed_hint);
        if let (Err(why), Some(hint)) = (&mut self.verdict, hint) {
            why.push_str("; ");
            why.push_str(hint);
        }
        self
    }

    /// Names it the same in every grading (see [`Check::key`]).
    pub fn keyed(mut self, key: impl Into<String>) -> Check {
        self.key = Some(key.into());
        self
    }

    /// Adds a note.
    pub fn note(mut self, note: impl Into<String>) -> Check {
        self.notes.push(note.into());
        self
    }

    /// Makes it informative only.
    pub fn unscored(mut self) -> Check {
        self.scored = false;
        self
    }
}

/// The report: a header, then each check as it comes.
#[derive(Debug)]
pub struct Report {
    checks: Vec<Check>,
    show_output: bool,
}

impl Report {
    /// Prints the header.
    pub fn start(part: u8, program: &str, show_output: bool) -> Result<Report, Failure> {
        say!("pmulab grade: part {part} — {program}")?;
        Ok(Report {
            checks: Vec::new(),
            show_output,
        })
    }

    /// Prints a check at once and keeps it.
    pub fn add(&mut self, check: Check) -> Result<(), Failure> {
        let label = match (&check.verdict, check.scored) {
            (Ok(()), true) => paint(style::PASS, "PASS"),
            (Err(_), true) => paint(style::FAIL, "FAIL"),
            (_, false) => paint(style::NOTE, "NOTE"),
        };
        match &check.verdict {
            Ok(()) => say!("  {label}  {}", check.name)?,
            Err(why) => say!("  {label}  {}: {why}", check.name)?,
        }
        for note in &check.notes {
            say!("        note: {note}")?;
        }
        if let Some(ran) = &check.ran
            && (check.verdict.is_err() || self.show_output)
        {
            let noted = ran.exit_note().is_some_and(|n| check.notes.contains(&n));
            for line in excerpt(ran, !noted) {
                say!("        {line}")?;
            }
        }
        self.checks.push(check);
        Ok(())
    }

    /// Prints the score; `(score, all passed)`.
    pub fn finish(&self) -> Result<(f64, bool), Failure> {
        let scored: Vec<&Check> = self.checks.iter().filter(|c| c.scored).collect();
        let passed = scored.iter().filter(|c| c.verdict.is_ok()).count();
        let score =
            (MAX_GRADE * passed as f64 / scored.len().max(1) as f64 * 100.0).round() / 100.0;
        say!(
            "{passed} of {} checks passed: score {score} / {MAX_GRADE}",
            scored.len()
        )?;
        Ok((score, !scored.is_empty() && passed == scored.len()))
    }

    /// What containment did to the program over all checks (limits it
    /// reached, processes it left), each said once.
    pub fn containment_json(&self) -> serde_json::Value {
        let mut said: Vec<String> = Vec::new();
        for ran in self.checks.iter().filter_map(|c| c.ran.as_ref()) {
            let limit = ran.exit_note().filter(|_| ran.ended_at_a_limit());
            for note in limit.into_iter().chain(ran.containment_notes()) {
                // The same event in every run differs only in its counts.
                let kind: String = note.chars().take_while(|c| !c.is_ascii_digit()).collect();
                if !said.iter().any(|s| s.starts_with(&kind)) {
                    said.push(note);
                }
            }
        }
        said.into()
    }

    /// The checks as JSON, for batch results: name, verdict, reason, notes.
    pub fn checks_json(&self) -> serde_json::Value {
        self.checks
            .iter()
            .map(|c| {
                serde_json::json!({
                    "name": c.key.as_deref().unwrap_or(&c.name),
                    "shown": c.name,
                    "scored": c.scored,
                    "passed": c.verdict.is_ok(),
                    "reason": c.verdict.as_ref().err(),
                    "notes": c.notes,
                })
            })
            .collect()
    }

    /// How many scored checks failed, and of how many.
    pub fn failures(&self) -> (usize, usize) {
        let scored = self.checks.iter().filter(|c| c.scored);
        let total = scored.clone().count();
        (scored.filter(|c| c.verdict.is_err()).count(), total)
    }
}

/// The run's ending (unless a note said it) and output, cut to
/// [`SHOWN_LINES`] lines per stream with a line saying how much was cut.
fn excerpt(ran: &Ran, with_ending: bool) -> Vec<String> {
    let ending = match ran.ending {
        super::program::Ending::Exited(code) => format!("exit {code}"),
        super::program::Ending::Signalled(signal) => format!("ended by signal {signal}"),
        super::program::Ending::TimeLimit => "stopped at the time limit".into(),
        super::program::Ending::StoppedWhenDone => "stopped after its output was complete".into(),
        super::program::Ending::Stopped => "stopped at the end of the scenario".into(),
        super::program::Ending::OutputLimit => "stopped: too much output".into(),
    };
    let mut lines = Vec::new();
    if with_ending {
        lines.push(ending);
    }
    if ran.stdout.is_empty() && ran.stderr.is_empty() {
        lines.push("(it printed nothing, on stdout or stderr)".into());
        return lines;
    }
    for (name, text) in [("stdout", &ran.stdout), ("stderr", &ran.stderr)] {
        if text.is_empty() {
            lines.push(format!("--- {name}: nothing ---"));
            continue;
        }
        lines.push(format!("--- {name} ---"));
        let all: Vec<&str> = text.lines().collect();
        for line in all.iter().take(SHOWN_LINES) {
            lines.push(cut_line(line));
        }
        if all.len() > SHOWN_LINES {
            lines.push(format!(
                "… {} more lines of {name} cut",
                all.len() - SHOWN_LINES
            ));
            // Where the grader stopped keeping it, said at the end too.
            let marker = super::program::cut_marker();
            if text.ends_with(&marker) {
                lines.push(marker.trim().to_string());
            }
        }
    }
    lines
}

/// A line of at most 200 characters, marked where it was cut.
fn cut_line(line: &str) -> String {
    const MAX: usize = 200;
    match line.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}… ({} more bytes cut)", &line[..at], line.len() - at),
        None => line.to_string(),
    }
}
