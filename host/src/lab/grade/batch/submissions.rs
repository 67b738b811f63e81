//! A class's submissions: the entries of a folder, how to start each one,
//! and which of them a shard grades.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::ui::failure::Failure;

/// One student's entry: a file or a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// Its name in the folder, which names its results.
    pub id: String,
    /// Where it is.
    pub path: PathBuf,
}

/// The entries of `dir`, sorted by name; hidden ones (and `skip`, the
/// results folder if it lies inside) left out.
pub fn find(dir: &Path, skip: &Path) -> Result<Vec<Submission>, Failure> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Failure::usage(format!(
            "--batch {}: {e}; give the folder that holds one entry per student",
            dir.display()
        ))
    })?;
    let skip = skip.canonicalize().ok();
    let mut found: Vec<Submission> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let id = entry.file_name().to_str()?.to_string();
            let path = entry.path();
            let hidden = id.starts_with('.') || id.ends_with('~');
            let is_results = skip.is_some() && path.canonicalize().ok() == skip;
            (!hidden && !is_results).then_some(Submission { id, path })
        })
        .collect();
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found)
}

/// Whether the K-th of N shards grades `id`: a hash of the name, so a
/// submission stays in its shard when others are added or removed.
pub fn in_shard(id: &str, (k, n): (u32, u32)) -> bool {
    // FNV-1a, 64 bits: stable across runs, machines and Rust versions.
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    hash % u64::from(n) == u64::from(k - 1)
}

/// The file names each part's programs usually had, in order of preference
/// (compared without case).
fn usual_names(part: u8, role: Option<&str>) -> &'static [&'static str] {
    match (part, role) {
        (2, _) => &["pdc.py", "part2.py", "tcp_pdc.py", "client.py"],
        (3, _) => &["pdc.py", "part3.py", "udp_pdc.py", "reset.py", "client.py"],
        (4, Some("receiver")) => &["receiver.py", "part4_receiver.py", "multicast.py"],
        (4, Some("sender")) => &["sender.py", "part4_sender.py", "multicast.py"],
        (4, _) => &["multicast.py", "part4.py"],
        (5, Some("pdc")) => &["secure_pdc.py", "pdc.py", "client.py"],
        (5, _) => &[
            "secure_pmu.py",
            "securepmu.py",
            "pmu.py",
            "server.py",
            "part5.py",
        ],
        (6, _) => &["pdc.py", "ws_pdc.py", "part6.py", "client.py"],
        _ => &[],
    }
}

/// How to start `submission` when no `--run` was given: its part's usual
/// file (or a folder's only `.py` file) with python3, or an executable
/// file as it is. `{dir}` stands for its copy in the working directory.
pub fn default_command(
    submission: &Submission,
    part: u8,
    role: Option<&str>,
) -> Result<Vec<String>, String> {
    let meta = std::fs::metadata(&submission.path).map_err(|e| e.to_string())?;
    if meta.is_file() {
        return command_for(&submission.id, meta.permissions().mode());
    }
    let names: Vec<(String, u32)> = std::fs::read_dir(&submission.path)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            meta.is_file().then(|| {
                Some((
                    e.file_name().to_str()?.to_string(),
                    meta.permissions().mode(),
                ))
            })?
        })
        .collect();
    let usual = usual_names(part, role);
    for wanted in usual {
        if let Some((name, mode)) = names.iter().find(|(n, _)| n.eq_ignore_ascii_case(wanted)) {
            return command_for(name, *mode);
        }
    }
    let scripts: Vec<&(String, u32)> = names.iter().filter(|(n, _)| n.ends_with(".py")).collect();
    match scripts.as_slice() {
        [(name, mode)] => command_for(name, *mode),
        _ => Err(format!(
            "no program found: looked for {} or a single .py file; say how to start it with --run",
            usual.join(", ")
        )),
    }
}

fn command_for(name: &str, mode: u32) -> Result<Vec<String>, String> {
    let path = format!("{{dir}}/{name}");
    if name.ends_with(".py") {
        Ok(vec!["python3".into(), path])
    } else if mode & 0o111 != 0 {
        Ok(vec![path])
    } else {
        Err(format!(
            "{name} is neither a .py file nor executable; say how to start it with --run"
        ))
    }
}

/// A `--run` template as words: split at white space, with '…' and "…"
/// quoting (no shell runs it, so a file name cannot inject a command).
pub fn split_template(template: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in template.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_default().push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_default();
            }
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_default().push(c),
        }
    }
    if quote.is_some() {
        return Err(format!("--run {template:?}: a quote is not closed"));
    }
    words.extend(word);
    match words.is_empty() {
        true => Err("--run is empty: say how to start one submission".into()),
        false => Ok(words),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_like_a_shell_without_one() {
        assert_eq!(
            split_template("python3 '{dir}/my pdc.py' --x \"a b\""),
            Ok(vec![
                "python3".to_string(),
                "{dir}/my pdc.py".into(),
                "--x".into(),
                "a b".into()
            ])
        );
        assert!(split_template("python3 'open").is_err());
        assert!(split_template("   ").is_err());
    }

    #[test]
    fn shards_cover_the_class_once() {
        let ids: Vec<String> = (0..500).map(|i| format!("student{i:03}")).collect();
        for n in [1, 2, 3, 8] {
            for id in &ids {
                let owners = (1..=n).filter(|k| in_shard(id, (*k, n))).count();
                assert_eq!(owners, 1, "{id} in {owners} of {n} shards");
            }
        }
        // Roughly even: no shard of 8 gets under half its share.
        for k in 1..=8 {
            let size = ids.iter().filter(|id| in_shard(id, (k, 8))).count();
            assert!(size > 500 / 16, "shard {k}/8 has {size}");
        }
    }
}
