//! Loading certificates and keys into rustls configurations, with errors
//! that name the file and say what is wrong with it.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

use crate::failure::Failure;

/// What to do about an X.509 version 1 certificate, which webpki refuses.
pub const V1_ADVICE: &str = "an X.509 version 1 certificate (no extensions), which rustls does not accept; \
re-issue it with `pmulab ca sign`, or with `openssl x509 -req … -extfile` naming at least \
`basicConstraints=CA:FALSE`";

/// Whether a webpki error text is about an X.509 v1 certificate.
pub fn is_v1(error: &str) -> bool {
    error.contains("UnsupportedCertVersion")
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate in a PEM file, in order.
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, Failure> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::runtime(format!("cannot read {}: {e}", path.display())))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            Failure::runtime(format!("{} is not a valid PEM file: {e}", path.display()))
        })?;
    if certs.is_empty() {
        return Err(Failure::runtime(format!(
            "{} holds no certificate (expected -----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(certs)
}

/// The private key in a PEM file (PKCS#8, PKCS#1 RSA or SEC1 EC).
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, Failure> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::runtime(format!("cannot read {}: {e}", path.display())))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
        Failure::runtime(format!(
            "{} holds no usable private key (expected -----BEGIN PRIVATE KEY----- or an RSA/EC key): {e}",
            path.display()
        ))
    })
}

/// A TLS 1.3 and 1.2 server configuration for the certificate (chain) and key.
pub fn server(certificate: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, Failure> {
    let certs = load_certificates(certificate)?;
    let key_der = load_key(key)?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(Failure::runtime)?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| match e {
            Error::InconsistentKeys(_) => Failure::runtime(format!(
                "the key in {} does not belong to the certificate in {}",
                key.display(),
                certificate.display()
            )),
            Error::InvalidCertificate(CertificateError::Other(ref o)) if is_v1(&o.to_string()) => {
                Failure::runtime(format!("{}: {V1_ADVICE}", certificate.display()))
            }
            other => Failure::runtime(format!(
                "cannot use {} with {}: {other}",
                certificate.display(),
                key.display()
            )),
        })?;
    Ok(Arc::new(config))
}

/// A client configuration trusting the CA certificate(s) in `ca`.
///
/// With a `server_name`, the certificate must be for that name (its SAN,
/// or its CN when it has no SAN), and the name is sent as SNI. Without one, like the course's client, only the
/// chain is verified and no SNI is sent; the returned name is then the
/// server's address, which rustls never sends.
pub fn client(
    ca: &Path,
    server_name: Option<&str>,
    address: IpAddr,
) -> Result<(Arc<rustls::ClientConfig>, ServerName<'static>), Failure> {
    let mut roots = RootCertStore::empty();
    for cert in load_certificates(ca)? {
        roots.add(cert).map_err(|e| {
            Failure::runtime(format!(
                "{} is not a usable CA certificate: {e}",
                ca.display()
            ))
        })?;
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(Failure::runtime)?;
    let (check_name, name) = match server_name {
        Some(name) => {
            let name = ServerName::try_from(name.to_string())
                .map_err(|_| Failure::usage(format!("{name:?} is not a valid server name")))?;
            (true, name)
        }
        None => (false, ServerName::IpAddress(address.into())),
    };
    let verifier = Arc::new(LabVerifier { webpki, check_name });
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(Failure::runtime)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.enable_sni = server_name.is_some();
    Ok((Arc::new(config), name))
}

/// Verifies the chain to a trusted CA, validity dates and signatures, and
/// the name only when asked: lab certificates carry whatever name the
/// student typed, and the course's client checked the chain only.
///
/// When the name is checked, a certificate without a subjectAltName is
/// matched on its common name, as lab certificates made with
/// `openssl req -subj /CN=…` have no SAN (webpki alone never looks at CN).
#[derive(Debug)]
struct LabVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    check_name: bool,
}

/// Whether a certificate without a subjectAltName has `name` as its CN.
fn common_name_matches(end_entity: &CertificateDer<'_>, name: &ServerName<'_>) -> bool {
    let ServerName::DnsName(name) = name else {
        return false;
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(end_entity) else {
        return false;
    };
    if matches!(cert.subject_alternative_name(), Ok(Some(_)) | Err(_)) {
        return false;
    }
    cert.subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .any(|cn| cn.eq_ignore_ascii_case(name.as_ref()))
}

impl ServerCertVerifier for LabVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            // webpki checks the name only after the chain has verified.
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name || common_name_matches(end_entity, server_name) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
