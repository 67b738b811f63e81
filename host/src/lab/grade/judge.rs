//! Comparing what a program printed with what the grader's servers sent,
//! as leniently as the course's scorer was and no more.

use pmulab_core::stream::flood;

/// `This is PMU data 0` … `This is PMU data n-1`.
pub fn messages(n: u32) -> Vec<String> {
    let mut buf = [0u8; flood::MAX_MESSAGE_LEN];
    (0..n)
        .map(|i| {
            let len = flood::message(i, &mut buf);
            String::from_utf8_lossy(&buf[..len]).into_owned()
        })
        .collect()
}

/// The flood text of `size` bytes.
pub fn flood_text(size: u64) -> Vec<u8> {
    let mut text = vec![0u8; usize::try_from(size).unwrap_or(0)];
    flood::fill(0, &mut text);
    text
}

/// The printed lines, without trailing white space and empty lines.
fn printed_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Whether the messages were printed one per line, in order, and nothing else.
pub fn lines_match(stdout: &str, expected: &[String]) -> Result<(), String> {
    let got = printed_lines(stdout);
    if got == expected {
        return Ok(());
    }
    if got.len() == 1 && expected.len() > 1 && got[0] == expected.concat() {
        return Err("the messages were printed glued on one line, not one per line".into());
    }
    if got.is_empty() {
        return Err(format!(
            "expected {} messages, one per line; it printed nothing",
            expected.len()
        ));
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

/// Whether the lines printed so far are all the messages (the run may stop).
pub fn has_all_lines(stdout: &str, expected: &[String]) -> bool {
    printed_lines(stdout).len() >= expected.len()
}

/// Whether `printed` is `text`, complete and in order, with any line breaks
/// the program added (the course graded 5/5 a PDC that printed each
/// 1024-byte read with `print()`). `Err` says where it differs.
pub fn text_matches(printed: &[u8], text: &[u8]) -> Result<(), String> {
    let added_break = |b: u8| b == b'\n' || b == b'\r';
    let mut expected = text.iter().peekable();
    for (at, &byte) in printed.iter().enumerate() {
        match expected.peek() {
            Some(&&want) if want == byte => {
                expected.next();
            }
            _ if added_break(byte) => {}
            Some(_) => {
                let done = text.len() - expected.len();
                return Err(format!(
                    "it differs from the {}-byte text at byte {done} of the text (byte {at} printed)",
                    text.len()
                ));
            }
            None => {
                return Err(format!(
                    "the whole {}-byte text, then more: {:?}…",
                    text.len(),
                    String::from_utf8_lossy(&printed[at..printed.len().min(at + 40)])
                ));
            }
        }
    }
    match expected.len() {
        0 => Ok(()),
        missing => Err(format!(
            "only {} of the {} bytes of the text were printed",
            text.len() - missing,
            text.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flood_may_gain_line_breaks_but_not_lose_or_change_bytes() {
        let text = flood_text(5000);
        assert_eq!(text_matches(&text, &text), Ok(()));
        // print() of every 1024-byte read: a newline after each.
        let mut printed = Vec::new();
        for chunk in text.chunks(1024) {
            printed.extend_from_slice(chunk);
            printed.push(b'\n');
        }
        assert_eq!(text_matches(&printed, &text), Ok(()));
        let mut short = text.clone();
        short.truncate(4000);
        assert!(text_matches(&short, &text).is_err());
        let mut changed = text.clone();
        changed[100] = b'#';
        assert!(text_matches(&changed, &text).is_err());
        // Dropping the text's own line breaks is a change.
        let flattened: Vec<u8> = text.iter().copied().filter(|b| *b != b'\n').collect();
        assert!(text_matches(&flattened, &text).is_err());
        let mut longer = text.clone();
        longer.extend_from_slice(b"extra");
        assert!(text_matches(&longer, &text).is_err());
    }

    #[test]
    fn lines_are_compared_one_per_line() {
        let expected = messages(3);
        assert_eq!(
            lines_match(
                "This is PMU data 0\nThis is PMU data 1\nThis is PMU data 2\n",
                &expected
            ),
            Ok(())
        );
        assert!(
            lines_match(
                "This is PMU data 0This is PMU data 1This is PMU data 2",
                &expected
            )
            .is_err_and(|e| e.contains("glued"))
        );
        assert!(lines_match("", &expected).is_err_and(|e| e.contains("nothing")));
    }
}
