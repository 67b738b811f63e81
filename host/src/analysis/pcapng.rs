//! Writing what was captured as a standard pcapng file (pcap-parser's
//! serializer): a section header, one Ethernet interface with nanosecond
//! times, the TLS key log as a Decryption Secrets Block when there is one,
//! then the packets. Wireshark reads secrets as it meets them, so they go
//! before the packets: the packets are spooled to a side file and the
//! whole file is put together when the capture ends.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use pcap_parser::pcapng::{
    DecryptionSecretsBlock, EnhancedPacketBlock, InterfaceDescriptionBlock, OptionCode,
    PcapNGOption, SecretsType, SectionHeaderBlock,
};
use pcap_parser::{Linktype, ToVec};

/// The largest frame kept whole (loopback's MTU is 65,536).
pub const SNAP_LEN: u32 = 262_144;

/// A pcapng file being written.
pub struct PcapngWriter {
    path: PathBuf,
    spool_path: PathBuf,
    spool: BufWriter<File>,
    frames: u64,
}

fn serialize_error(e: impl std::fmt::Debug) -> io::Error {
    io::Error::other(format!("pcapng encoding: {e:?}"))
}

impl PcapngWriter {
    /// Starts a capture file at `path` (its packets are spooled beside it
    /// until [`PcapngWriter::finish`]).
    pub fn create(path: &Path) -> io::Result<PcapngWriter> {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".packets");
        let spool_path = path.with_file_name(name);
        // Fail now, not at the end: the file itself must be writable.
        File::create(path)?;
        let spool = BufWriter::new(File::create(&spool_path)?);
        Ok(PcapngWriter {
            path: path.to_path_buf(),
            spool_path,
            spool,
            frames: 0,
        })
    }

    /// Adds one Ethernet frame captured at `time` (since the Unix epoch).
    pub fn write_frame(&mut self, time: Duration, frame: &[u8], wire_len: usize) -> io::Result<()> {
        let nanos = u64::try_from(time.as_nanos()).unwrap_or(u64::MAX);
        let mut block = EnhancedPacketBlock {
            block_type: 0,
            block_len1: 0,
            if_id: 0,
            ts_high: (nanos >> 32) as u32,
            ts_low: nanos as u32,
            caplen: frame.len() as u32,
            origlen: u32::try_from(wire_len).unwrap_or(u32::MAX),
            data: frame,
            options: Vec::new(),
            block_len2: 0,
        };
        let bytes = block.to_vec().map_err(serialize_error)?;
        self.spool.write_all(&bytes)?;
        self.frames += 1;
        Ok(())
    }

    /// Writes the file: header, interface, `tls_secrets` (a key log, if
    /// not empty), the packets. Returns how many packets it holds.
    pub fn finish(mut self, interface: &str, tls_secrets: &[u8]) -> io::Result<u64> {
        self.spool.flush()?;
        let mut out = BufWriter::new(File::create(&self.path)?);
        let mut shb = SectionHeaderBlock {
            block_type: 0,
            block_len1: 0,
            bom: 0,
            major_version: 1,
            minor_version: 0,
            section_len: -1,
            options: vec![option(OptionCode(4), b"pmulab capture")],
            block_len2: 0,
        };
        out.write_all(&shb.to_vec().map_err(serialize_error)?)?;
        let mut idb = InterfaceDescriptionBlock {
            block_type: 0,
            block_len1: 0,
            linktype: Linktype::ETHERNET,
            reserved: 0,
            snaplen: SNAP_LEN,
            options: vec![option(OptionCode(2), interface.as_bytes())],
            block_len2: 0,
            // 10^-9 s.
            if_tsresol: 9,
            if_tsoffset: 0,
        };
        out.write_all(&idb.to_vec().map_err(serialize_error)?)?;
        if !tls_secrets.is_empty() {
            let mut dsb = DecryptionSecretsBlock {
                block_type: 0,
                block_len1: 0,
                secrets_type: SecretsType::TlsKeyLog,
                secrets_len: tls_secrets.len() as u32,
                data: tls_secrets,
                options: Vec::new(),
                block_len2: 0,
            };
            out.write_all(&dsb.to_vec().map_err(serialize_error)?)?;
        }
        drop(self.spool);
        io::copy(&mut File::open(&self.spool_path)?, &mut out)?;
        out.flush()?;
        std::fs::remove_file(&self.spool_path)?;
        Ok(self.frames)
    }
}

fn option<'a>(code: OptionCode, value: &'a [u8]) -> PcapNGOption<'a> {
    PcapNGOption {
        code,
        len: value.len() as u16,
        value: Cow::Borrowed(value),
    }
}
