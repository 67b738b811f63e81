//! The course's certificate authority (lab part 5), with rcgen: it creates
//! its own key and self-signed certificate, and signs a CSR only after
//! checking it — the signature verifies, the key is strong enough, the
//! request does not ask to be a CA, and the subject names somebody.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
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

const P256: &str = "1.2.840.10045.3.1.7";
const P384: &str = "1.3.132.0.34";

/// File names inside a CA directory.
pub fn ca_files(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("ca.crt"), dir.join("ca.key"))
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
    /// The subject has no common name.
    NoCommonName,
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
            Refusal::NoCommonName => f.write_str("the subject has no common name (CN)"),
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

/// Writes `contents` to `path`; `private` files are readable by their owner only.
fn write(path: &Path, contents: &str, private: bool) -> Result<(), Refusal> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if private {
        options.mode(0o600);
    }
    options
        .open(path)
        .and_then(|mut f| f.write_all(contents.as_bytes()))
        .map_err(|e| Refusal::Other(format!("cannot write {}: {e}", path.display())))
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

fn random_serial() -> SerialNumber {
    let mut bytes = random_bytes::<16>();
    // Positive, and never a leading zero byte (DER INTEGER rules).
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from(bytes.to_vec())
}

/// 1 to 64 characters, none of them control characters.
fn sane_common_name(cn: &str) -> bool {
    !cn.is_empty() && cn.chars().count() <= MAX_CN && !cn.chars().any(char::is_control)
}

/// A fresh ECDSA P-256 key, and certificate parameters naming `cn`, for a
/// file in `dir` (created if missing).
fn new_key_for(dir: &Path, cn: &str) -> Result<(KeyPair, CertificateParams), Refusal> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Refusal::Other(format!("cannot create {}: {e}", dir.display())))?;
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(other)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    Ok((key, params))
}

/// Creates a CA in `dir`: `ca.key` and a self-signed `ca.crt`.
pub fn init(dir: &Path, cn: &str, force: bool) -> Result<(PathBuf, PathBuf), Refusal> {
    let (crt, key_path) = ca_files(dir);
    if !force && (crt.exists() || key_path.exists()) {
        return Err(Refusal::Other(format!(
            "{} already holds a CA; use --force to replace it",
            dir.display()
        )));
    }
    let (key, mut params) = new_key_for(dir, cn)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::minutes(5);
    params.not_after = now + Duration::days(CA_DAYS);
    params.serial_number = Some(random_serial());
    let cert = params.self_signed(&key).map_err(other)?;
    write(&key_path, &key.serialize_pem(), true)?;
    write(&crt, &cert.pem(), false)?;
    Ok((crt, key_path))
}

/// What [`sign`] issued.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The subject's common name.
    pub common_name: String,
    /// The key, described.
    pub key: String,
    /// First and last instant of validity.
    pub valid: (OffsetDateTime, OffsetDateTime),
}

/// Checks a CSR (PEM) and says what key and name it carries.
pub fn check_csr(pem: &str) -> Result<(Vec<u8>, String, String), Refusal> {
    let der = rustls::pki_types::pem::PemObject::from_pem_slice(pem.as_bytes())
        .map(|d: rustls::pki_types::CertificateSigningRequestDer<'_>| d.as_ref().to_vec())
        .map_err(|e| Refusal::NotACsr(e.to_string()))?;
    let (_, csr) =
        X509CertificationRequest::from_der(&der).map_err(|e| Refusal::NotACsr(e.to_string()))?;
    let info = &csr.certification_request_info;
    let key = match info.subject_pki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let bits = rsa.key_size();
            if bits < 2048 {
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
    if let Some(extensions) = csr.requested_extensions() {
        for ext in extensions {
            if let ParsedExtension::BasicConstraints(bc) = ext
                && bc.ca
            {
                return Err(Refusal::AsksToBeCa);
            }
        }
    }
    let cn = info
        .subject
        .iter_common_name()
        .next()
        .ok_or(Refusal::NoCommonName)?
        .as_str()
        .map_err(|_| Refusal::BadCommonName("<not text>".into()))?
        .to_string();
    if !sane_common_name(&cn) {
        return Err(Refusal::BadCommonName(cn));
    }
    Ok((der, cn, key))
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

/// Signs the CSR at `csr` with the CA in `ca_dir`, writing the certificate
/// to `out`, valid `days` from `not_before` (now if `None`).
pub fn sign(
    csr: &Path,
    ca_dir: &Path,
    out: &Path,
    days: u32,
    not_before: Option<OffsetDateTime>,
) -> Result<Issued, Refusal> {
    let (der, common_name, key) = check_csr(&read(csr)?)?;
    let (ca_crt, ca_key) = ca_files(ca_dir);
    let ca_key = KeyPair::from_pem(&read(&ca_key)?)
        .map_err(|e| Refusal::Other(format!("the CA key is unusable: {e}")))?;
    let issuer = Issuer::from_ca_cert_pem(&read(&ca_crt)?, ca_key)
        .map_err(|e| Refusal::Other(format!("the CA certificate is unusable: {e}")))?;
    let mut request =
        CertificateSigningRequestParams::from_der(&der.into()).map_err(|e| match e {
            rcgen::Error::UnsupportedExtension => Refusal::UnsupportedExtension,
            rcgen::Error::InvalidCertificationRequestSignature => Refusal::BadSignature,
            other => Refusal::NotACsr(other.to_string()),
        })?;
    let start = not_before.unwrap_or_else(OffsetDateTime::now_utc);
    let end = start + Duration::days(i64::from(days));
    let params = &mut request.params;
    params.not_before = start;
    params.not_after = end;
    params.serial_number = Some(random_serial());
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
    if params.subject_alt_names.is_empty()
        && let Ok(dns) = rcgen::string::Ia5String::try_from(common_name.as_str())
        && rustls::pki_types::DnsName::try_from(common_name.as_str()).is_ok()
    {
        params.subject_alt_names.push(rcgen::SanType::DnsName(dns));
    }
    let cert = request.signed_by(&issuer).map_err(other)?;
    write(out, &cert.pem(), false)?;
    Ok(Issued {
        common_name,
        key,
        valid: (start, end),
    })
}

/// Makes `<cn>_key.pem` and `<cn>.csr` in `dir`, for users without openssl.
pub fn request(dir: &Path, cn: &str) -> Result<(PathBuf, PathBuf), Refusal> {
    if !sane_common_name(cn) {
        return Err(Refusal::BadCommonName(cn.to_string()));
    }
    let (key, params) = new_key_for(dir, cn)?;
    let csr = params.serialize_request(&key).map_err(other)?;
    let stem: String = cn
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let key_path = dir.join(format!("{stem}_key.pem"));
    let csr_path = dir.join(format!("{stem}.csr"));
    write(&key_path, &key.serialize_pem(), true)?;
    write(&csr_path, &csr.pem().map_err(other)?, false)?;
    Ok((key_path, csr_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csr_with(params: CertificateParams, alg: &'static rcgen::SignatureAlgorithm) -> String {
        let key = KeyPair::generate_for(alg).unwrap();
        params.serialize_request(&key).unwrap().pem().unwrap()
    }

    fn named(cn: &str) -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        params
    }

    #[test]
    fn accepts_p256_and_p384() {
        let (_, cn, key) =
            check_csr(&csr_with(named("banana"), &rcgen::PKCS_ECDSA_P256_SHA256)).unwrap();
        assert_eq!((cn.as_str(), key.as_str()), ("banana", "ECDSA P-256"));
        let (_, _, key) =
            check_csr(&csr_with(named("kiwi"), &rcgen::PKCS_ECDSA_P384_SHA384)).unwrap();
        assert_eq!(key, "ECDSA P-384");
    }

    #[test]
    fn refuses_ed25519_ca_requests_and_missing_names() {
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
        let mut nameless = CertificateParams::default();
        nameless.distinguished_name = DistinguishedName::new();
        nameless
            .distinguished_name
            .push(DnType::OrganizationName, "no cn");
        assert_eq!(
            check_csr(&csr_with(nameless, &rcgen::PKCS_ECDSA_P256_SHA256)).map(|_| ()),
            Err(Refusal::NoCommonName)
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
