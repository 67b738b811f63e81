//! `pmulab grade`: pmulab's own programs and students' Python solutions
//! pass; broken solutions fail the checks that catch their bug; programs
//! that do nothing score 0; what the course accepted passes.
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use pmulab_tests::*;

const LIMIT: Duration = Duration::from_secs(300);

/// Grades `program` on `part`; returns (exit code, report, stderr).
fn grade_with(part: &str, options: &[&str], program: &[&str]) -> Output {
    let mut cmd = pmulab_cmd(["grade", part]);
    if !options.contains(&"--timeout") {
        cmd.args(["--timeout", "20"]);
    }
    cmd.args(options).arg("--").args(program);
    run(cmd, LIMIT)
}

/// Grades `program` on `part`; returns (exit code, report).
fn grade(part: &str, program: &[&str]) -> (i32, String) {
    let out = grade_with(part, &[], program);
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
fn pmulab_s_own_programs_pass_every_part() {
    let me = pmulab().display().to_string();
    for (part, args) in [
        ("2", vec![me.as_str(), "pdc"]),
        ("3", vec![me.as_str(), "reset", "--timeout", "0.2"]),
        ("5", vec![me.as_str(), "secure-pmu"]),
        ("6", vec![me.as_str(), "pdc", "--ws"]),
    ] {
        let (code, report) = grade(part, &args);
        assert_eq!(code, 0, "part {part}: {report}");
        assert!(report.contains("score 5 / 5"), "{report}");
    }
    let out = grade_with("5", &["--role", "pdc"], &[me.as_str(), "secure-pdc"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let out = grade_with("4", &["--role", "receiver"], &[me.as_str(), "receiver"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let out = grade_with("4", &["--role", "sender"], &[me.as_str(), "sender"]);
    assert_eq!(out.code(), 0, "{out:?}");
    // Without a role, both are graded, and a receiver cannot send.
    let (code, report) = grade("4", &[me.as_str(), "receiver"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(failed(&report).len(), 1, "{report}");
}

#[test]
fn students_python_solutions_pass() {
    for (part, script) in [
        ("2", "student_pdc.py"),
        ("3", "student_reset.py"),
        ("5", "student_secure_pmu.py"),
        ("6", "student_ws_pdc.py"),
    ] {
        let (code, report) = grade(part, &refs(&py(script)));
        assert_eq!(code, 0, "part {part} {script}: {report}");
    }
    let out = grade_with("5", &["--role", "pdc"], &refs(&py("course_tls_client.py")));
    assert_eq!(out.code(), 0, "{out:?}");
    for (role, script) in [
        ("receiver", "student_mc_receiver.py"),
        ("sender", "student_mc_sender.py"),
    ] {
        let out = grade_with("4", &["--role", role], &refs(&py(script)));
        assert_eq!(out.code(), 0, "{script}: {out:?}");
    }
}

#[test]
fn broken_solutions_fail_the_right_checks() {
    let (code, report) = grade("2", &refs(&py("broken_pdc_fixed_n.py")));
    assert_eq!(code, 1);
    let fails = failed(&report);
    for n in ["2", "17"] {
        let check = format!("CMD_short:0 with n = {n}");
        assert!(fails.iter().any(|f| f.starts_with(&check)), "{report}");
    }
    assert!(
        !fails
            .iter()
            .any(|f| f.starts_with("CMD_short:0 with n = 15:")),
        "n = 15 is what it hard-codes: {report}"
    );

    let (code, report) = grade("2", &refs(&py("broken_pdc_glued.py")));
    assert_eq!(code, 1);
    assert!(report.contains("printed glued on one line"), "{report}");

    let out = grade_with(
        "3",
        &["--timeout", "5"],
        &refs(&py("broken_reset_v4_only.py")),
    );
    assert_eq!(out.code(), 1);
    let fails = failed(&out.stdout);
    assert_eq!(fails.len(), 2, "{}", out.stdout);
    assert!(
        fails
            .iter()
            .all(|f| f.starts_with("server on IPv6 only") && f.contains("both families")),
        "{}",
        out.stdout
    );

    let out = grade_with(
        "5",
        &["--role", "pdc"],
        &refs(&py("broken_tls_noverify.py")),
    );
    assert_eq!(out.code(), 1);
    assert_eq!(failed(&out.stdout).len(), 1, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("FAIL  refuses a PMU whose certificate the CA did not sign"),
        "{}",
        out.stdout
    );
}

/// `true` and `false` did nothing: no part may give them a point, and
/// each check says why.
#[test]
fn programs_that_do_nothing_score_zero_in_every_part() {
    for program in ["true", "false"] {
        for (part, options, reason) in [
            ("2", &[][..], "never connected to the PMU"),
            ("3", &[][..], "received no request"),
            ("4", &[][..], "none of the bot's"),
            ("5", &[][..], "exited before it listened"),
            ("5", &["--role", "pdc"][..], "never connected"),
            ("6", &[][..], "never connected to the WebSocket PMU"),
        ] {
            let out = grade_with(part, options, &[program]);
            assert_eq!(out.code(), 1, "part {part} {program}: {out:?}");
            assert!(
                out.stdout.contains("score 0 / 5"),
                "part {part} {program}: {}",
                out.stdout
            );
            assert!(!out.stdout.contains("PASS"), "{}", out.stdout);
            assert!(
                out.stdout.contains(reason),
                "part {part} {program}: {}",
                out.stdout
            );
        }
    }
}

#[test]
fn part_5_grades_the_secure_pmu_as_the_course_did() {
    let pmu = py("student_secure_pmu.py");
    let with_mode = |mode: &str| {
        let mut v = pmu.clone();
        v.extend(["--mode".to_string(), mode.to_string()]);
        grade_with("5", &["--timeout", "3"], &refs(&v))
    };
    // Both the course's version 1 certificate and a version 3 one.
    let out = with_mode("tls");
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stdout
            .contains("PASS  the course's client; certificate signed as the course did (X.509 v1)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("(X.509 v3)"), "{}", out.stdout);
    // A PMU that keeps the connection open after its messages passes.
    let out = with_mode("keep-open");
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stdout.contains("kept the connection open"),
        "{}",
        out.stdout
    );
    for (mode, reason) in [
        ("plain", "did not answer with TLS"),
        ("silent", "sent nothing"),
        ("wrong", "not `This is PMU data 0`"),
    ] {
        let out = with_mode(mode);
        assert_eq!(out.code(), 1, "{mode}: {out:?}");
        assert_eq!(failed(&out.stdout).len(), 2, "{}", out.stdout);
        assert!(out.stdout.contains(reason), "{mode}: {}", out.stdout);
    }
    let sleeper = [
        python().display().to_string(),
        "-c".to_string(),
        "import time; time.sleep(30)".to_string(),
    ];
    let out = grade_with("5", &["--timeout", "2"], &refs(&sleeper));
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stdout.contains("did not listen on port"),
        "{}",
        out.stdout
    );
}

fn sh(program: &str, args: &[&str], dir: &Path) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The files a student of the course had: an RSA key, a CSR with whatever
/// name, and a version 1 certificate from `openssl x509 -req`.
#[test]
fn part_5_grades_with_the_student_s_own_course_signed_files() {
    let dir = std::env::temp_dir().join(format!("pmulab-grade-own-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    sh("openssl", &["genrsa", "-out", "ca.key", "2048"], &dir);
    sh(
        "openssl",
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-days",
            "365",
            "-out",
            "ca.crt",
            "-subj",
            "/CN=Course CA",
        ],
        &dir,
    );
    sh(
        "openssl",
        &["genrsa", "-out", "banana_key.pem", "2048"],
        &dir,
    );
    sh(
        "openssl",
        &[
            "req",
            "-new",
            "-key",
            "banana_key.pem",
            "-out",
            "banana.csr",
            "-subj",
            "/C=AU/ST=Some-State/O=Internet Widgits Pty Ltd",
        ],
        &dir,
    );
    sh(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            "banana.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "banana.crt",
            "-days",
            "730",
        ],
        &dir,
    );
    let path = |f: &str| dir.join(f).display().to_string();
    let out = grade_with(
        "5",
        &[
            "--certificate",
            &path("banana.crt"),
            "--key",
            &path("banana_key.pem"),
            "--ca",
            &path("ca.crt"),
        ],
        &refs(&py("student_secure_pmu.py")),
    );
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stdout.contains("with your certificate and CA"),
        "{}",
        out.stdout
    );
    // Half of the files is a usage error, found before anything runs.
    let out = grade_with(
        "5",
        &["--certificate", &path("banana.crt")],
        &refs(&py("student_secure_pmu.py")),
    );
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn what_the_course_accepted_passes_with_notes() {
    // print() of every 1024-byte read of the floodme: 5/5 on the course's scorer.
    let (code, report) = grade("2", &refs(&py("course_graded_pdc.py")));
    assert_eq!(code, 0, "{report}");
    // Complete output, then it never exits: judged by its output.
    let mut hang = py("course_graded_pdc.py");
    hang.push("--hang".into());
    let (code, report) = grade("2", &refs(&hang));
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains("note: it did not exit by itself"),
        "{report}"
    );
    // A sender that dies of EOFError after sending every line.
    let out = grade_with("4", &["--role", "sender"], &refs(&py("mc_sender_eof.py")));
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stdout.contains("exited with status 1"),
        "{}",
        out.stdout
    );
}

#[test]
fn the_verdict_does_not_depend_on_the_caller_s_environment() {
    // The receiver never flushes: its lines are lost when it is stopped, as
    // on the course's scorer — even when the caller has PYTHONUNBUFFERED set.
    let mut cmd = pmulab_cmd(["grade", "4", "--role", "receiver", "--"]);
    cmd.args(py("mc_receiver_unflushed.py"))
        .env("PYTHONUNBUFFERED", "1");
    let out = run(cmd, LIMIT);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stdout.contains("flush=True"), "{}", out.stdout);
}

#[test]
fn part_6_scores_binary_messages_and_notes_text() {
    let (code, report) = grade("6", &refs(&py("student_ws_pdc.py")));
    assert_eq!(code, 0, "{report}");
    assert!(report.contains("NOTE  text messages"), "{report}");
    assert!(report.contains("3 of 3 checks passed"), "{report}");
}

#[test]
fn the_json_result_is_the_course_s_format_and_a_bad_path_is_refused_first() {
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
    let mut cmd = pmulab_cmd(["grade", "2", "--json", "/nonexistent/dir/result.json"]);
    cmd.args(["--", &me, "pdc"]);
    let out = run(cmd, LIMIT);
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(
        out.stdout.is_empty(),
        "graded before refusing: {}",
        out.stdout
    );
    assert!(out.stderr.contains("nothing was graded"), "{}", out.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}
