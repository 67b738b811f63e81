//! `pmulab grade --batch`: a class graded in one command, every program
//! contained. Hostile submissions (a fork bomb, a memory hog, an endless
//! printer, one that leaves a daemon behind, one that writes outside its
//! directory, one that looks at its network) are each contained and
//! reported, the submissions after them graded normally, and nothing is
//! left running. Isolation is proven from inside (the interfaces and
//! routes the program sees), never by trying to reach outside.
//!
//! These need root or unprivileged user namespaces (CI runs as root).
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pmulab_tests::{peer, pmulab_cmd, run};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(300);

/// A fresh folder under the temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pmulab-batch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A class folder: each entry is (name, files as (file name, peer script)).
fn class(dir: &Path, entries: &[(&str, &[(&str, &str)])]) {
    for (name, files) in entries {
        match files {
            // A file entry: the submission is the script itself.
            [("", script)] => {
                std::fs::copy(peer(script), dir.join(name)).unwrap();
            }
            _ => {
                let folder = dir.join(name);
                std::fs::create_dir_all(&folder).unwrap();
                for (file, script) in *files {
                    std::fs::copy(peer(script), folder.join(file)).unwrap();
                }
            }
        }
    }
}

fn record(out: &Path, id: &str) -> Value {
    let path = out.join("records").join(format!("{id}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn contained(record: &Value) -> String {
    record["contained"].to_string()
}

fn report(out: &Path, id: &str) -> String {
    std::fs::read_to_string(out.join("reports").join(format!("{id}.txt"))).unwrap()
}

/// Processes of the sandbox's users (uid 3,000,000,000 and up) and
/// leftovers of the hostile programs: there must be none after a batch.
/// The tests look for leftover processes by the sandbox's uids, which every
/// batch shares: one test at a time, so one's running programs are not
/// taken for another's leftovers.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn leftovers(marker: &str) -> Vec<String> {
    let ps = Command::new("ps")
        .args(["-eo", "uid=,pid=,args="])
        .output()
        .unwrap();
    String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|l| {
            let uid: u64 = l
                .split_whitespace()
                .next()
                .and_then(|u| u.parse().ok())
                .unwrap_or(0);
            uid >= 3_000_000_000 || l.contains("sleep 3141") || l.contains(marker)
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn a_class_is_graded_contained_and_the_hostile_are_reported() {
    let _serial = one_at_a_time();
    let dir = scratch("class");
    let submissions = dir.join("submissions");
    let out = dir.join("grades");
    std::fs::create_dir_all(&submissions).unwrap();
    class(
        &submissions,
        &[
            ("alice", &[("PDC.py", "student_pdc.py")]),
            ("bob.py", &[("", "broken_pdc_glued.py")]),
            ("carol", &[("bomb.py", "hostile/fork_bomb.py")]),
            ("dave", &[("hog.py", "hostile/memory_hog.py")]),
            ("eve", &[("printer.py", "hostile/endless_printer.py")]),
            ("frank", &[("pdc.py", "hostile/leaves_child.py")]),
            ("grace", &[("pdc.py", "hostile/writes_home.py")]),
            ("heidi", &[("pdc.py", "hostile/lists_interfaces.py")]),
            ("ivan", &[("notes.txt", "requirements.txt")]),
            ("judy", &[("client.py", "student_pdc.py")]),
        ],
    );
    let start = Instant::now();
    let mut cmd = pmulab_cmd(["grade", "2", "--jobs", "2", "--timeout", "10", "--batch"]);
    cmd.arg(&submissions).arg("--out").arg(&out);
    let graded = run(cmd, LIMIT);
    let took = start.elapsed();
    assert_eq!(graded.code(), 0, "{graded:?}");
    assert!(
        graded.stdout.contains("10 of 10 submissions") && graded.stdout.contains("each contained"),
        "{}",
        graded.stdout
    );

    // The well-behaved, before and after the hostile ones, get full marks.
    for id in ["alice", "judy"] {
        assert_eq!(record(&out, id)["score"], 5.0, "{id}: {}", report(&out, id));
    }
    let bob = record(&out, "bob.py");
    let bob_score = bob["score"].as_f64().unwrap();
    assert!(bob_score > 0.0 && bob_score < 5.0, "{bob}");
    for id in ["carol", "dave", "eve", "frank", "grace", "heidi", "ivan"] {
        assert_eq!(record(&out, id)["score"], 0.0, "{id}: {}", report(&out, id));
    }
    // Each hostile one is contained and said to be.
    assert!(
        contained(&record(&out, "carol")).contains("fork bomb"),
        "{}",
        report(&out, "carol")
    );
    assert!(
        contained(&record(&out, "dave")).contains("of memory"),
        "{}",
        report(&out, "dave")
    );
    assert!(report(&out, "dave").contains("MemoryError"));
    assert!(contained(&record(&out, "eve")).contains("printed more than 1 MiB"));
    assert!(report(&out, "eve").contains("[pmulab: output cut here, after 1 MiB]"));
    assert!(
        contained(&record(&out, "frank"))
            .contains("it left processes running when it ended (1): killed")
    );
    let grace = report(&out, "grace");
    assert!(grace.contains("refused /root/pmulab-pwned"), "{grace}");
    assert!(
        grace.contains("refused /tmp/pmulab-pwned - Read-only file system"),
        "{grace}"
    );
    assert!(grace.contains("wrote allowed.txt in"), "{grace}");
    assert!(!grace.contains("WROTE"), "{grace}");
    assert!(!Path::new("/root/pmulab-pwned").exists() && !Path::new("/tmp/pmulab-pwned").exists());
    let heidi = report(&out, "heidi");
    assert!(heidi.contains("interfaces: lo\n"), "{heidi}");
    assert!(
        heidi.contains("ipv4 routes: 0\n") && heidi.contains("devices: lo\n"),
        "{heidi}"
    );
    let ivan = record(&out, "ivan");
    assert!(
        ivan["error"]
            .as_str()
            .unwrap()
            .starts_with("no program found"),
        "{ivan}"
    );

    // Nothing the programs started is still running.
    assert_eq!(
        leftovers(&submissions.display().to_string()),
        Vec::<String>::new()
    );

    // The class's files.
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 11, "{csv}");
    assert!(
        csv.starts_with("id,score,max,success,error,contained,CMD_short:0 with n = 15,"),
        "{csv}"
    );
    assert!(
        csv.contains("\nalice,5,5,1,,,pass,pass,pass,pass,pass,pass,pass,pass"),
        "{csv}"
    );
    let jsonl = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert_eq!(jsonl.lines().count(), 10);
    assert_eq!(
        std::fs::read_to_string(out.join("course").join("alice.json")).unwrap(),
        "{\"max_grade\": 5, \"score\": 5, \"success\": 1}\n"
    );
    let summary = std::fs::read_to_string(out.join("summary.txt")).unwrap();
    assert!(
        summary.contains("10 submissions graded, 2 with every check passed."),
        "{summary}"
    );
    assert!(graded.stdout.contains(&summary), "{}", graded.stdout);

    // A second run grades nothing again.
    let mut again = pmulab_cmd(["grade", "2", "--batch"]);
    again.arg(&submissions).arg("--out").arg(&out);
    let again = run(again, LIMIT);
    assert_eq!(again.code(), 0, "{again:?}");
    assert!(
        again.stdout.contains("10 already graded (skipped"),
        "{}",
        again.stdout
    );
    assert!(!again.stdout.contains("  alice "), "{}", again.stdout);
    eprintln!("10 submissions, 2 at a time, in {took:.1?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shards_cover_the_class_once_and_merge_into_it() {
    let _serial = one_at_a_time();
    let dir = scratch("shards");
    let submissions = dir.join("submissions");
    std::fs::create_dir_all(&submissions).unwrap();
    let names = ["ana", "ben", "cy", "dee", "eli", "fay", "gus"];
    for (i, name) in names.iter().enumerate() {
        // Quick to grade: the glued one passes floodme only; the rest fail at once.
        let script = match i % 3 {
            0 => "broken_pdc_glued.py",
            1 => "hostile/lists_interfaces.py",
            _ => "hostile/endless_printer.py",
        };
        class(&submissions, &[(name, &[("pdc.py", script)])]);
    }
    let mut shards = Vec::new();
    for k in 1..=3 {
        let out = dir.join(format!("shard-{k}"));
        let mut cmd = pmulab_cmd([
            "grade",
            "2",
            "--timeout",
            "5",
            "--shard",
            &format!("{k}/3"),
            "--batch",
        ]);
        cmd.arg(&submissions).arg("--out").arg(&out);
        let graded = run(cmd, LIMIT);
        assert_eq!(graded.code(), 0, "{graded:?}");
        assert!(
            graded.stdout.contains(&format!("(shard {k}/3)")),
            "{}",
            graded.stdout
        );
        shards.push(out);
    }
    let mut seen: Vec<String> = Vec::new();
    for out in &shards {
        for line in std::fs::read_to_string(out.join("results.jsonl"))
            .unwrap()
            .lines()
        {
            let record: Value = serde_json::from_str(line).unwrap();
            seen.push(record["id"].as_str().unwrap().to_string());
        }
    }
    seen.sort();
    assert_eq!(seen, names, "each submission in exactly one shard");

    let merged = dir.join("merged");
    let mut cmd = pmulab_cmd(["grade", "2", "--out"]);
    cmd.arg(&merged).arg("--merge").args(&shards);
    let joined = run(cmd, LIMIT);
    assert_eq!(joined.code(), 0, "{joined:?}");
    assert!(
        joined.stdout.contains("merged 7 records from 3 folders"),
        "{}",
        joined.stdout
    );
    let csv = std::fs::read_to_string(merged.join("results.csv")).unwrap();
    let ids: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(ids, names);
    assert!(
        std::fs::read_to_string(merged.join("summary.txt"))
            .unwrap()
            .contains("7 submissions graded")
    );

    // A folder that is not a results folder is refused.
    let mut cmd = pmulab_cmd(["grade", "2", "--out"]);
    cmd.arg(&merged).arg("--merge").arg(&submissions);
    let refused = run(cmd, LIMIT);
    assert_eq!(refused.code(), 2, "{refused:?}");
    assert!(
        refused.stderr.contains("not a results folder"),
        "{}",
        refused.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctrl_c_keeps_what_finished_and_a_second_run_goes_on() {
    let _serial = one_at_a_time();
    let dir = scratch("interrupt");
    let submissions = dir.join("submissions");
    let out = dir.join("grades");
    std::fs::create_dir_all(&submissions).unwrap();
    class(
        &submissions,
        &[
            ("a", &[("pdc.py", "student_pdc.py")]),
            ("b", &[("pdc.py", "hostile/hangs.py")]),
            ("c", &[("pdc.py", "student_pdc.py")]),
        ],
    );
    let mut batch = pmulab_cmd(["grade", "2", "--jobs", "1", "--timeout", "20", "--batch"]);
    batch
        .arg(&submissions)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = batch.spawn().unwrap();
    // Once `a` is kept, `b` (which hangs) is running: stop the batch.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !out.join("records").join("a.json").exists() {
        assert!(Instant::now() < deadline, "a was never graded");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let stopped = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&stopped.stderr);
    assert_eq!(stopped.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("stopped by Ctrl-C: 1 graded and kept"),
        "{stderr}"
    );
    assert!(!out.join("records").join("b.json").exists());
    assert!(!out.join("records").join("c.json").exists());
    assert_eq!(leftovers("hangs.py"), Vec::<String>::new());

    // Without the one that hangs, the same command goes on where it stopped.
    std::fs::remove_dir_all(submissions.join("b")).unwrap();
    let mut again = pmulab_cmd(["grade", "2", "--batch"]);
    again.arg(&submissions).arg("--out").arg(&out);
    let again = run(again, LIMIT);
    assert_eq!(again.code(), 0, "{again:?}");
    assert!(
        again.stdout.contains("1 already graded"),
        "{}",
        again.stdout
    );
    assert!(again.stdout.contains("  c "), "{}", again.stdout);
    assert_eq!(record(&out, "c")["score"], 5.0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_user_without_root_is_contained_by_a_user_namespace() {
    let _serial = one_at_a_time();
    // As nobody: the grader makes a user namespace, the program sees only
    // loopback and cannot write outside its directory.
    let dir = scratch("nobody");
    for script in [
        "student_pdc.py",
        "hostile/lists_interfaces.py",
        "hostile/writes_home.py",
    ] {
        let name = Path::new(script).file_name().unwrap();
        std::fs::copy(peer(script), dir.join(name)).unwrap();
    }
    // A copy nobody can run, wherever the checkout is.
    let exe = dir.join("pmulab");
    std::fs::copy(pmulab_tests::pmulab(), &exe).unwrap();
    let _ = Command::new("chmod")
        .arg("-R")
        .arg("a+rwX")
        .arg(&dir)
        .status();
    let as_nobody = |script: &str| {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .arg(&exe)
            .args([
                "grade",
                "2",
                "--timeout",
                "10",
                "--",
                "/usr/bin/python3",
                script,
            ])
            .current_dir(&dir)
            .env("HOME", &dir);
        run(cmd, LIMIT)
    };
    let good = as_nobody("student_pdc.py");
    assert_eq!(good.code(), 0, "{good:?}");
    assert!(
        good.stdout.contains("8 of 8 checks passed"),
        "{}",
        good.stdout
    );
    assert!(!good.stderr.contains("WITHOUT"), "{}", good.stderr);
    let looked = as_nobody("lists_interfaces.py");
    assert!(
        looked.stdout.contains("interfaces: lo\n"),
        "{}",
        looked.stdout
    );
    assert!(
        looked.stdout.contains("ipv4 routes: 0\n"),
        "{}",
        looked.stdout
    );
    let wrote = as_nobody("writes_home.py");
    assert!(
        wrote
            .stdout
            .contains("refused /tmp/pmulab-pwned - Read-only file system"),
        "{}",
        wrote.stdout
    );
    assert!(!wrote.stdout.contains("WROTE"), "{}", wrote.stdout);
    let _ = std::fs::remove_dir_all(&dir);
}
