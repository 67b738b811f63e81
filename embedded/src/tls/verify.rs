//! The PMU's certificate checked as embedded-tls checks it (the chain to
//! the one CA, the name, the validity), and when refused, why.
//!
//! embedded-tls answers every refusal with one error, `InvalidCertificate`.
//! A user needs to know which of the three it was, so [`Checked`] asks
//! again with one condition relaxed at a time — without the validity
//! check, then for the name the certificate does carry — and records the
//! [`Refusal`]. The verdict itself is always embedded-tls's own.

use core::cell::Cell;
use core::fmt;

use embedded_tls::blocking::{
    Certificate, CertificateEntryRef, CertificateRef, CertificateVerifyRef, TlsCipherSuite,
    TlsError, TlsVerifier,
};
use embedded_tls::pki::CertVerifier;
use embedded_tls::{NoClock, TlsClock};

use super::stack::CipherSuite;

/// The longest name kept for a report.
const NAME: usize = 64;

/// Why the PMU's certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Its chain ends at the CA and it carries the name, but today is
    /// outside its validity.
    NotValidToday,
    /// Its chain ends at the CA, but it is for another name.
    OtherName {
        /// The name in the certificate (its CN).
        presented: heapless::String<NAME>,
        /// The name this image checks.
        expected: heapless::String<NAME>,
    },
    /// Its chain does not end at the CA built in.
    OtherCa,
    /// Refused, for one of the three reasons (its names could not be read).
    Unknown,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotValidToday => {
                f.write_str("it is not valid today (the board's day comes from the host's clock)")
            }
            Refusal::OtherName {
                presented,
                expected,
            } => write!(f, "it is for {presented:?}, not {expected:?}"),
            Refusal::OtherCa => f.write_str("it is not signed by the CA built into this image"),
            Refusal::Unknown => f.write_str(
                "it is not signed by the CA built into this image, or not for the name this \
                 image checks, or not valid today",
            ),
        }
    }
}

/// embedded-tls's verifier, and the reason of a refusal in `why`.
pub struct Checked<'a, K: TlsClock, const CERT: usize> {
    inner: CertVerifier<'a, CipherSuite, K, CERT>,
    ca: &'a [u8],
    name: &'a str,
    why: &'a Cell<Option<Refusal>>,
}

impl<K: TlsClock, const CERT: usize> fmt::Debug for Checked<'_, K, CERT> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checked")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<'a, K: TlsClock, const CERT: usize> Checked<'a, K, CERT> {
    /// A verifier for a PMU certified by `ca` (DER) for `name`.
    pub fn new(ca: &'a [u8], name: &'a str, why: &'a Cell<Option<Refusal>>) -> Self {
        Checked {
            inner: CertVerifier::new(Certificate::X509(ca)),
            ca,
            name,
            why,
        }
    }

    /// Whether the chain verifies, for `name`, without the validity check.
    fn verifies_for(
        &self,
        name: &str,
        transcript: &<CipherSuite as TlsCipherSuite>::Hash,
        chain: &CertificateRef<'_>,
    ) -> bool {
        let mut again = CertVerifier::<CipherSuite, NoClock, CERT>::new(Certificate::X509(self.ca));
        let Ok(copy) = copy(chain) else {
            return false;
        };
        again.set_hostname_verification(name).is_ok()
            && again.verify_certificate(transcript, copy).is_ok()
    }

    fn diagnose(
        &self,
        transcript: &<CipherSuite as TlsCipherSuite>::Hash,
        chain: &CertificateRef<'_>,
    ) -> Refusal {
        if self.verifies_for(self.name, transcript, chain) {
            return Refusal::NotValidToday;
        }
        let leaf = match chain.entries.first() {
            Some(CertificateEntryRef::X509(der)) => *der,
            _ => return Refusal::Unknown,
        };
        match common_name(leaf) {
            Some(cn) if cn == self.name => Refusal::OtherCa,
            Some(cn) => match self.verifies_for(cn, transcript, chain) {
                true => Refusal::OtherName {
                    presented: heapless::String::try_from(cn).unwrap_or_default(),
                    expected: heapless::String::try_from(self.name).unwrap_or_default(),
                },
                false => Refusal::OtherCa,
            },
            None => Refusal::Unknown,
        }
    }
}

impl<K: TlsClock, const CERT: usize> TlsVerifier<CipherSuite> for Checked<'_, K, CERT> {
    fn set_hostname_verification(&mut self, hostname: &str) -> Result<(), TlsError> {
        self.inner.set_hostname_verification(hostname)
    }

    fn verify_certificate(
        &mut self,
        transcript: &<CipherSuite as TlsCipherSuite>::Hash,
        cert: CertificateRef<'_>,
    ) -> Result<(), TlsError> {
        let kept = copy(&cert)?;
        let verdict = self.inner.verify_certificate(transcript, cert);
        if matches!(verdict, Err(TlsError::InvalidCertificate)) {
            self.why.set(Some(self.diagnose(transcript, &kept)));
        }
        verdict
    }

    fn verify_signature(&mut self, verify: CertificateVerifyRef<'_>) -> Result<(), TlsError> {
        self.inner.verify_signature(verify)
    }
}

/// The same chain again (embedded-tls's verifier takes it by value).
fn copy<'c>(chain: &CertificateRef<'c>) -> Result<CertificateRef<'c>, TlsError> {
    let mut copy = CertificateRef::with_context(&[]);
    for entry in &chain.entries {
        copy.add(match entry {
            CertificateEntryRef::X509(der) => CertificateEntryRef::X509(der),
            CertificateEntryRef::RawPublicKey(key) => CertificateEntryRef::RawPublicKey(key),
        })?;
    }
    Ok(copy)
}

/// id-at-commonName, as DER writes the OID.
const CN_OID: [u8; 5] = [0x06, 0x03, 0x55, 0x04, 0x03];

/// The subject's common name: the last CN in the certificate, since the
/// subject follows the issuer. For a report only — verification is
/// embedded-tls's; a name it cannot read this way is `None`.
fn common_name(der: &[u8]) -> Option<&str> {
    let at = der.windows(CN_OID.len()).rposition(|w| w == CN_OID)?;
    let rest = der.get(at + CN_OID.len()..)?;
    let (&tag, rest) = rest.split_first()?;
    // UTF8String, PrintableString, IA5String; short lengths only.
    if !matches!(tag, 0x0c | 0x13 | 0x16) {
        return None;
    }
    let (&len, rest) = rest.split_first()?;
    let text = rest.get(..usize::from(len).min(NAME + 1))?;
    if len >= 0x80 || usize::from(len) > NAME || text.len() != usize::from(len) {
        return None;
    }
    core::str::from_utf8(text).ok()
}

#[cfg(test)]
mod tests {
    use super::common_name;

    #[test]
    fn the_last_common_name_is_the_subject_s() {
        // issuer CN "ca", then subject CN "pmu.lab" (PrintableString, UTF8String).
        let der = [
            0x30, 0x00, 0x06, 0x03, 0x55, 0x04, 0x03, 0x13, 0x02, b'c', b'a', 0x30, 0x00, 0x06,
            0x03, 0x55, 0x04, 0x03, 0x0c, 0x07, b'p', b'm', b'u', b'.', b'l', b'a', b'b',
        ];
        assert_eq!(common_name(&der), Some("pmu.lab"));
    }

    #[test]
    fn a_cut_or_odd_name_is_not_read() {
        assert_eq!(
            common_name(&[0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x09, b'a']),
            None
        );
        assert_eq!(
            common_name(&[0x06, 0x03, 0x55, 0x04, 0x03, 0x04, 0x01, b'a']),
            None
        );
        assert_eq!(common_name(&[0x06, 0x03, 0x55, 0x04, 0x03]), None);
        assert_eq!(
            common_name(&[0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x81, 0x01, b'a']),
            None
        );
        assert_eq!(common_name(&[]), None);
    }
}
