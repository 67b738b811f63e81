//! Part 3: the UDP reset PDC, `PROGRAM <server> <port>`.

use std::path::Path;
use std::time::Duration;

use pmulab_core::reset::codec::{Offset, Reset};
use pmulab_core::reset::responder::{Family, FamilySchedule};

use super::program::{Program, Ran};
use super::report::{Check, Report};
use super::witness::{Fate, RequestSeen, ResetWitness};
use crate::ui::failure::Failure;

/// The lab's wait for an answer before asking again.
const LAB_WAIT: Duration = Duration::from_secs(1);
/// Retransmitting sooner than this is worth a note.
const HASTY: Duration = Duration::from_millis(800);
/// Requests this close together belong to one round.
const ROUND: Duration = Duration::from_millis(250);

/// The first `OFFSET=X` the program printed.
fn printed_offset(stdout: &str) -> Option<u32> {
    Offset::find_in(stdout.as_bytes()).map(|o| o.seconds)
}

/// Runs the program with a name that has both an A and an AAAA record, in a
/// private mount namespace with its own /etc/hosts (as root); elsewhere,
/// with `localhost`. Says whether the name had both addresses.
fn run_by_name(
    program: &Program,
    port: &str,
    hosts: &Path,
    complete: &dyn Fn(&str) -> bool,
) -> Result<(Ran, bool), Failure> {
    let script = format!(
        "mount --bind '{}' /etc/hosts 2>/dev/null || exit 97; exec \"$@\"",
        hosts.display()
    );
    let args = vec!["pmu.lab".to_string(), port.to_string()];
    let ran = program.run_in(&["unshare", "-m"], &script, &args, complete)?;
    let no_namespace = matches!(ran.ending, super::program::Ending::Exited(97))
        || (matches!(ran.ending, super::program::Ending::Exited(1))
            && ran.stderr.contains("unshare"));
    if no_namespace {
        let args = vec!["localhost".to_string(), port.to_string()];
        return Ok((program.run(&args, "", complete)?, false));
    }
    Ok((ran, true))
}

/// Judges a run from the requests the PMU received and what was printed.
/// `waited`: the program ran until it was stopped (it did not give up).
fn judge(
    requests: &[RequestSeen],
    stdout: &str,
    schedule: FamilySchedule,
    waited: bool,
) -> Result<(), String> {
    let valid: Vec<&RequestSeen> = requests
        .iter()
        .filter(|r| r.fate != Fate::Malformed)
        .collect();
    if valid.is_empty() {
        let malformed = requests.len();
        let only = match schedule {
            FamilySchedule::Only(Family::V4) => Some("IPv4"),
            FamilySchedule::Only(Family::V6) => Some("IPv6"),
            _ => None,
        };
        return Err(match (malformed, only, waited) {
            (1.., _, _) => {
                format!(
                    "the PMU received {malformed} datagrams but no {} request among them",
                    Reset::LAB
                )
            }
            (0, Some(only), true) => format!(
                "the PMU, on {only} only, received no request: does it ask over both \
families (the name has an A and an AAAA address)?"
            ),
            (0, _, _) => "the PMU received no request".into(),
        });
    }
    let answers: Vec<u32> = valid
        .iter()
        .filter_map(|r| match r.fate {
            Fate::Answered(x) => Some(x),
            _ => None,
        })
        .collect();
    if answers.is_empty() {
        return Err(format!(
            "the PMU lost all {} of its requests and it asked no more: does it ask again after \
{} s without an answer?",
            valid.len(),
            LAB_WAIT.as_secs()
        ));
    }
    let shown: Vec<String> = answers.iter().map(|x| format!("OFFSET={x}")).collect();
    match printed_offset(stdout) {
        None => Err(format!(
            "the PMU answered {} but it printed no OFFSET=X",
            shown.join(", ")
        )),
        Some(x) if !answers.contains(&x) => Err(format!(
            "it printed OFFSET={x}, but the PMU answered {}",
            shown.join(", ")
        )),
        Some(_) => Ok(()),
    }
}

/// What the handout asks of the retries that the course is not known to
/// have checked: a second between rounds, and every family in each round.
fn notes(requests: &[RequestSeen], both_served: bool, name_has_both: bool) -> Vec<String> {
    let valid: Vec<&RequestSeen> = requests
        .iter()
        .filter(|r| r.fate != Fate::Malformed)
        .collect();
    let mut notes = Vec::new();
    for family in [Family::V4, Family::V6] {
        let times: Vec<Duration> = valid
            .iter()
            .filter(|r| r.family == family)
            .map(|r| r.at)
            .collect();
        let quickest = times.windows(2).map(|w| w[1].saturating_sub(w[0])).min();
        if let Some(gap) = quickest
            && gap < HASTY
        {
            notes.push(format!(
                "it asked again {:.2} s after a request; the lab waits {} s for an answer before asking again",
                gap.as_secs_f64(),
                LAB_WAIT.as_secs()
            ));
            break;
        }
    }
    if both_served && name_has_both && valid.len() >= 2 {
        let has = |f: Family| valid.iter().any(|r| r.family == f);
        if !(has(Family::V4) && has(Family::V6)) {
            notes.push(
                "it asked over one family only, though the name has an IPv4 and an IPv6 address"
                    .into(),
            );
        } else {
            let alone = valid.iter().filter(|r| {
                !valid
                    .iter()
                    .any(|o| o.family != r.family && o.at.abs_diff(r.at) <= ROUND)
            });
            if alone.count() > 0 {
                notes.push(
                    "some rounds asked one family only; the lab sends each round to every family, \
then waits"
                        .into(),
                );
            }
        }
    }
    notes
}

/// Part 3's checks.
pub fn grade(report: &mut Report, program: &Program, scratch: &Path) -> Result<(), Failure> {
    let hosts = scratch.join("hosts");
    std::fs::write(
        &hosts,
        "127.0.0.1 pmu.lab localhost\n::1 pmu.lab localhost\n",
    )
    .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", hosts.display())))?;
    for (what, schedule) in [
        ("IPv4 only", FamilySchedule::Only(Family::V4)),
        ("IPv6 only", FamilySchedule::Only(Family::V6)),
        ("both families", FamilySchedule::Both),
    ] {
        for loss in [0.0, 0.5] {
            let pmu = ResetWitness::start(schedule, loss)?;
            let complete = |stdout: &str| {
                printed_offset(stdout).is_some()
                    && pmu
                        .requests()
                        .iter()
                        .any(|r| matches!(r.fate, Fate::Answered(_)))
            };
            let (ran, name_has_both) =
                run_by_name(program, &pmu.port().to_string(), &hosts, &complete)?;
            let requests = pmu.requests();
            let answered = requests.iter().any(|r| matches!(r.fate, Fate::Answered(_)));
            let verdict = judge(&requests, &ran.stdout, schedule, ran.was_stopped());
            let mut check = Check::of(format!("server on {what}, loss {loss}"), &ran, verdict);
            if answered {
                check = check.delivered();
            }
            for note in notes(
                &requests,
                matches!(schedule, FamilySchedule::Both),
                name_has_both,
            ) {
                check = check.note(note);
            }
            report.add(check)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(at_ms: u64, family: Family, fate: Fate) -> RequestSeen {
        RequestSeen {
            at: Duration::from_millis(at_ms),
            family,
            fate,
        }
    }

    #[test]
    fn the_printed_offset_must_be_one_the_pmu_sent() {
        const V4: FamilySchedule = FamilySchedule::Only(Family::V4);
        const V6: FamilySchedule = FamilySchedule::Only(Family::V6);
        let answered = [
            request(0, Family::V4, Fate::Lost),
            request(1000, Family::V4, Fate::Answered(7)),
        ];
        assert_eq!(judge(&answered, "OFFSET=7\n", V4, false), Ok(()));
        assert!(
            judge(&answered, "OFFSET=5\n", V4, false)
                .is_err_and(|e| e.contains("answered OFFSET=7"))
        );
        assert!(judge(&answered, "", V4, false).is_err_and(|e| e.contains("printed no")));
        // A program that asked nothing cannot pass by printing.
        assert!(judge(&[], "OFFSET=7\n", V6, true).is_err_and(|e| e.contains("both")));
        assert!(judge(&[], "OFFSET=7\n", V6, false).is_err_and(|e| e.ends_with("no request")));
        let lost = [request(0, Family::V6, Fate::Lost)];
        assert!(judge(&lost, "", V6, false).is_err_and(|e| e.contains("ask again")));
    }

    #[test]
    fn hasty_retries_and_one_family_rounds_are_noted() {
        let lab = [
            request(0, Family::V4, Fate::Lost),
            request(1, Family::V6, Fate::Lost),
            request(1002, Family::V4, Fate::Lost),
            request(1003, Family::V6, Fate::Answered(3)),
        ];
        assert!(notes(&lab, true, true).is_empty());
        let hasty = [
            request(0, Family::V4, Fate::Lost),
            request(200, Family::V4, Fate::Answered(3)),
        ];
        assert!(notes(&hasty, false, true)[0].contains("0.20 s"));
        let alternating = [
            request(0, Family::V4, Fate::Lost),
            request(1000, Family::V6, Fate::Lost),
            request(2000, Family::V4, Fate::Answered(1)),
        ];
        assert!(
            notes(&alternating, true, true)
                .iter()
                .any(|n| n.contains("one family only"))
        );
    }
}
