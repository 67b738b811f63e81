//! Reading a saved capture, pcap or pcapng (pcap-parser), into frames with
//! their times and link types, and the TLS secrets a pcapng may carry.
//! A truncated or corrupt file is an error that says where, never a panic.

use std::path::Path;
use std::time::Duration;

use pcap_parser::nom;
use pcap_parser::pcapng::Block;
use pcap_parser::{LegacyPcapSlice, PcapBlockOwned, PcapError, PcapNGSlice, build_ts_resolution};

use super::packet::LinkType;

/// One frame as the file holds it.
#[derive(Debug, Clone)]
pub struct Frame {
    pub time: Duration,
    pub link: LinkType,
    pub data: Vec<u8>,
    /// Its length on the wire (the file may hold less: the snap length).
    pub wire_len: usize,
}

/// What a file holds.
#[derive(Debug, Default)]
pub struct Capture {
    pub frames: Vec<Frame>,
    /// Frames of link types pmulab does not read, by LINKTYPE_ number.
    pub unread_links: Vec<u32>,
    /// TLS key log lines from Decryption Secrets Blocks.
    pub tls_secrets: Vec<u8>,
    /// The file ends early or is damaged after `frames`: what was read
    /// before is still good, as Wireshark shows it.
    pub problem: Option<FileError>,
}

/// Why a file could not be read.
#[derive(Debug)]
pub enum FileError {
    Io(std::io::Error),
    /// Neither pcap nor pcapng.
    NotACapture,
    /// The file ends in the middle of a block.
    Truncated {
        at: usize,
        frames: usize,
    },
    /// A block that cannot be read.
    Corrupt {
        at: usize,
        frames: usize,
    },
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileError::Io(e) => e.fmt(f),
            FileError::NotACapture => f.write_str(
                "not a capture file: pcap and pcapng files begin with their magic number",
            ),
            FileError::Truncated { at, frames } => write!(
                f,
                "the file is cut short: it ends inside a block at byte {at}, after {frames} frames"
            ),
            FileError::Corrupt { at, frames } => write!(
                f,
                "the file is damaged: the block at byte {at} cannot be read (after {frames} frames)"
            ),
        }
    }
}

/// Reads a whole capture file.
pub fn read(path: &Path) -> Result<Capture, FileError> {
    let bytes = std::fs::read(path).map_err(FileError::Io)?;
    parse(&bytes)
}

/// Reads a capture from its bytes. Only a file that is no capture at all
/// is an error; one cut short or damaged keeps what came before.
pub fn parse(bytes: &[u8]) -> Result<Capture, FileError> {
    if let Ok(slice) = PcapNGSlice::from_slice(bytes) {
        return Ok(parse_pcapng(slice));
    }
    match LegacyPcapSlice::from_slice(bytes) {
        Ok(slice) => Ok(parse_pcap(slice)),
        Err(_) => Err(FileError::NotACapture),
    }
}

/// What a block that cannot be read means, for the block starting at `at`.
fn block_error(e: &nom::Err<PcapError<&[u8]>>, at: usize, frames: usize) -> FileError {
    match e {
        nom::Err::Incomplete(_)
        | nom::Err::Error(PcapError::Incomplete(_))
        | nom::Err::Failure(PcapError::Incomplete(_)) => FileError::Truncated { at, frames },
        _ => FileError::Corrupt { at, frames },
    }
}

struct Interface {
    link: Option<LinkType>,
    number: u32,
    /// Timestamp units per second.
    units: u64,
    offset: u64,
}

fn parse_pcapng(slice: PcapNGSlice<'_>) -> Capture {
    let mut capture = Capture::default();
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut at = 0usize;
    for block in slice {
        let frames = capture.frames.len();
        let block = match block {
            Ok(block) => block,
            Err(e) => {
                capture.problem = Some(block_error(&e, at, frames));
                break;
            }
        };
        let PcapBlockOwned::NG(block) = block else {
            continue;
        };
        match block {
            Block::SectionHeader(shb) => {
                interfaces.clear();
                at += shb.block_len1 as usize;
            }
            Block::InterfaceDescription(idb) => {
                at += idb.block_len1 as usize;
                interfaces.push(Interface {
                    link: LinkType::from_pcap(idb.linktype.0 as u32),
                    number: idb.linktype.0 as u32,
                    units: build_ts_resolution(idb.if_tsresol).unwrap_or(1_000_000),
                    offset: u64::try_from(idb.if_tsoffset).unwrap_or(0),
                });
            }
            Block::EnhancedPacket(epb) => {
                at += epb.block_len1 as usize;
                let Some(interface) = interfaces.get(epb.if_id as usize) else {
                    let at = at - epb.block_len1 as usize;
                    capture.problem = Some(FileError::Corrupt { at, frames });
                    break;
                };
                let Some(link) = interface.link else {
                    capture.unread_links.push(interface.number);
                    continue;
                };
                let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let units = interface.units.max(1);
                let time = Duration::from_secs(interface.offset + ticks / units)
                    + Duration::from_nanos(
                        ((u128::from(ticks % units) * 1_000_000_000) / u128::from(units)) as u64,
                    );
                let data = epb.data.get(..epb.caplen as usize).unwrap_or(epb.data);
                capture.frames.push(Frame {
                    time,
                    link,
                    data: data.to_vec(),
                    wire_len: epb.origlen as usize,
                });
            }
            Block::SimplePacket(spb) => {
                at += spb.block_len1 as usize;
                if let Some(Interface {
                    link: Some(link), ..
                }) = interfaces.first()
                {
                    capture.frames.push(Frame {
                        time: Duration::ZERO,
                        link: *link,
                        data: spb.data.to_vec(),
                        wire_len: spb.origlen as usize,
                    });
                }
            }
            Block::DecryptionSecrets(dsb) => {
                at += dsb.block_len1 as usize;
                // TLS key log lines ("TLSK"); other kinds (WireGuard) are not pmulab's.
                if dsb.secrets_type.0 == 0x544c_534b {
                    let n = (dsb.secrets_len as usize).min(dsb.data.len());
                    capture.tls_secrets.extend_from_slice(&dsb.data[..n]);
                    if !capture.tls_secrets.ends_with(b"\n") {
                        capture.tls_secrets.push(b'\n');
                    }
                }
            }
            other => at += block_len(&other),
        }
    }
    capture
}

fn block_len(block: &Block<'_>) -> usize {
    match block {
        Block::NameResolution(b) => b.block_len1 as usize,
        Block::InterfaceStatistics(b) => b.block_len1 as usize,
        Block::SystemdJournalExport(b) => b.block_len1 as usize,
        Block::ProcessInformation(b) => b.block_len1 as usize,
        Block::Custom(b) => b.block_len1 as usize,
        Block::Unknown(b) => b.block_len1 as usize,
        _ => 0,
    }
}

fn parse_pcap(slice: LegacyPcapSlice<'_>) -> Capture {
    let header = slice.header.clone();
    let link_number = header.network.0 as u32;
    let link = LinkType::from_pcap(link_number);
    let nanos = header.is_nanosecond_precision();
    let mut capture = Capture::default();
    let mut at = 24usize;
    for block in slice {
        let frames = capture.frames.len();
        let block = match block {
            Ok(block) => block,
            Err(e) => {
                capture.problem = Some(block_error(&e, at, frames));
                break;
            }
        };
        let PcapBlockOwned::Legacy(frame) = block else {
            continue;
        };
        at += 16 + frame.caplen as usize;
        let Some(link) = link else {
            capture.unread_links.push(link_number);
            continue;
        };
        let fraction = match nanos {
            true => Duration::from_nanos(u64::from(frame.ts_usec)),
            false => Duration::from_micros(u64::from(frame.ts_usec)),
        };
        let data = frame
            .data
            .get(..frame.caplen as usize)
            .unwrap_or(frame.data);
        capture.frames.push(Frame {
            time: Duration::from_secs(u64::from(frame.ts_sec)) + fraction,
            link,
            data: data.to_vec(),
            wire_len: frame.origlen as usize,
        });
    }
    capture
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::pcapng::PcapngWriter;

    /// A minimal Ethernet/IPv4/UDP frame.
    fn frame() -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&[
            0x45, 0, 0, 36, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ]);
        f.extend_from_slice(&[0x9c, 0x40, 0x13, 0x8c, 0, 16, 0, 0]);
        f.extend_from_slice(b"RESET:20");
        f
    }

    fn written(secrets: &[u8]) -> Vec<u8> {
        // One directory a call: tests run in parallel.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("pmulab-file-test-{}-{call}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(format!("t{}.pcapng", secrets.len()));
        let mut w = PcapngWriter::create(&path).expect("create");
        for i in 0..3 {
            w.write_frame(Duration::new(1_700_000_000 + i, 123_456_789), &frame(), 50)
                .expect("write");
        }
        assert_eq!(w.finish("lo", secrets).expect("finish"), 3);
        let bytes = std::fs::read(&path).expect("read back");
        let _ = std::fs::remove_dir_all(&dir);
        bytes
    }

    #[test]
    fn pcapng_written_is_read_back_with_times_and_secrets() {
        let bytes = written(b"CLIENT_RANDOM 00 11\n");
        let capture = parse(&bytes).expect("a capture");
        assert!(capture.problem.is_none());
        assert_eq!(capture.frames.len(), 3);
        assert_eq!(
            capture.frames[2].time,
            Duration::new(1_700_000_002, 123_456_789)
        );
        assert_eq!(capture.frames[0].data, frame());
        assert_eq!(capture.frames[0].wire_len, 50);
        assert_eq!(capture.tls_secrets, b"CLIENT_RANDOM 00 11\n");
    }

    #[test]
    fn a_legacy_pcap_is_read() {
        let mut bytes = vec![];
        bytes.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        bytes.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        bytes.extend_from_slice(&65_535u32.to_le_bytes());
        bytes.extend_from_slice(&1u32.to_le_bytes());
        let f = frame();
        bytes.extend_from_slice(&7u32.to_le_bytes());
        bytes.extend_from_slice(&250_000u32.to_le_bytes());
        bytes.extend_from_slice(&(f.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&(f.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&f);
        let capture = parse(&bytes).expect("a capture");
        assert_eq!(capture.frames.len(), 1);
        assert_eq!(capture.frames[0].time, Duration::from_micros(7_250_000));
        assert_eq!(capture.frames[0].link, LinkType::Ethernet);
    }

    #[test]
    fn cut_short_damaged_and_foreign_files_say_so() {
        let bytes = written(b"");
        let cut = &bytes[..bytes.len() - 10];
        let capture = parse(cut).expect("still a capture");
        assert_eq!(capture.frames.len(), 2);
        assert!(matches!(
            capture.problem,
            Some(FileError::Truncated { frames: 2, .. })
        ));
        // The second packet block's length made impossible.
        let mut damaged = bytes.clone();
        let mut at = 0;
        let mut block = 0;
        while at < damaged.len() {
            let len =
                u32::from_le_bytes(damaged[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
            if block == 3 {
                damaged[at + 4..at + 8].copy_from_slice(&7u32.to_le_bytes());
                break;
            }
            at += len;
            block += 1;
        }
        let capture = parse(&damaged).expect("still a capture");
        assert_eq!(capture.frames.len(), 1);
        assert!(capture.problem.is_some(), "{:?}", capture.problem);
        assert!(matches!(
            parse(b"hello, world"),
            Err(FileError::NotACapture)
        ));
        assert!(matches!(parse(b""), Err(FileError::NotACapture)));
    }
}
