//! Part 5 in the bytes of a connection: TLS records (tls-parser), the
//! handshake messages in clear — ClientHello with the versions, suites and
//! name offered, ServerHello with the ones chosen, the certificates of TLS
//! 1.2 (x509-parser) — alerts by name, and what is encrypted and how big.
//! A record is told in the segment that completes it, as Wireshark does.

use tls_parser::{
    TlsCipherSuite, TlsExtension, TlsMessage, TlsMessageHandshake, TlsRecordType, TlsVersion,
    parse_tls_extensions, parse_tls_raw_record, parse_tls_record_with_header,
};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use super::Record;
use super::stream::{Chunk, InOrder};
use super::text::preview;
use crate::ui::output::words;

/// A record longer than this is not TLS (2^14 plus expansion, RFC 8446 §5.2).
const MAX_RECORD: usize = (1 << 14) + 256 + 5;

/// One certificate as the lab asks about it.
#[derive(Debug, Clone)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// 1 or 3.
    pub version: u32,
    pub key: String,
}

impl std::fmt::Display for CertInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (X.509 v{}, {}) issued by {}",
            self.subject, self.version, self.key, self.issuer
        )
    }
}

/// One direction's bytes not yet read as records.
#[derive(Debug, Default)]
struct Pending {
    stream: InOrder,
    /// A ChangeCipherSpec was sent: later records are encrypted (TLS 1.2).
    encrypting: bool,
    /// Application-data records sent.
    sealed_records: u64,
}

/// The reader of a TLS connection. Index 0: the client, 1: the server.
#[derive(Debug, Default)]
pub struct TlsReader {
    dirs: [Pending; 2],
    pub offered_versions: Vec<String>,
    pub offered_suites: usize,
    pub server_name: Option<String>,
    pub version: Option<String>,
    pub suite: Option<String>,
    /// TLS 1.3 was chosen: the server's handshake after its hello is encrypted.
    tls13: bool,
    pub certificates: Vec<CertInfo>,
    pub alerts: Vec<String>,
    /// Application data: records and bytes, per direction.
    pub app_records: [u64; 2],
    pub app_bytes: [u64; 2],
    /// Handshake messages in clear, by name, in order.
    pub handshake: Vec<String>,
}

impl TlsReader {
    pub fn handle(&mut self, chunk: &Chunk<'_>, record: &mut Record) {
        let dir = chunk.side.index();
        if self.dirs[dir].stream.push(chunk, "TLS", record) {
            self.read_records(dir, record);
        }
    }

    fn read_records(&mut self, dir: usize, record: &mut Record) {
        let mut used = 0;
        loop {
            let rest = &self.dirs[dir].stream.bytes[used..];
            if rest.is_empty() {
                break;
            }
            match parse_tls_raw_record(rest) {
                Ok((after, raw)) => {
                    let consumed = rest.len() - after.len();
                    let hdr = raw.hdr;
                    let body = raw.data.to_vec();
                    used += consumed;
                    record.tls_records.push(hdr.record_type.0);
                    self.describe(dir, hdr, &body, record);
                }
                Err(tls_parser::nom::Err::Incomplete(_)) if rest.len() < MAX_RECORD => {
                    let have = rest.len();
                    let want = match rest.get(3..5) {
                        Some(len) => format!(
                            " of {}",
                            5 + usize::from(u16::from_be_bytes([len[0], len[1]]))
                        ),
                        None => String::new(),
                    };
                    record
                        .meaning
                        .push(format!("part of a TLS record ({have}{want} bytes so far)"));
                    break;
                }
                Err(_) => {
                    record.meaning.push(format!("not TLS: {}", preview(rest)));
                    self.dirs[dir].stream.lost = true;
                    used = self.dirs[dir].stream.bytes.len();
                    break;
                }
            }
        }
        self.dirs[dir].stream.bytes.drain(..used);
    }

    fn describe(
        &mut self,
        dir: usize,
        hdr: tls_parser::TlsRecordHeader,
        body: &[u8],
        record: &mut Record,
    ) {
        let encrypted = self.dirs[dir].encrypting;
        match hdr.record_type {
            TlsRecordType::ChangeCipherSpec => {
                if !self.tls13 {
                    self.dirs[dir].encrypting = true;
                }
                record.meaning.push(match self.tls13 {
                    true => "ChangeCipherSpec (TLS 1.3: only for middleboxes)".into(),
                    false => "ChangeCipherSpec: what follows is encrypted".into(),
                });
            }
            TlsRecordType::Handshake if !encrypted => {
                match parse_tls_record_with_header(body, &hdr) {
                    Ok((_, messages)) => {
                        for message in messages {
                            if let TlsMessage::Handshake(h) = message {
                                let (number, text) = self.handshake_message(&h);
                                record.tls_handshake.push(number);
                                self.handshake
                                    .push(text.split(':').next().unwrap_or("").to_string());
                                record.meaning.push(text);
                            }
                        }
                    }
                    Err(_) => record.meaning.push(format!(
                        "handshake record of {} bytes that does not parse",
                        body.len()
                    )),
                }
            }
            TlsRecordType::Handshake => record.meaning.push(format!(
                "encrypted handshake message ({} bytes: Finished)",
                body.len()
            )),
            TlsRecordType::Alert if !encrypted && body.len() == 2 => {
                let level = match body[0] {
                    1 => "warning",
                    2 => "fatal",
                    _ => "level ?",
                };
                let name = words(&format!("{:?}", rustls::AlertDescription::from(body[1])));
                let text = format!("Alert: {level}, {name}");
                self.alerts.push(text.clone());
                record.meaning.push(text);
            }
            TlsRecordType::Alert => {
                self.alerts.push("encrypted alert".into());
                record
                    .meaning
                    .push(format!("encrypted alert ({} bytes)", body.len()));
            }
            TlsRecordType::ApplicationData => {
                let sealed = self.dirs[dir].sealed_records;
                self.dirs[dir].sealed_records += 1;
                let text = match (self.tls13, dir, sealed) {
                    // TLS 1.3 hides the server's handshake after its hello,
                    // and the client's Finished, in application-data records.
                    (true, 1, _) if self.dirs[0].sealed_records == 0 => format!(
                        "encrypted handshake ({} bytes: EncryptedExtensions, Certificate, CertificateVerify, Finished)",
                        body.len()
                    ),
                    (true, 0, 0) => format!("encrypted handshake ({} bytes: Finished)", body.len()),
                    _ => {
                        self.app_records[dir] += 1;
                        self.app_bytes[dir] += body.len() as u64;
                        format!("application data, {} bytes encrypted", body.len())
                    }
                };
                record.meaning.push(text);
            }
            other => record.meaning.push(format!(
                "TLS record of type {} ({} bytes)",
                other.0,
                body.len()
            )),
        }
    }

    /// A handshake message's type number and its description.
    fn handshake_message(&mut self, message: &TlsMessageHandshake<'_>) -> (u8, String) {
        match message {
            TlsMessageHandshake::ClientHello(hello) => {
                let ext = hello
                    .ext
                    .and_then(|e| parse_tls_extensions(e).ok())
                    .map(|(_, e)| e)
                    .unwrap_or_default();
                let mut versions: Vec<String> = ext
                    .iter()
                    .find_map(|e| match e {
                        TlsExtension::SupportedVersions(v) => Some(
                            v.iter()
                                .filter(|v| !is_grease(v.0))
                                .map(|v| version_name(*v))
                                .collect(),
                        ),
                        _ => None,
                    })
                    .unwrap_or_default();
                if versions.is_empty() {
                    versions.push(version_name(hello.version));
                }
                let sni = ext.iter().find_map(|e| match e {
                    TlsExtension::SNI(names) => names
                        .first()
                        .map(|(_, name)| String::from_utf8_lossy(name).into_owned()),
                    _ => None,
                });
                let suites: Vec<String> = hello
                    .ciphers
                    .iter()
                    .filter(|c| !is_grease(c.0))
                    .map(|c| suite_name(c.0))
                    .collect();
                self.offered_versions = versions.clone();
                self.offered_suites = suites.len();
                self.server_name = sni.clone();
                let shown: Vec<&str> = suites.iter().take(3).map(String::as_str).collect();
                (
                    1,
                    format!(
                        "ClientHello: offers {}; {} cipher suites ({}{}); {}",
                        versions.join(", "),
                        suites.len(),
                        shown.join(", "),
                        if suites.len() > 3 { ", …" } else { "" },
                        match sni {
                            Some(name) => format!("server name {name}"),
                            None => "no server name".into(),
                        }
                    ),
                )
            }
            TlsMessageHandshake::ServerHello(hello) => {
                let ext = hello
                    .ext
                    .and_then(|e| parse_tls_extensions(e).ok())
                    .map(|(_, e)| e)
                    .unwrap_or_default();
                let chosen = ext
                    .iter()
                    .find_map(|e| match e {
                        TlsExtension::SupportedVersions(v) => v.first().copied(),
                        _ => None,
                    })
                    .unwrap_or(hello.version);
                self.tls13 = chosen.0 == 0x0304;
                let version = version_name(chosen);
                let suite = suite_name(hello.cipher.0);
                self.version = Some(version.clone());
                self.suite = Some(suite.clone());
                let after = match self.tls13 {
                    true => "; the rest of the handshake is encrypted",
                    false => "",
                };
                (2, format!("ServerHello: chooses {version}, {suite}{after}"))
            }
            TlsMessageHandshake::Certificate(chain) => {
                let certs: Vec<CertInfo> =
                    chain.cert_chain.iter().map(|c| cert_info(c.data)).collect();
                let text = match certs.first() {
                    Some(first) => format!(
                        "Certificate: {first}{}",
                        match certs.len() {
                            1 => String::new(),
                            n => format!(" (+{} more in the chain)", n - 1),
                        }
                    ),
                    None => "Certificate: none".into(),
                };
                self.certificates = certs;
                (11, text)
            }
            TlsMessageHandshake::ServerKeyExchange(_) => (12, "ServerKeyExchange".into()),
            TlsMessageHandshake::CertificateRequest(_) => (13, "CertificateRequest".into()),
            TlsMessageHandshake::ServerDone(_) => (14, "ServerHelloDone".into()),
            TlsMessageHandshake::CertificateVerify(_) => (15, "CertificateVerify".into()),
            TlsMessageHandshake::ClientKeyExchange(_) => (16, "ClientKeyExchange".into()),
            TlsMessageHandshake::Finished(_) => (20, "Finished".into()),
            TlsMessageHandshake::NewSessionTicket(_) => (4, "NewSessionTicket".into()),
            TlsMessageHandshake::HelloRequest => (0, "HelloRequest".into()),
            TlsMessageHandshake::HelloRetryRequest(_) => (2, "HelloRetryRequest".into()),
            TlsMessageHandshake::KeyUpdate(_) => (24, "KeyUpdate".into()),
            TlsMessageHandshake::CertificateStatus(_) => (22, "CertificateStatus".into()),
            TlsMessageHandshake::EndOfEarlyData => (5, "EndOfEarlyData".into()),
            TlsMessageHandshake::NextProtocol(_) => (67, "NextProtocol".into()),
            TlsMessageHandshake::ServerHelloV13Draft18(_) => {
                (2, "ServerHello (draft TLS 1.3)".into())
            }
        }
    }
}

/// RFC 8701's placeholder values, which say nothing.
fn is_grease(value: u16) -> bool {
    value & 0x0f0f == 0x0a0a && value >> 8 == value & 0xff
}

fn version_name(v: TlsVersion) -> String {
    match v.0 {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        other => format!("version 0x{other:04x}"),
    }
}

fn suite_name(id: u16) -> String {
    TlsCipherSuite::from_id(id)
        .map(|s| s.name.to_string())
        .unwrap_or_else(|| format!("suite 0x{id:04x}"))
}

/// Subject, issuer, version and key of a DER certificate.
fn cert_info(der: &[u8]) -> CertInfo {
    match X509Certificate::from_der(der) {
        Ok((_, cert)) => {
            let key = match cert.public_key().parsed() {
                Ok(PublicKey::RSA(rsa)) => format!("RSA {} bits", rsa.key_size()),
                Ok(PublicKey::EC(ec)) => format!("EC P-{}", ec.key_size()),
                Ok(_) => "another key type".into(),
                Err(_) => "an unreadable key".into(),
            };
            CertInfo {
                subject: cert.subject().to_string(),
                issuer: cert.issuer().to_string(),
                version: cert.version().0 + 1,
                key,
            }
        }
        Err(_) => CertInfo {
            subject: format!("{} bytes that are not a certificate", der.len()),
            issuer: "?".into(),
            version: 0,
            key: "?".into(),
        },
    }
}
