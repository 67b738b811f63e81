//! tshark, the reference dissector, as the tests ask it: the fields of
//! each frame of a capture, and whether Wireshark complains of any.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::run;

/// tshark's `fields` for each frame of `file` (after `extra`: `-Y FILTER`,
/// `-d DECODE-AS`…), one row per frame; several occurrences of a field are
/// joined with commas. Fails the test if tshark fails or finds the file
/// damaged.
pub fn fields(file: &Path, fields: &[&str], extra: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(file).args(extra).args([
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = run(cmd, Duration::from_secs(60));
    assert_eq!(out.code(), 0, "tshark: {out:?}");
    assert!(
        !out.stderr.contains("appears to be damaged"),
        "{}",
        out.stderr
    );
    out.stdout
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// As [`fields`], and fails the test if Wireshark flags any of these frames
/// as malformed or adds an expert note (a dissector's complaint) to one.
pub fn fields_without_complaint(file: &Path, wanted: &[&str], extra: &[&str]) -> Vec<Vec<String>> {
    let mut asked = wanted.to_vec();
    asked.extend(["_ws.expert", "_ws.malformed"]);
    let mut rows = fields(file, &asked, extra);
    for row in &mut rows {
        let complaint = row.get(wanted.len()..).unwrap_or_default();
        assert!(
            complaint.iter().all(String::is_empty),
            "Wireshark complains: {row:?}"
        );
        row.truncate(wanted.len());
    }
    rows
}
