//! The PDC deframer against every way TCP can cut a glued stream.
#![allow(clippy::unwrap_used)] // Tests and their helpers fail loudly on purpose.

use pmulab_core::rng::{Random, SplitMix64};
use pmulab_core::stream::deframer::{Deframer, Piece};

/// Deframes `stream` delivered as `reads`, returning the messages and the
/// offsets (within each read) where messages started.
fn deframe(reads: &[&[u8]]) -> (Vec<String>, Vec<(usize, Option<usize>)>) {
    let mut d = Deframer::new();
    let mut messages = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut starts = Vec::new();
    let mut on_piece = |read: usize, piece: Piece<'_>| match piece {
        Piece::Start { at } => {
            assert!(current.is_none(), "Start inside a message");
            current = Some(Vec::new());
            starts.push((read, at));
        }
        Piece::Text(t) => current
            .as_mut()
            .expect("Text outside a message")
            .extend_from_slice(t),
        Piece::End => {
            let m = current.take().expect("End outside a message");
            messages.push(String::from_utf8(m).expect("message is not UTF-8"));
        }
    };
    for (i, read) in reads.iter().enumerate() {
        d.feed(read, &mut |p| on_piece(i, p));
    }
    d.finish(&mut |p| on_piece(reads.len(), p));
    assert_eq!(d.messages() as usize, messages.len());
    (messages, starts)
}

fn lab_stream(n: u32) -> (Vec<u8>, Vec<String>) {
    let messages: Vec<String> = (0..n).map(|i| format!("This is PMU data {i}")).collect();
    (messages.concat().into_bytes(), messages)
}

#[test]
fn one_read_gives_every_message() {
    let (stream, expected) = lab_stream(15);
    let (messages, starts) = deframe(&[&stream]);
    assert_eq!(messages, expected);
    let offsets: Vec<usize> = starts.iter().map(|(_, at)| at.unwrap()).collect();
    let mut at = 0;
    let expected_offsets: Vec<usize> = expected
        .iter()
        .map(|m| {
            let here = at;
            at += m.len();
            here
        })
        .collect();
    assert_eq!(offsets, expected_offsets);
}

#[test]
fn every_single_split_offset() {
    let (stream, expected) = lab_stream(12);
    for cut in 0..=stream.len() {
        let (a, b) = stream.split_at(cut);
        let (messages, _) = deframe(&[a, b]);
        assert_eq!(messages, expected, "cut at {cut}");
    }
}

#[test]
fn every_pair_of_split_offsets_with_multibyte_text() {
    // Non-ASCII text inside and before messages: a cut may fall inside a
    // character, and the bytes must still come out whole and in order.
    let expected = [
        "Préambule ⚡",
        "This is PMU data 0",
        "This is PMU data 1 — Zürich",
        "This is PMU data 2",
    ];
    let stream = expected.concat().into_bytes();
    for i in 0..=stream.len() {
        for j in i..=stream.len() {
            let (messages, _) = deframe(&[&stream[..i], &stream[i..j], &stream[j..]]);
            assert_eq!(messages, expected, "cuts at {i} and {j}");
        }
    }
}

#[test]
fn byte_by_byte_reads() {
    let (stream, expected) = lab_stream(20);
    let reads: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(deframe(&reads).0, expected);
}

#[test]
fn random_splits_of_long_streams() {
    let mut rng = SplitMix64::new(0x5eed);
    for _ in 0..200 {
        let n = rng.uniform_inclusive(150) as u32;
        let (stream, expected) = lab_stream(n);
        let mut reads = Vec::new();
        let mut rest = &stream[..];
        while !rest.is_empty() {
            let take = 1 + rng.uniform_inclusive(40) as usize;
            let take = take.min(rest.len());
            reads.push(&rest[..take]);
            rest = &rest[take..];
        }
        assert_eq!(deframe(&reads).0, expected);
    }
}

#[test]
fn line_endings_after_messages_are_not_part_of_them() {
    let stream = b"This is PMU data 0\nThis is PMU data 1\r\nThis is PMU data 2\n";
    for cut in 0..=stream.len() {
        let (a, b) = stream.split_at(cut);
        assert_eq!(
            deframe(&[a, b]).0,
            [
                "This is PMU data 0",
                "This is PMU data 1",
                "This is PMU data 2"
            ],
            "cut at {cut}"
        );
    }
    // White space inside a message stays.
    assert_eq!(
        deframe(&[b"This is PMU data 0 \t x"]).0,
        ["This is PMU data 0 \t x"]
    );
}

#[test]
fn near_misses_of_the_prefix_are_text() {
    let cases: &[(&[u8], &[&str])] = &[
        (b"TThis is PMU data 1", &["T", "This is PMU data 1"]),
        (
            b"This is PMU data 0This is",
            &["This is PMU data 0", "This is"],
        ),
        (b"This is PMU dat", &["This is PMU dat"]),
        (
            b"This is PMU data 0ThiS is PMU data 1",
            &["This is PMU data 0ThiS is PMU data 1"],
        ),
        (b"ThisThis is PMU data 7", &["This", "This is PMU data 7"]),
        (b"", &[]),
        (b"\n\n", &[]),
    ];
    for (stream, expected) in cases {
        for cut in 0..=stream.len() {
            let (a, b) = stream.split_at(cut);
            assert_eq!(&deframe(&[a, b]).0, expected, "{stream:?} cut at {cut}");
        }
    }
}

/// Whether the stream, read as `reads`, ended in the middle of a message.
fn cut_short(reads: &[&[u8]]) -> bool {
    let mut d = Deframer::new();
    for read in reads {
        d.feed(read, &mut |_| {});
    }
    d.finish(&mut |_| {});
    d.ended_mid_message()
}

#[test]
fn a_stream_cut_in_a_message_s_prefix_ends_with_the_fragment_on_its_own() {
    for stream in [
        &b"This is PMU data 0This is PMU da"[..],
        b"This is PMU data 0This is PMU data ",
        b"This is PMU data 0T",
    ] {
        for cut in 0..=stream.len() {
            let (a, b) = stream.split_at(cut);
            let messages = deframe(&[a, b]).0;
            assert_eq!(messages[0], "This is PMU data 0", "{stream:?} cut at {cut}");
            assert_eq!(messages.len(), 2, "{stream:?} cut at {cut}: {messages:?}");
            assert!(cut_short(&[a, b]), "{stream:?} cut at {cut}");
        }
    }
    for whole in [
        &b"This is PMU data 0This is PMU data 1"[..],
        b"This is PMU data 12 ",
        b"",
    ] {
        assert!(!cut_short(&[whole]), "{whole:?}");
    }
}

#[test]
fn a_start_split_from_the_previous_read_has_no_offset() {
    let stream = b"This is PMU data 0This is PMU data 1";
    let (_, starts) = deframe(&[&stream[..21], &stream[21..]]);
    assert_eq!(starts, [(0, Some(0)), (1, None)]);
}

#[test]
fn white_space_before_the_first_message_is_dropped_however_the_reads_fall() {
    // Found by the fuzzer: "\nT…" in one read and in two gave different messages.
    let stream = b"\n TCMD";
    for cut in 0..=stream.len() {
        let (a, b) = stream.split_at(cut);
        assert_eq!(deframe(&[a, b]).0, ["TCMD"], "cut at {cut}");
    }
}
