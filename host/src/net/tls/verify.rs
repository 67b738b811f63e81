//! Verifying a chain whose leaf is an X.509 version 1 certificate, as
//! OpenSSL (and so Python's `ssl`) does.
//!
//! Every certificate the course's CA signed was version 1 with no
//! extensions — what `openssl x509 -req` makes without `-extfile` — and
//! webpki refuses any certificate that is not version 3. For those leaves
//! only, pmulab checks what OpenSSL checks: the validity period, a signature
//! by an issuer that is a CA and chains to a trusted certificate, and the
//! name when one is asked for (a v1 certificate has no subjectAltName, so
//! the CN). Certificates are read with x509-parser; every signature is
//! verified by the TLS library's own algorithms.

use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, SubjectPublicKeyInfoDer, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, PeerMisbehaved};
use x509_parser::asn1_rs::ToDer;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::{ASN1Time, X509Version};
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

/// Intermediate certificates followed at most, above the leaf.
const MAX_INTERMEDIATES: usize = 4;

/// Whether `der` is a certificate of X.509 version 1.
pub fn is_version_1(der: &CertificateDer<'_>) -> bool {
    matches!(
        x509_parser::parse_x509_certificate(der),
        Ok((_, cert)) if cert.version() == X509Version::V1
    )
}

fn parse<'a>(der: &'a CertificateDer<'_>) -> Result<X509Certificate<'a>, Error> {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, cert)| cert)
        .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))
}

/// Verifies that `leaf` chains, through `intermediates` if need be, to one
/// of `roots`, and that each certificate on the way is valid at `now`.
pub fn verify_chain(
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    roots: &[CertificateDer<'static>],
    now: UnixTime,
    algorithms: &WebPkiSupportedAlgorithms,
) -> Result<(), Error> {
    let leaf = parse(leaf)?;
    let roots: Vec<X509Certificate<'_>> = roots.iter().filter_map(|r| parse(r).ok()).collect();
    let intermediates: Vec<X509Certificate<'_>> =
        intermediates.iter().filter_map(|c| parse(c).ok()).collect();
    check_validity(&leaf, now)?;
    let mut cert = &leaf;
    for _ in 0..=MAX_INTERMEDIATES {
        // A name match whose key did not sign it: a CA with the right name
        // but the wrong key (another CA that took the same name).
        let mut error = CertificateError::UnknownIssuer;
        let issued_by = |c: &&X509Certificate<'_>| c.subject().as_raw() == cert.issuer().as_raw();
        for root in roots.iter().filter(issued_by) {
            if !may_issue(root, true) {
                continue;
            }
            if signed_by(cert, root.public_key(), algorithms) {
                return check_validity(root, now);
            }
            error = CertificateError::BadSignature;
        }
        let next = intermediates
            .iter()
            .filter(issued_by)
            .filter(|i| i.as_raw() != cert.as_raw() && may_issue(i, false))
            .find(|i| signed_by(cert, i.public_key(), algorithms));
        match next {
            Some(issuer) => {
                check_validity(issuer, now)?;
                cert = issuer;
            }
            None => return Err(Error::InvalidCertificate(error)),
        }
    }
    Err(Error::InvalidCertificate(CertificateError::UnknownIssuer))
}

/// Whether `cert` may sign certificates: CA:TRUE (and keyCertSign when it
/// states its key usage). A trusted version 1 certificate counts as a CA,
/// as OpenSSL counts it.
fn may_issue(cert: &X509Certificate<'_>, trusted: bool) -> bool {
    if trusted && cert.version() == X509Version::V1 {
        return true;
    }
    let is_ca = matches!(cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
    let may_sign = match cert.key_usage() {
        Ok(Some(usage)) => usage.value.key_cert_sign(),
        Ok(None) => true,
        Err(_) => false,
    };
    is_ca && may_sign
}

fn check_validity(cert: &X509Certificate<'_>, now: UnixTime) -> Result<(), Error> {
    let seconds = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let at = ASN1Time::from_timestamp(seconds)
        .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let validity = cert.validity();
    let unix = |t: ASN1Time| {
        UnixTime::since_unix_epoch(core::time::Duration::from_secs(
            u64::try_from(t.timestamp()).unwrap_or(0),
        ))
    };
    if at < validity.not_before {
        return Err(Error::InvalidCertificate(
            CertificateError::NotValidYetContext {
                time: now,
                not_before: unix(validity.not_before),
            },
        ));
    }
    if at > validity.not_after {
        return Err(Error::InvalidCertificate(
            CertificateError::ExpiredContext {
                time: now,
                not_after: unix(validity.not_after),
            },
        ));
    }
    Ok(())
}

/// An AlgorithmIdentifier's contents in DER, the form the TLS library
/// names its algorithms by.
fn algorithm_id(alg: &AlgorithmIdentifier<'_>) -> Option<Vec<u8>> {
    let mut der = alg.algorithm.to_der_vec().ok()?;
    if let Some(parameters) = &alg.parameters {
        der.extend(parameters.to_der_vec().ok()?);
    }
    Some(der)
}

/// Whether `cert`'s signature verifies under the key `issuer`.
fn signed_by(
    cert: &X509Certificate<'_>,
    issuer: &SubjectPublicKeyInfo<'_>,
    algorithms: &WebPkiSupportedAlgorithms,
) -> bool {
    let (Some(signature_alg), Some(key_alg)) = (
        algorithm_id(&cert.signature_algorithm),
        algorithm_id(&issuer.algorithm),
    ) else {
        return false;
    };
    algorithms
        .all
        .iter()
        .filter(|a| {
            a.signature_alg_id().as_ref() == signature_alg.as_slice()
                && a.public_key_alg_id().as_ref() == key_alg.as_slice()
        })
        .any(|a| {
            a.verify_signature(
                &issuer.subject_public_key.data,
                cert.tbs_certificate.as_ref(),
                &cert.signature_value.data,
            )
            .is_ok()
        })
}

/// The common names in a certificate's subject.
pub fn common_names(der: &CertificateDer<'_>) -> Vec<String> {
    let Ok(cert) = parse(der) else {
        return Vec::new();
    };
    cert.subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .map(str::to_string)
        .collect()
}

/// Whether the v1 certificate names `name` in its CN (it has no
/// subjectAltName to name it in).
pub fn common_name_is(der: &CertificateDer<'_>, name: &str) -> bool {
    common_names(der)
        .iter()
        .any(|cn| cn.eq_ignore_ascii_case(name))
}

/// Verifies a TLS 1.2 handshake signature with the key of a certificate
/// webpki will not read.
pub fn verify_tls12_signature(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
    algorithms: &WebPkiSupportedAlgorithms,
) -> Result<(), Error> {
    let cert = parse(cert)?;
    let key = cert.public_key();
    let key_alg = algorithm_id(&key.algorithm)
        .ok_or(Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let candidates = algorithms
        .mapping
        .iter()
        .find(|(scheme, _)| *scheme == dss.scheme)
        .map(|(_, algs)| *algs)
        .ok_or(PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme)?;
    let valid = candidates
        .iter()
        .filter(|a| a.public_key_alg_id().as_ref() == key_alg.as_slice())
        .any(|a| {
            a.verify_signature(&key.subject_public_key.data, message, dss.signature())
                .is_ok()
        });
    match valid {
        true => Ok(()),
        false => Err(Error::InvalidCertificate(CertificateError::BadSignature)),
    }
}

/// Verifies a TLS 1.3 handshake signature with the key of a certificate
/// webpki will not read.
pub fn verify_tls13_signature(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
    algorithms: &WebPkiSupportedAlgorithms,
) -> Result<(), Error> {
    let parsed = parse(cert)?;
    let spki = SubjectPublicKeyInfoDer::from(parsed.public_key().raw);
    rustls::crypto::verify_tls13_signature_with_raw_key(message, &spki, dss, algorithms).map(|_| ())
}
