//! `pmulab grade <part> -- <program> [args…]`: the course's scoring system,
//! locally. Fresh servers for every scenario, the program run with the
//! part's prototype, a check of what it printed and how it exited.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use pmulab_core::flood;

use super::pdc::seconds;
use super::serve::{default_state_dir, tls_material};
use crate::ca;
use crate::cli::GradeArgs;
use crate::failure::Failure;
use crate::launch::{self, Finished, Launched};
use crate::output::say;

/// The course's maximum grade per part.
const MAX_GRADE: f64 = 5.0;

/// One check's verdict, with the program's output kept.
struct Check {
    name: String,
    passed: bool,
    detail: String,
    output: String,
}

/// The program under test.
struct Program {
    exe: OsString,
    args: Vec<String>,
    limit: Duration,
}

impl Program {
    fn run(&self, extra: &[String], input: &str) -> Result<Finished, Failure> {
        let mut args = self.args.clone();
        args.extend_from_slice(extra);
        launch::run(&self.exe, &args, input, self.limit)
    }

    /// Runs it through `sh -c SCRIPT` where "$@" is the program and its arguments.
    fn run_in(
        &self,
        wrapper: &[&str],
        script: &str,
        extra: &[String],
    ) -> Result<Finished, Failure> {
        let mut args: Vec<String> = wrapper.iter().map(|s| s.to_string()).collect();
        args.extend(["sh".into(), "-c".into(), script.into(), "grade".into()]);
        args.push(self.exe.to_string_lossy().into_owned());
        args.extend(self.args.iter().cloned());
        args.extend_from_slice(extra);
        let (first, rest) = args
            .split_first()
            .ok_or_else(|| Failure::runtime("empty wrapper"))?;
        launch::run(
            first.as_ref(),
            rest,
            "",
            self.limit + Duration::from_secs(5),
        )
    }
}

fn show(f: &Finished) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "exit {}{}\n--- stdout ---\n{}--- stderr ---\n{}",
        f.code.map_or("by signal".into(), |c| c.to_string()),
        if f.timed_out { " (time limit)" } else { "" },
        f.stdout,
        f.stderr
    );
    out
}

fn messages(n: u32) -> Vec<String> {
    (0..n).map(|i| format!("This is PMU data {i}")).collect()
}

/// What the program printed of `text`: all of it, less one newline it may
/// have added after it.
fn printed_text<'a>(stdout: &'a str, text: &[u8]) -> &'a str {
    match stdout.len() == text.len() + 1 {
        true => stdout.strip_suffix('\n').unwrap_or(stdout),
        false => stdout,
    }
}

/// Compares printed lines with the expected messages; a sentence on failure.
fn lines_match(stdout: &str, expected: &[String]) -> Result<(), String> {
    let got: Vec<&str> = stdout
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    if got == expected {
        return Ok(());
    }
    if got.len() == 1 && expected.len() > 1 && got[0] == expected.concat() {
        return Err("the messages were printed glued on one line, not one per line".into());
    }
    if got.len() != expected.len() {
        return Err(format!(
            "expected {} messages, one per line; got {} lines",
            expected.len(),
            got.len()
        ));
    }
    let first = got
        .iter()
        .zip(expected)
        .position(|(g, e)| g != e)
        .unwrap_or(0);
    Err(format!(
        "line {} is {:?}, expected {:?}",
        first + 1,
        got[first],
        expected[first]
    ))
}

fn check(name: &str, f: &Finished, verdict: Result<(), String>) -> Check {
    let verdict = match (f.code, verdict) {
        (_, Err(why)) => Err(why),
        (Some(0), Ok(())) => Ok(()),
        (code, Ok(())) => Err(match (f.timed_out, code) {
            (true, _) => "did not finish within the time limit".into(),
            (false, Some(c)) => format!("printed the right thing but exited with status {c}"),
            (false, None) => "was killed by a signal".into(),
        }),
    };
    Check {
        name: name.to_string(),
        passed: verdict.is_ok(),
        detail: verdict.err().unwrap_or_default(),
        output: show(f),
    }
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn start(name: &str, argv: &[&str]) -> Result<(Launched, String), Failure> {
    let server = Launched::start(name, &args(argv), "listening on")?;
    let port = server
        .address()
        .map(|a| a.port().to_string())
        .ok_or_else(|| Failure::runtime(format!("the {name} did not say its port")))?;
    Ok((server, port))
}

/// Part 2: the TCP PDC.
fn part2(p: &Program) -> Result<Vec<Check>, Failure> {
    let mut checks = Vec::new();
    for n in [15u32, 2, 17] {
        let (_pmu, port) = start(
            "TCP PMU",
            &["pmu", "--port", "0", "--count", &n.to_string()],
        )?;
        let f = p.run(&args(&["127.0.0.1", &port, "CMD_short:0"]), "")?;
        checks.push(check(
            &format!("CMD_short:0 with n = {n}"),
            &f,
            lines_match(&f.stdout, &messages(n)),
        ));
    }
    let (pmu, port) = start(
        "TCP PMU",
        &["pmu", "--port", "0", "--count", "random", "-v"],
    )?;
    for run_no in 1..=3 {
        let f = p.run(&args(&["127.0.0.1", &port, "CMD_short:0"]), "")?;
        let n = pmu
            .drain()
            .iter()
            .find_map(|l| {
                l.split("CMD_short:0: ")
                    .nth(1)?
                    .split(' ')
                    .next()?
                    .parse::<u32>()
                    .ok()
            })
            .unwrap_or(0);
        checks.push(check(
            &format!("CMD_short:0 with a random n (run {run_no}, n = {n})"),
            &f,
            lines_match(&f.stdout, &messages(n)),
        ));
    }
    let (_pmu, port) = start("TCP PMU", &["pmu", "--port", "0", "--count", "3"])?;
    let f = p.run(&args(&["127.0.0.1", &port, "CMD_short:1"]), "")?;
    checks.push(check(
        "CMD_short:1 (a second between messages)",
        &f,
        lines_match(&f.stdout, &messages(3)),
    ));
    let (_pmu, port) = start("TCP PMU", &["pmu", "--port", "0"])?;
    let f = p.run(&args(&["127.0.0.1", &port, "CMD_floodme"]), "")?;
    let mut text = vec![0u8; flood::DEFAULT_FLOOD_BYTES as usize];
    flood::fill(0, &mut text);
    let got = printed_text(&f.stdout, &text);
    let verdict = match got.as_bytes() == text.as_slice() {
        true => Ok(()),
        false => Err(format!(
            "expected the {}-byte text exactly; got {} bytes",
            text.len(),
            got.len()
        )),
    };
    checks.push(check("CMD_floodme (57344 bytes)", &f, verdict));
    Ok(checks)
}

/// Runs the program with a name that has both an A and an AAAA record, in a
/// private mount namespace with its own /etc/hosts (as root); elsewhere,
/// with `localhost`.
fn run_by_name(p: &Program, port: &str, hosts: &Path) -> Result<Finished, Failure> {
    let script = format!(
        "mount --bind '{}' /etc/hosts 2>/dev/null || exit 97; exec \"$@\"",
        hosts.display()
    );
    let f = p.run_in(&["unshare", "-m"], &script, &args(&["pmu.lab", port]))?;
    if f.code == Some(97) || (f.code == Some(1) && f.stderr.contains("unshare")) {
        return p.run(&args(&["localhost", port]), "");
    }
    Ok(f)
}

/// Part 3: the UDP reset client.
fn part3(p: &Program) -> Result<Vec<Check>, Failure> {
    let dir = scratch_dir("part3")?;
    let hosts = dir.join("hosts");
    std::fs::write(
        &hosts,
        "127.0.0.1 pmu.lab localhost\n::1 pmu.lab localhost\n",
    )
    .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", hosts.display())))?;
    let mut checks = Vec::new();
    for (family, what) in [
        ("4", "IPv4 only"),
        ("6", "IPv6 only"),
        ("both", "both families"),
    ] {
        for loss in ["0", "0.5"] {
            let (_pmu, port) = start(
                "UDP reset PMU",
                &[
                    "reset-pmu",
                    "--port",
                    "0",
                    "--family",
                    family,
                    "--loss",
                    loss,
                    "--seed",
                    "7",
                ],
            )?;
            let f = run_by_name(p, &port, &hosts)?;
            let verdict = match f.stdout.split("OFFSET=").nth(1).and_then(|r| {
                let digits: String = r.chars().take_while(char::is_ascii_digit).collect();
                digits.parse::<u32>().ok()
            }) {
                Some(x) if x <= 20 => Ok(()),
                Some(x) => Err(format!("printed OFFSET={x}, above 20")),
                None => Err("no OFFSET=X answer printed".into()),
            };
            checks.push(check(
                &format!("server on {what}, loss {loss}"),
                &f,
                verdict,
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(checks)
}

fn scratch_dir(name: &str) -> Result<std::path::PathBuf, Failure> {
    let dir = std::env::temp_dir().join(format!("pmulab-grade-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}

/// Part 4: multicast, receiving and sending, inside a private network
/// namespace whose only interface is loopback (with the multicast route on
/// it), so a program that joins "any" interface hears loopback traffic and
/// nothing leaves the machine.
fn part4(p: &Program, role: Option<&str>) -> Result<Vec<Check>, Failure> {
    let me = launch::self_exe()?.display().to_string();
    let setup = "ip link set lo up && ip route add 224.0.0.0/4 dev lo || exit 97";
    let receive = format!(
        "{setup}; printf 'First line\\nSecond line\\n' | '{me}' bot 239.255.4.4 14505 - 0.2 >/dev/null 2>&1 & \
sleep 0.2; timeout 4 \"$@\"; status=$?; kill $! 2>/dev/null; [ $status = 124 ] && exit 0; exit $status"
    );
    let mut checks = Vec::new();
    if role != Some("sender") {
        let f = p.run_in(
            &["unshare", "-n"],
            &receive,
            &args(&["239.255.4.4", "14505"]),
        )?;
        if f.code == Some(97) {
            return Err(Failure::runtime(
                "part 4 needs a network namespace (run as root, with iproute2)",
            ));
        }
        let heard = ["First line", "Second line"]
            .iter()
            .all(|line| f.stdout.contains(line));
        let verdict = match heard {
            true => Ok(()),
            false => Err("did not print the broadcaster's lines".into()),
        };
        checks.push(check("receiving the bot's messages", &f, verdict));
    }
    if role == Some("receiver") {
        return Ok(checks);
    }
    let dir = scratch_dir("part4")?;
    let out = dir.join("received.txt").display().to_string();
    let send = format!(
        "{setup}; '{me}' receiver 239.255.4.5 14506 --count 2 > '{out}' 2>/dev/null & r=$!; sleep 0.3; \
printf 'hello group\\nsecond message\\n' | timeout 10 \"$@\"; status=$?; sleep 0.5; kill $r 2>/dev/null; cat '{out}'; exit $status"
    );
    let f = p.run_in(
        &["unshare", "-n"],
        &send,
        &args(&["239.255.4.5", "14506", "123456"]),
    )?;
    let verdict = match (
        f.stdout.contains("123456: hello group"),
        f.stdout.contains("123456: second message"),
    ) {
        (true, true) => Ok(()),
        _ => Err("a receiver did not get `123456` + each line of standard input".into()),
    };
    checks.push(check(
        "sending standard input with the 6-byte id",
        &f,
        verdict,
    ));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(checks)
}

/// Part 5: the TLS PDC: it gets the messages, and it refuses a PMU whose
/// certificate the CA did not sign.
fn part5(p: &Program) -> Result<Vec<Check>, Failure> {
    let state = default_state_dir();
    std::fs::create_dir_all(&state)
        .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", state.display())))?;
    let (ca_crt, crt, key) = tls_material(&state)?;
    let ca_arg = ca_crt.display().to_string();
    let mut checks = Vec::new();
    let (_pmu, port) = start(
        "TLS PMU",
        &[
            "secure-pmu",
            "0",
            &crt.display().to_string(),
            &key.display().to_string(),
        ],
    )?;
    let f = p.run(&args(&["CMD_short:0", &ca_arg, "--port", &port]), "")?;
    let glued: String = f.stdout.lines().collect();
    let verdict = match glued == messages(15).concat() {
        true => Ok(()),
        false => Err("expected the 15 messages (one per line, or as read)".into()),
    };
    checks.push(check("TLS session verified against the CA", &f, verdict));
    // A PMU whose certificate comes from another CA: the client must refuse it.
    let dir = scratch_dir("part5")?;
    let other = dir.join("other-ca");
    ca::init(&other, &ca::default_name(), true).map_err(|e| Failure::runtime(e.to_string()))?;
    let (other_key, csr) =
        ca::request(&dir, "localhost").map_err(|e| Failure::runtime(e.to_string()))?;
    let other_crt = dir.join("impostor.crt");
    ca::sign(&csr, &other, &other_crt, 30, None).map_err(|e| Failure::runtime(e.to_string()))?;
    let (_impostor, port) = start(
        "impostor TLS PMU",
        &[
            "secure-pmu",
            "0",
            &other_crt.display().to_string(),
            &other_key.display().to_string(),
        ],
    )?;
    let f = p.run(&args(&["CMD_short:0", &ca_arg, "--port", &port]), "")?;
    let refused = !f.stdout.contains("This is PMU data") && f.code != Some(0);
    let c = Check {
        name: "refuses a PMU whose certificate the CA did not sign".into(),
        passed: refused,
        detail: if refused {
            String::new()
        } else {
            "talked to a PMU it should not trust: the chain is not verified".into()
        },
        output: show(&f),
    };
    checks.push(c);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(checks)
}

/// Part 6: the WebSocket PDC.
fn part6(p: &Program) -> Result<Vec<Check>, Failure> {
    let mut checks = Vec::new();
    let (_ws, port) = start("WebSocket PMU", &["ws-pmu", "--port", "0"])?;
    let f = p.run(&args(&["127.0.0.1", &port, "CMD_short:0"]), "")?;
    checks.push(check(
        "binary messages, one per line",
        &f,
        lines_match(&f.stdout, &messages(15)),
    ));
    let (_ws, port) = start(
        "WebSocket PMU",
        &["ws-pmu", "--port", "0", "--text", "--count", "4"],
    )?;
    let f = p.run(&args(&["127.0.0.1", &port, "CMD_short:0"]), "")?;
    checks.push(check(
        "text messages, n = 4",
        &f,
        lines_match(&f.stdout, &messages(4)),
    ));
    let (_ws, port) = start(
        "WebSocket PMU",
        &["ws-pmu", "--port", "0", "--fragment", "4096"],
    )?;
    let f = p.run(&args(&["127.0.0.1", &port, "CMD_floodme"]), "")?;
    let mut text = vec![0u8; flood::DEFAULT_FLOOD_BYTES as usize];
    flood::fill(0, &mut text);
    let verdict = match printed_text(&f.stdout, &text).as_bytes() == text.as_slice() {
        true => Ok(()),
        false => Err("expected the floodme message whole, from its 14 frames".into()),
    };
    checks.push(check("CMD_floodme fragmented into frames", &f, verdict));
    Ok(checks)
}

/// Runs the grading and prints the report.
pub fn run(args: GradeArgs) -> Result<(), Failure> {
    let (exe, rest) = args
        .program
        .split_first()
        .ok_or_else(|| Failure::usage("give the program to grade after --"))?;
    let program = Program {
        exe: OsString::from(exe),
        args: rest.to_vec(),
        limit: seconds(args.timeout, "--timeout")?,
    };
    let checks = match args.part {
        2 => part2(&program)?,
        3 => part3(&program)?,
        4 => part4(&program, args.role.as_deref())?,
        5 => part5(&program)?,
        _ => part6(&program)?,
    };
    let passed = checks.iter().filter(|c| c.passed).count();
    say!(
        "pmulab grade: part {} — {}",
        args.part,
        args.program.join(" ")
    )?;
    for c in &checks {
        say!(
            "  {}  {}{}",
            if c.passed { "PASS" } else { "FAIL" },
            c.name,
            if c.passed {
                String::new()
            } else {
                format!(": {}", c.detail)
            }
        )?;
        if !c.passed || args.show_output {
            for line in c.output.lines().take(30) {
                say!("        {line}")?;
            }
        }
    }
    let score = (MAX_GRADE * passed as f64 / checks.len().max(1) as f64 * 100.0).round() / 100.0;
    let success = u8::from(passed == checks.len());
    say!(
        "{passed} of {} checks passed: score {score} / {MAX_GRADE}",
        checks.len()
    )?;
    if let Some(path) = &args.json {
        let json =
            format!("{{\"max_grade\": {MAX_GRADE}, \"score\": {score}, \"success\": {success}}}\n");
        std::fs::write(path, json)
            .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", path.display())))?;
    }
    match success {
        1 => Ok(()),
        _ => Err(Failure::runtime(format!(
            "{} of {} checks failed",
            checks.len() - passed,
            checks.len()
        ))),
    }
}
