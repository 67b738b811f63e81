//! The course's certificate authority (lab part 5), with rcgen: it creates
//! its own key and self-signed certificate, and signs a CSR only after
//! checking it — the signature verifies, the key is strong enough, the
//! request does not ask to be a CA, and the subject is sane.
//!
//! It signs two ways: pmulab's own (X.509 version 3 with the extensions
//! modern clients want) and the course's ([`Profile::Course`]: version 1,
//! no extensions, as `openssl x509 -req` makes without `-extfile`).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
    SigningKey,
};
use time::{Duration, OffsetDateTime};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

/// Days a new CA certificate is valid.
const CA_DAYS: i64 = 3650;
/// The longest common name accepted (the X.520 upper bound).
const MAX_CN: usize = 64;
/// The longest validity `sign` gives: a hundred years.
pub const MAX_DAYS: u32 = 36_525;
/// The size of the RSA keys pmulab makes, as `openssl genrsa` makes them.
const RSA_BITS: usize = 2048;

const P256: &str = "1.2.840.10045.3.1.7";
const P384: &str = "1.3.132.0.34";

/// File names inside a CA directory.
pub fn ca_files(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("ca.crt"), dir.join("ca.key"))
}

/// How a certificate is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// pmulab's: version 3, CA:FALSE, server and client authentication, and
    /// the CN as a subjectAltName when it is a host name.
    Modern,
    /// The course's: version 1, no extensions (what `openssl x509 -req`
    /// makes without `-extfile`). Extensions the CSR asks for are dropped.
    Course,
}

/// The kind of key to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA on P-256: small and fast.
    EcdsaP256,
    /// RSA 2048, as `openssl genrsa -out key.pem 2048` makes.
    Rsa2048,
}
/// Why the CA will not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The file is not a PEM certificate signing request.
    NotACsr(String),
    /// The CSR's signature does not verify: it was altered, or made wrongly.
    BadSignature,
    /// An RSA key below 2048 bits.
    WeakRsaKey {
        /// Its size.
        bits: usize,
    },
    /// A key that is neither RSA nor NIST P-256/P-384.
    UnsupportedKey(String),
    /// The CSR asks for a CA certificate.
    AsksToBeCa,
    /// The validity asked for cannot be written in a certificate.
    BadValidity(String),
    /// A file would be replaced, and `--force` was not given.
    Exists(PathBuf),
    /// The common name is empty, too long or holds control characters.
    BadCommonName(String),
    /// The CSR asks for an extension this CA does not grant.
    UnsupportedExtension,
    /// Something else failed (files, encoding).
    Other(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotACsr(why) => write!(f, "not a certificate signing request: {why}"),
            Refusal::BadSignature => f.write_str(
                "the CSR's signature does not verify: it was altered after it was made, or made wrongly",
            ),
            Refusal::WeakRsaKey { bits } => {
                write!(f, "the key is RSA with {bits} bits; at least 2048 are required")
            }
            Refusal::UnsupportedKey(what) => write!(
                f,
                "the key is {what}; accepted are RSA (2048 bits or more) and ECDSA on NIST P-256 or P-384"
            ),
            Refusal::AsksToBeCa => f.write_str(
                "the CSR asks to be a certificate authority (basicConstraints CA:TRUE); this CA signs end entities only",
            ),
            Refusal::BadValidity(why) => f.write_str(why),
            Refusal::Exists(path) => write!(
                f,
                "{} already exists; use --force to replace it",
                path.display()
            ),
            Refusal::BadCommonName(cn) => write!(
                f,
                "the common name {cn:?} is not sane: it must be 1 to {MAX_CN} characters without control characters"
            ),
            Refusal::UnsupportedExtension => f.write_str(
                "the CSR asks for an extension this CA does not sign (only SAN, key usage, extended key usage and basic constraints)",
            ),
            Refusal::Other(why) => f.write_str(why),
        }
    }
}

fn other(e: impl fmt::Display) -> Refusal {
    Refusal::Other(e.to_string())
}

fn read(path: &Path) -> Result<String, Refusal> {
    std::fs::read_to_string(path)
        .map_err(|e| Refusal::Other(format!("cannot read {}: {e}", path.display())))
}

/// Writes `contents` to `path`; `private` files are readable by their owner
/// only. An existing file is replaced only when `force` says so: a key or a
/// certificate lost by accident cannot be made again.
fn write(path: &Path, contents: &str, private: bool, force: bool) -> Result<(), Refusal> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    match force {
        true => options.create(true).truncate(true),
        false => options.create_new(true),
    };
    if private {
        options.mode(0o600);
    }
    options
        .open(path)
        .and_then(|mut f| f.write_all(contents.as_bytes()))
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Refusal::Exists(path.to_path_buf()),
            _ => Refusal::Other(format!("cannot write {}: {e}", path.display())),
        })
}

/// Refuses before any work when one of `paths` exists and `force` is off.
fn refuse_existing(paths: &[&Path], force: bool) -> Result<(), Refusal> {
    match paths.iter().find(|p| !force && p.exists()) {
        Some(path) => Err(Refusal::Exists(path.to_path_buf())),
        None => Ok(()),
    }
}

/// `pmulab course CA` and four random hex digits: verifiers find a
/// certificate's issuer by name, and two CAs with one name confuse them.
pub fn default_name() -> String {
    let tag = random_bytes::<2>();
    format!("pmulab course CA {:02x}{:02x}", tag[0], tag[1])
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // /dev/urandom failing leaves the clock's nanoseconds: unique enough for a lab CA.
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .is_err()
    {
        let now = OffsetDateTime::now_utc()
            .unix_timestamp_nanos()
            .to_be_bytes();
        for (b, n) in bytes.iter_mut().zip(now.iter().rev()) {
            *b = *n;
        }
    }
    bytes
}

/// 16 random bytes, positive, without a leading zero byte (DER INTEGER rules).
fn random_serial_bytes() -> [u8; 16] {
    let mut bytes = random_bytes::<16>();
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    bytes
}

/// 1 to 64 characters, none of them control characters.
fn sane_common_name(cn: &str) -> bool {
    !cn.is_empty() && cn.chars().count() <= MAX_CN && !cn.chars().any(char::is_control)
}

/// A fresh key of `kind`, in PEM (PKCS#8).
pub fn new_key(kind: KeyKind) -> Result<String, Refusal> {
    match kind {
        KeyKind::EcdsaP256 => Ok(KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(other)?
            .serialize_pem()),
        KeyKind::Rsa2048 => {
            use rsa::pkcs8::EncodePrivateKey;
            // ring signs with RSA keys but cannot make them.
            let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, RSA_BITS).map_err(other)?;
            Ok(key
                .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
                .map_err(other)?
                .to_string())
        }
    }
}

fn key_pair(pem: &str) -> Result<KeyPair, Refusal> {
    KeyPair::from_pem(pem).map_err(other)
}

fn named(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params
}

fn create_dir(dir: &Path) -> Result<(), Refusal> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Refusal::Other(format!("cannot create {}: {e}", dir.display())))
}

/// The PEM of a CA: its key and its self-signed certificate.
#[derive(Debug, Clone)]
pub struct CaPem {
    /// The CA's private key.
    pub key: String,
    /// The CA's certificate.
    pub certificate: String,
}

/// A new CA named `cn` with a key of `kind`, in memory.
pub fn new_ca(cn: &str, kind: KeyKind) -> Result<CaPem, Refusal> {
    if !sane_common_name(cn) {
        return Err(Refusal::BadCommonName(cn.to_string()));
    }
    let key_pem = new_key(kind)?;
    let key = key_pair(&key_pem)?;
    let mut params = named(cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::minutes(5);
    params.not_after = now + Duration::days(CA_DAYS);
    params.serial_number = Some(SerialNumber::from(random_serial_bytes().to_vec()));
    let cert = params.self_signed(&key).map_err(other)?;
    Ok(CaPem {
        key: key_pem,
        certificate: cert.pem(),
    })
}

/// Creates a CA in `dir`: `ca.key` and a self-signed `ca.crt`.
pub fn init(
    dir: &Path,
    cn: &str,
    kind: KeyKind,
    force: bool,
) -> Result<(PathBuf, PathBuf), Refusal> {
    let (crt, key_path) = ca_files(dir);
    if !force && (crt.exists() || key_path.exists()) {
        return Err(Refusal::Other(format!(
            "{} already holds a CA; use --force to replace it",
            dir.display()
        )));
    }
    let ca = new_ca(cn, kind)?;
    create_dir(dir)?;
    write(&key_path, &ca.key, true, true)?;
    write(&crt, &ca.certificate, false, true)?;
    Ok((crt, key_path))
}

/// Reads the CA in `dir`.
pub fn load_ca(dir: &Path) -> Result<CaPem, Refusal> {
    let (crt, key) = ca_files(dir);
    if dir.is_file() {
        return Err(Refusal::Other(format!(
            "--ca wants the CA's directory (the one `pmulab ca init` made), not the file {}",
            dir.display()
        )));
    }
    Ok(CaPem {
        key: read(&key)?,
        certificate: read(&crt)?,
    })
}

/// A CSR that passed the checks.
#[derive(Debug, Clone)]
pub struct CheckedCsr {
    /// The request in DER.
    pub der: Vec<u8>,
    /// Its subject, as openssl prints it (`C=AU, ST=Some-State, …`).
    pub subject: String,
    /// Its common name, if the subject has one.
    pub common_name: Option<String>,
    /// The key, described.
    pub key: String,
    /// The extensions it asks for, by name.
    pub extensions: Vec<String>,
}

/// Checks a CSR (PEM): the key is strong enough, the signature verifies,
/// it does not ask to be a CA, and a CN, if any, is sane. A subject
/// without a CN is signed, as the course's CA signed openssl's defaults.
pub fn check_csr(pem: &str) -> Result<CheckedCsr, Refusal> {
    let der = rustls::pki_types::pem::PemObject::from_pem_slice(pem.as_bytes())
        .map(|d: rustls::pki_types::CertificateSigningRequestDer<'_>| d.as_ref().to_vec())
        .map_err(|e| {
            Refusal::NotACsr(match e {
                rustls::pki_types::pem::Error::NoItemsFound => {
                    "the file holds no PEM request (expected -----BEGIN CERTIFICATE REQUEST-----)"
                        .to_string()
                }
                other => other.to_string(),
            })
        })?;
    let (_, csr) =
        X509CertificationRequest::from_der(&der).map_err(|e| Refusal::NotACsr(e.to_string()))?;
    let info = &csr.certification_request_info;
    let key = match info.subject_pki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let bits = rsa.key_size();
            if bits < RSA_BITS {
                return Err(Refusal::WeakRsaKey { bits });
            }
            format!("RSA {bits} bits")
        }
        Ok(PublicKey::EC(_)) => {
            let curve = info
                .subject_pki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| oid.to_id_string())
                .unwrap_or_default();
            match curve.as_str() {
                P256 => "ECDSA P-256".to_string(),
                P384 => "ECDSA P-384".to_string(),
                _ => return Err(Refusal::UnsupportedKey(format!("ECDSA on curve {curve}"))),
            }
        }
        Ok(other) => return Err(Refusal::UnsupportedKey(key_kind(&other).to_string())),
        Err(e) => return Err(Refusal::UnsupportedKey(format!("unreadable ({e})"))),
    };
    // After the key check: ring will not even verify with a key below 2048 bits.
    csr.verify_signature().map_err(|_| Refusal::BadSignature)?;
    let mut extensions = Vec::new();
    for ext in csr.requested_extensions().into_iter().flatten() {
        if let ParsedExtension::BasicConstraints(bc) = ext
            && bc.ca
        {
            return Err(Refusal::AsksToBeCa);
        }
        extensions.push(extension_name(ext).to_string());
    }
    let common_name = match info.subject.iter_common_name().next() {
        None => None,
        Some(cn) => {
            let cn = cn
                .as_str()
                .map_err(|_| Refusal::BadCommonName("<not text>".into()))?;
            if !sane_common_name(cn) {
                return Err(Refusal::BadCommonName(cn.to_string()));
            }
            Some(cn.to_string())
        }
    };
    let subject = info.subject.to_string();
    drop(csr);
    Ok(CheckedCsr {
        der,
        subject,
        common_name,
        key,
        extensions,
    })
}

fn extension_name(ext: &ParsedExtension<'_>) -> &'static str {
    match ext {
        ParsedExtension::SubjectAlternativeName(_) => "subjectAltName",
        ParsedExtension::KeyUsage(_) => "keyUsage",
        ParsedExtension::ExtendedKeyUsage(_) => "extendedKeyUsage",
        ParsedExtension::BasicConstraints(_) => "basicConstraints",
        _ => "another extension",
    }
}

fn key_kind(key: &PublicKey<'_>) -> &'static str {
    match key {
        PublicKey::DSA(_) => "DSA",
        PublicKey::GostR3410(_) | PublicKey::GostR3410_2012(_) => "GOST",
        PublicKey::Unknown(_) => "of an unknown type (Ed25519, Ed448 or other)",
        PublicKey::RSA(_) => "RSA",
        PublicKey::EC(_) => "ECDSA",
    }
}

/// What [`sign`] issued.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate, PEM.
    pub pem: String,
    /// The subject, as openssl prints it.
    pub subject: String,
    /// Whether a name can be checked against the certificate (a CN or a SAN).
    pub names_a_host: bool,
    /// The key, described.
    pub key: String,
    /// First and last instant of validity.
    pub valid: (OffsetDateTime, OffsetDateTime),
    /// How it was signed.
    pub profile: Profile,
    /// Extensions the CSR asked for that a version 1 certificate cannot carry.
    pub dropped: Vec<String>,
}

/// When a certificate is valid: `days` from `not_before` (now if `None`).
fn validity(
    days: u32,
    not_before: Option<OffsetDateTime>,
) -> Result<(OffsetDateTime, OffsetDateTime), Refusal> {
    if days == 0 || days > MAX_DAYS {
        return Err(Refusal::BadValidity(format!(
            "--days must be 1 to {MAX_DAYS} (a hundred years)"
        )));
    }
    let start = not_before.unwrap_or_else(OffsetDateTime::now_utc);
    let end = start
        .checked_add(Duration::days(i64::from(days)))
        .filter(|end| end.year() <= 9999)
        .ok_or_else(|| {
            Refusal::BadValidity(format!(
                "a certificate valid {days} days from {} would end after the year 9999, which X.509 cannot write",
                start.date()
            ))
        })?;
    Ok((start, end))
}

/// Signs the checked CSR in PEM `csr` with `ca`.
pub fn sign_pem(
    csr: &str,
    ca: &CaPem,
    days: u32,
    not_before: Option<OffsetDateTime>,
    profile: Profile,
) -> Result<Issued, Refusal> {
    let checked = check_csr(csr)?;
    let (start, end) = validity(days, not_before)?;
    let ca_key = KeyPair::from_pem(&ca.key)
        .map_err(|e| Refusal::Other(format!("the CA key is unusable: {e}")))?;
    let (pem, names_a_host, dropped) = match profile {
        Profile::Modern => {
            let (pem, has_san) = sign_modern(&checked, ca, ca_key, start, end)?;
            (pem, has_san || checked.common_name.is_some(), Vec::new())
        }
        Profile::Course => (
            sign_version_1(&checked, ca, &ca_key, start, end)?,
            checked.common_name.is_some(),
            checked.extensions.clone(),
        ),
    };
    Ok(Issued {
        pem,
        subject: checked.subject,
        names_a_host,
        key: checked.key,
        valid: (start, end),
        profile,
        dropped,
    })
}

/// Signs the CSR at `csr` with the CA in `ca_dir`, writing the certificate
/// to `out` (replacing a file there only with `force`).
pub fn sign(
    csr: &Path,
    ca_dir: &Path,
    out: &Path,
    days: u32,
    not_before: Option<OffsetDateTime>,
    profile: Profile,
    force: bool,
) -> Result<Issued, Refusal> {
    refuse_existing(&[out], force)?;
    let issued = sign_pem(&read(csr)?, &load_ca(ca_dir)?, days, not_before, profile)?;
    write(out, &issued.pem, false, force)?;
    Ok(issued)
}

/// Version 3 with pmulab's extensions; says whether it has a SAN.
fn sign_modern(
    checked: &CheckedCsr,
    ca: &CaPem,
    ca_key: KeyPair,
    start: OffsetDateTime,
    end: OffsetDateTime,
) -> Result<(String, bool), Refusal> {
    let issuer = Issuer::from_ca_cert_pem(&ca.certificate, ca_key)
        .map_err(|e| Refusal::Other(format!("the CA certificate is unusable: {e}")))?;
    let mut request = CertificateSigningRequestParams::from_der(&checked.der.clone().into())
        .map_err(|e| match e {
            rcgen::Error::UnsupportedExtension => Refusal::UnsupportedExtension,
            rcgen::Error::InvalidCertificationRequestSignature => Refusal::BadSignature,
            other => Refusal::NotACsr(other.to_string()),
        })?;
    let params = &mut request.params;
    params.not_before = start;
    params.not_after = end;
    params.serial_number = Some(SerialNumber::from(random_serial_bytes().to_vec()));
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    // Modern clients match names against the SAN only; give a CN that is a
    // host name a SAN too, unless the request chose its own.
    if let Some(cn) = &checked.common_name
        && params.subject_alt_names.is_empty()
        && let Ok(dns) = rcgen::string::Ia5String::try_from(cn.as_str())
        && rustls::pki_types::DnsName::try_from(cn.as_str()).is_ok()
    {
        params.subject_alt_names.push(rcgen::SanType::DnsName(dns));
    }
    let has_san = !params.subject_alt_names.is_empty();
    let cert = request.signed_by(&issuer).map_err(other)?;
    Ok((cert.pem(), has_san))
}

/// Version 1, no extensions: the certificate `openssl x509 -req` makes.
/// rcgen writes only version 3, so this one is built with x509-cert and
/// signed with the CA's key.
fn sign_version_1(
    checked: &CheckedCsr,
    ca: &CaPem,
    ca_key: &KeyPair,
    start: OffsetDateTime,
    end: OffsetDateTime,
) -> Result<String, Refusal> {
    use x509_cert::certificate::{Certificate, TbsCertificate, Version};
    use x509_cert::der::asn1::BitString;
    use x509_cert::der::{Decode, DecodePem, Encode, EncodePem, pem::LineEnding};
    use x509_cert::request::CertReq;
    use x509_cert::serial_number::SerialNumber;
    use x509_cert::time::Validity;

    let request = CertReq::from_der(&checked.der).map_err(|e| Refusal::NotACsr(e.to_string()))?;
    let ca_cert = Certificate::from_pem(ca.certificate.as_bytes())
        .map_err(|e| Refusal::Other(format!("the CA certificate is unusable: {e}")))?;
    let algorithm = signature_algorithm(ca_key)?;
    let tbs = TbsCertificate {
        version: Version::V1,
        serial_number: SerialNumber::new(&random_serial_bytes()).map_err(other)?,
        signature: algorithm.clone(),
        issuer: ca_cert.tbs_certificate.subject,
        validity: Validity {
            not_before: x509_time(start)?,
            not_after: x509_time(end)?,
        },
        subject: request.info.subject,
        subject_public_key_info: request.info.public_key,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: None,
    };
    let signature = ca_key.sign(&tbs.to_der().map_err(other)?).map_err(other)?;
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: algorithm,
        signature: BitString::from_bytes(&signature).map_err(other)?,
    };
    cert.to_pem(LineEnding::LF).map_err(other)
}

/// The AlgorithmIdentifier of the signatures `key` makes.
fn signature_algorithm(
    key: &KeyPair,
) -> Result<x509_cert::spki::AlgorithmIdentifierOwned, Refusal> {
    use x509_cert::der::asn1::{Any, Null};
    use x509_cert::der::oid::db::rfc5912;
    let alg = key.algorithm();
    let (oid, parameters) = if alg == &rcgen::PKCS_RSA_SHA256 {
        // RSA signature algorithms carry an explicit NULL (RFC 4055).
        (rfc5912::SHA_256_WITH_RSA_ENCRYPTION, Some(Any::from(Null)))
    } else if alg == &rcgen::PKCS_ECDSA_P256_SHA256 {
        (rfc5912::ECDSA_WITH_SHA_256, None)
    } else if alg == &rcgen::PKCS_ECDSA_P384_SHA384 {
        (rfc5912::ECDSA_WITH_SHA_384, None)
    } else {
        return Err(Refusal::Other(format!(
            "the CA's key ({alg:?}) cannot sign a version 1 certificate; use an RSA or ECDSA CA"
        )));
    };
    Ok(x509_cert::spki::AlgorithmIdentifierOwned { oid, parameters })
}

/// UTCTime through 2049, GeneralizedTime after (RFC 5280, 4.1.2.5).
fn x509_time(t: OffsetDateTime) -> Result<x509_cert::time::Time, Refusal> {
    use x509_cert::der::asn1::{GeneralizedTime, UtcTime};
    let unix = std::time::Duration::from_secs(u64::try_from(t.unix_timestamp()).map_err(|_| {
        Refusal::BadValidity(format!(
            "{} is before 1970, which pmulab does not sign",
            t.date()
        ))
    })?);
    match UtcTime::from_unix_duration(unix) {
        Ok(utc) => Ok(utc.into()),
        Err(_) => GeneralizedTime::from_unix_duration(unix)
            .map(Into::into)
            .map_err(other),
    }
}

/// A CSR for the key in PEM `key`, naming `cn`.
pub fn request_pem(key: &str, cn: &str) -> Result<String, Refusal> {
    if !sane_common_name(cn) {
        return Err(Refusal::BadCommonName(cn.to_string()));
    }
    named(cn)
        .serialize_request(&key_pair(key)?)
        .and_then(|csr| csr.pem())
        .map_err(other)
}

/// The file stem for a CN: letters, digits, `-` and `.`; `_` for the rest.
fn file_stem(cn: &str) -> String {
    cn.chars()
        .map(|c| match c.is_alphanumeric() || c == '-' || c == '.' {
            true => c,
            false => '_',
        })
        .collect()
}

/// Makes `<cn>_key.pem` and `<cn>.csr` in `dir`, for users without openssl.
pub fn request(
    dir: &Path,
    cn: &str,
    kind: KeyKind,
    force: bool,
) -> Result<(PathBuf, PathBuf), Refusal> {
    if !sane_common_name(cn) {
        return Err(Refusal::BadCommonName(cn.to_string()));
    }
    let stem = file_stem(cn);
    let key_path = dir.join(format!("{stem}_key.pem"));
    let csr_path = dir.join(format!("{stem}.csr"));
    refuse_existing(&[&key_path, &csr_path], force)?;
    let key = new_key(kind)?;
    let csr = request_pem(&key, cn)?;
    create_dir(dir)?;
    write(&key_path, &key, true, force)?;
    write(&csr_path, &csr, false, force)?;
    Ok((key_path, csr_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csr_with(params: CertificateParams, alg: &'static rcgen::SignatureAlgorithm) -> String {
        let key = KeyPair::generate_for(alg).unwrap();
        params.serialize_request(&key).unwrap().pem().unwrap()
    }

    #[test]
    fn accepts_p256_and_p384() {
        let checked =
            check_csr(&csr_with(named("banana"), &rcgen::PKCS_ECDSA_P256_SHA256)).unwrap();
        assert_eq!(checked.common_name.as_deref(), Some("banana"));
        assert_eq!(checked.key, "ECDSA P-256");
        let checked = check_csr(&csr_with(named("kiwi"), &rcgen::PKCS_ECDSA_P384_SHA384)).unwrap();
        assert_eq!(checked.key, "ECDSA P-384");
    }

    /// openssl's defaults, what pressing Enter at every question gives.
    fn openssl_default_subject() -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CountryName, "AU");
        params
            .distinguished_name
            .push(DnType::StateOrProvinceName, "Some-State");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Internet Widgits Pty Ltd");
        params
    }

    #[test]
    fn signs_a_subject_without_a_common_name_both_ways() {
        let ca = new_ca("test CA", KeyKind::EcdsaP256).unwrap();
        let csr = csr_with(openssl_default_subject(), &rcgen::PKCS_ECDSA_P256_SHA256);
        for profile in [Profile::Modern, Profile::Course] {
            let issued = sign_pem(&csr, &ca, 30, None, profile).unwrap();
            assert!(!issued.names_a_host);
            assert_eq!(
                issued.subject,
                "C=AU, ST=Some-State, O=Internet Widgits Pty Ltd"
            );
        }
    }

    #[test]
    fn the_course_profile_is_version_1_without_extensions_and_verifies() {
        use rustls::pki_types::pem::PemObject;
        let ca = new_ca("test CA", KeyKind::EcdsaP256).unwrap();
        let mut params = named("banana");
        params.subject_alt_names = vec![rcgen::SanType::DnsName("banana".try_into().unwrap())];
        let csr = csr_with(params, &rcgen::PKCS_ECDSA_P256_SHA256);
        let issued = sign_pem(&csr, &ca, 730, None, Profile::Course).unwrap();
        assert_eq!(issued.dropped, ["subjectAltName"]);
        let der = rustls::pki_types::CertificateDer::from_pem_slice(issued.pem.as_bytes()).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert_eq!(cert.version(), x509_parser::x509::X509Version::V1);
        assert!(cert.extensions().is_empty());
        assert_eq!(cert.subject().to_string(), "CN=banana");
        let days = (cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp())
            / 86_400;
        assert_eq!(days, 730);
        let root = rustls::pki_types::CertificateDer::from_pem_slice(ca.certificate.as_bytes())
            .unwrap()
            .into_owned();
        let algorithms = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        let now = rustls::pki_types::UnixTime::now();
        crate::net::tls::verify::verify_chain(&der, &[], &[root], now, &algorithms).unwrap();
        // Another CA with the same name did not sign it.
        let impostor = new_ca("test CA", KeyKind::EcdsaP256).unwrap();
        let root =
            rustls::pki_types::CertificateDer::from_pem_slice(impostor.certificate.as_bytes())
                .unwrap()
                .into_owned();
        assert_eq!(
            crate::net::tls::verify::verify_chain(&der, &[], &[root], now, &algorithms),
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::BadSignature
            ))
        );
    }

    #[test]
    fn validity_out_of_range_is_refused_not_a_panic() {
        let ca = new_ca("test CA", KeyKind::EcdsaP256).unwrap();
        let csr = csr_with(named("banana"), &rcgen::PKCS_ECDSA_P256_SHA256);
        assert!(matches!(
            sign_pem(&csr, &ca, 3_000_000, None, Profile::Modern),
            Err(Refusal::BadValidity(_))
        ));
        let far = OffsetDateTime::new_utc(
            time::Date::from_calendar_date(9990, time::Month::January, 1).unwrap(),
            time::Time::MIDNIGHT,
        );
        assert!(matches!(
            sign_pem(&csr, &ca, MAX_DAYS, Some(far), Profile::Course),
            Err(Refusal::BadValidity(_))
        ));
    }

    #[test]
    fn refuses_ed25519_ca_requests_and_insane_names() {
        assert!(matches!(
            check_csr(&csr_with(named("x"), &rcgen::PKCS_ED25519)),
            Err(Refusal::UnsupportedKey(_))
        ));
        let mut ca = named("evil");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        assert_eq!(
            check_csr(&csr_with(ca, &rcgen::PKCS_ECDSA_P256_SHA256)).map(|_| ()),
            Err(Refusal::AsksToBeCa)
        );
        assert!(matches!(
            check_csr(&csr_with(
                named("bad\u{7}bell"),
                &rcgen::PKCS_ECDSA_P256_SHA256
            )),
            Err(Refusal::BadCommonName(_))
        ));
    }

    #[test]
    fn a_tampered_csr_fails_its_signature() {
        let pem = csr_with(named("banana"), &rcgen::PKCS_ECDSA_P256_SHA256);
        let der: rustls::pki_types::CertificateSigningRequestDer<'_> =
            rustls::pki_types::pem::PemObject::from_pem_slice(pem.as_bytes()).unwrap();
        let mut bytes = der.as_ref().to_vec();
        // Change one letter of the subject: "banana" becomes "banane".
        let at = bytes.windows(6).position(|w| w == b"banana").unwrap();
        bytes[at + 5] = b'e';
        let tampered = pem_encode("CERTIFICATE REQUEST", &bytes);
        assert_eq!(check_csr(&tampered).map(|_| ()), Err(Refusal::BadSignature));
        assert!(matches!(
            check_csr("hello").map(|_| ()),
            Err(Refusal::NotACsr(_))
        ));
    }

    fn pem_encode(label: &str, der: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut b64 = String::new();
        for chunk in der.chunks(3) {
            let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
                << (8 * (3 - chunk.len()));
            for i in 0..4 {
                if i <= chunk.len() {
                    b64.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    b64.push('=');
                }
            }
        }
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }
}
