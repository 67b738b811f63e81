//! `pmulab grade`: pmulab's own clients and students' Python solutions
//! pass; broken solutions fail the checks that catch their bug.
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::time::Duration;

use pmulab_tests::*;

const LIMIT: Duration = Duration::from_secs(300);

/// Grades `program` on `part`; returns (exit code, report).
fn grade(part: &str, program: &[&str]) -> (i32, String) {
    let state =
        std::env::temp_dir().join(format!("pmulab-grade-state-{}-{part}", std::process::id()));
    let mut cmd = pmulab_cmd(["grade", part, "--timeout", "20"]);
    if !program.contains(&"--") {
        cmd.arg("--");
    }
    cmd.args(program).env("XDG_STATE_HOME", &state);
    let out = run(cmd, LIMIT);
    let _ = std::fs::remove_dir_all(&state);
    (out.code(), out.stdout)
}

fn py(script: &str) -> Vec<String> {
    vec![
        python().display().to_string(),
        peer(script).display().to_string(),
    ]
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn failed(report: &str) -> Vec<&str> {
    report
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("FAIL  "))
        .collect()
}

#[test]
fn pmulab_s_own_clients_pass_every_part() {
    let me = pmulab().display().to_string();
    for (part, args) in [
        ("2", vec![me.as_str(), "pdc"]),
        ("3", vec![me.as_str(), "reset", "--timeout", "0.2"]),
        ("5", vec![me.as_str(), "secure-pdc"]),
        ("6", vec![me.as_str(), "pdc", "--ws"]),
    ] {
        let (code, report) = grade(part, &args);
        assert_eq!(code, 0, "part {part}: {report}");
        assert!(report.contains("score 5 / 5"), "{report}");
    }
    let (code, report) = grade("4", &["--role", "receiver", "--", me.as_str(), "receiver"]);
    assert_eq!(code, 0, "{report}");
    let (code, report) = grade("4", &["--role", "sender", "--", me.as_str(), "sender"]);
    assert_eq!(code, 0, "{report}");
    // Without a role, both are graded, and a receiver cannot send.
    let (code, report) = grade("4", &["--", me.as_str(), "receiver"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(failed(&report).len(), 1, "{report}");
}

#[test]
fn students_python_solutions_pass() {
    for (part, script) in [
        ("2", "student_pdc.py"),
        ("3", "student_reset.py"),
        ("5", "course_tls_client.py"),
        ("6", "student_ws_pdc.py"),
    ] {
        let (code, report) = grade(part, &refs(&py(script)));
        assert_eq!(code, 0, "part {part} {script}: {report}");
    }
    for (role, script) in [
        ("receiver", "student_mc_receiver.py"),
        ("sender", "student_mc_sender.py"),
    ] {
        let mut program = vec!["--role".to_string(), role.to_string(), "--".to_string()];
        program.extend(py(script));
        let (code, report) = grade("4", &refs(&program));
        assert_eq!(code, 0, "{script}: {report}");
    }
}

#[test]
fn broken_solutions_fail_the_right_checks() {
    let (code, report) = grade("2", &refs(&py("broken_pdc_fixed_n.py")));
    assert_eq!(code, 1);
    let fails = failed(&report);
    assert!(
        fails
            .iter()
            .any(|f| f.starts_with("CMD_short:0 with n = 2")),
        "{report}"
    );
    assert!(
        fails
            .iter()
            .any(|f| f.starts_with("CMD_short:0 with n = 17")),
        "{report}"
    );
    assert!(
        !fails
            .iter()
            .any(|f| f.starts_with("CMD_short:0 with n = 15:")),
        "n = 15 is what it hard-codes: {report}"
    );

    let (code, report) = grade("2", &refs(&py("broken_pdc_glued.py")));
    assert_eq!(code, 1);
    assert!(report.contains("printed glued on one line"), "{report}");

    let (code, report) = grade("3", &refs(&py("broken_reset_v4_only.py")));
    assert_eq!(code, 1);
    let fails = failed(&report);
    assert_eq!(fails.len(), 2, "{report}");
    assert!(
        fails.iter().all(|f| f.starts_with("server on IPv6 only")),
        "{report}"
    );

    let (code, report) = grade("5", &refs(&py("broken_tls_noverify.py")));
    assert_eq!(code, 1);
    assert_eq!(failed(&report).len(), 1, "{report}");
    assert!(
        report.contains("FAIL  refuses a PMU whose certificate the CA did not sign"),
        "{report}"
    );
}

#[test]
fn the_json_result_is_the_course_s_format() {
    let dir = std::env::temp_dir().join(format!("pmulab-grade-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("result.json");
    let me = pmulab().display().to_string();
    let mut cmd = pmulab_cmd(["grade", "6", "--json"]);
    cmd.arg(&json).args(["--", &me, "pdc", "--ws"]);
    assert_eq!(run(cmd, LIMIT).code(), 0);
    assert_eq!(
        std::fs::read_to_string(&json).unwrap(),
        "{\"max_grade\": 5, \"score\": 5, \"success\": 1}\n"
    );
    let mut cmd = pmulab_cmd(["grade", "2", "--json"]);
    cmd.arg(&json).arg("--").args(py("broken_pdc_glued.py"));
    assert_eq!(run(cmd, LIMIT).code(), 1);
    let text = std::fs::read_to_string(&json).unwrap();
    assert!(
        text.starts_with("{\"max_grade\": 5, \"score\": ") && text.ends_with("\"success\": 0}\n"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
