//! Loading certificates and keys into rustls configurations, with errors
//! that name the file and say what is wrong with it.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

use super::verify;

/// Why certificates, keys or a configuration could not be made.
#[derive(Debug)]
pub enum TlsConfigError {
    /// A file is missing, unreadable or not what it should be; the
    /// sentence names it and says why.
    File(String),
    /// The server name to check is not a name.
    BadServerName(String),
    /// rustls refused the configuration.
    Tls(Error),
}

impl std::fmt::Display for TlsConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsConfigError::File(why) => f.write_str(why),
            TlsConfigError::BadServerName(name) => write!(f, "{name:?} is not a valid server name"),
            TlsConfigError::Tls(e) => e.fmt(f),
        }
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate in a PEM file, in order.
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let bytes = std::fs::read(path)
        .map_err(|e| TlsConfigError::File(format!("cannot read {}: {e}", path.display())))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            TlsConfigError::File(format!("{} is not a valid PEM file: {e}", path.display()))
        })?;
    if certs.is_empty() {
        return Err(TlsConfigError::File(format!(
            "{} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(certs)
}

/// The private key in a PEM file (PKCS#8, PKCS#1 RSA or SEC1 EC).
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsConfigError> {
    let bytes = std::fs::read(path)
        .map_err(|e| TlsConfigError::File(format!("cannot read {}: {e}", path.display())))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
        TlsConfigError::File(match e {
            rustls::pki_types::pem::Error::NoItemsFound => format!(
                "{} holds no PEM private key (expected -----BEGIN PRIVATE KEY-----, \
-----BEGIN RSA PRIVATE KEY----- or -----BEGIN EC PRIVATE KEY-----)",
                path.display()
            ),
            other => format!("{} is not a valid PEM file: {other}", path.display()),
        })
    })
}

/// A TLS 1.3 and 1.2 server configuration for the certificate (chain) and key.
///
/// The certificate is served as it is, whatever its X.509 version: a server
/// has no reason to judge its own certificate, and the course's CA issued
/// version 1 certificates, which rustls's own loader refuses.
pub fn server(certificate: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsConfigError> {
    let certs = load_certificates(certificate)?;
    let provider = provider();
    let signing_key = provider
        .key_provider
        .load_private_key(load_key(key)?)
        .map_err(|e| {
            TlsConfigError::File(format!(
                "{} holds a key pmulab cannot sign with: {e}",
                key.display()
            ))
        })?;
    let leaf = x509_parser::parse_x509_certificate(&certs[0]).map_err(|e| {
        TlsConfigError::File(format!(
            "the first certificate in {} is not a valid X.509 certificate: {e}",
            certificate.display()
        ))
    })?;
    let certified_key = signing_key.public_key();
    if certified_key.is_some_and(|k| k.as_ref() != leaf.1.public_key().raw) {
        return Err(TlsConfigError::File(format!(
            "the key in {} does not belong to the certificate in {}",
            key.display(),
            certificate.display()
        )));
    }
    let certified = Arc::new(CertifiedKey::new(certs, signing_key));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(TlsConfigError::Tls)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(OneCertificate(certified)));
    config.key_log = key_log();
    Ok(Arc::new(config))
}

/// The one certificate a lab PMU serves, to every client.
#[derive(Debug)]
struct OneCertificate(Arc<CertifiedKey>);

impl ResolvesServerCert for OneCertificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }
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
) -> Result<(Arc<rustls::ClientConfig>, ServerName<'static>), TlsConfigError> {
    let mut roots = RootCertStore::empty();
    let anchors = load_certificates(ca)?;
    for cert in anchors.iter().cloned() {
        roots.add(cert).map_err(|e| {
            TlsConfigError::File(format!(
                "{} is not a usable CA certificate: {e}",
                ca.display()
            ))
        })?;
    }
    let provider = provider();
    let algorithms = provider.signature_verification_algorithms;
    let webpki =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .build()
            .map_err(|e| {
                TlsConfigError::File(format!(
                    "{} is not a usable CA certificate: {e}",
                    ca.display()
                ))
            })?;
    let (check_name, name) = match server_name {
        Some(name) => {
            let name = ServerName::try_from(name.to_string())
                .map_err(|_| TlsConfigError::BadServerName(name.to_string()))?;
            (true, name)
        }
        None => (false, ServerName::IpAddress(address.into())),
    };
    let verifier = Arc::new(LabVerifier {
        webpki,
        anchors,
        algorithms,
        check_name,
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(TlsConfigError::Tls)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.enable_sni = server_name.is_some();
    config.key_log = key_log();
    Ok((Arc::new(config), name))
}

/// Session secrets go to `$SSLKEYLOGFILE` when it is set (as curl, browsers
/// and Python's ssl do), so Wireshark can decrypt a capture; otherwise
/// nowhere.
fn key_log() -> Arc<dyn rustls::KeyLog> {
    Arc::new(rustls::KeyLogFile::new())
}

/// Verifies the chain to a trusted CA, validity dates and signatures, and
/// the name only when asked: lab certificates carry whatever name the
/// student typed, and the course's client checked the chain only.
///
/// When the name is checked, a certificate without a subjectAltName is
/// matched on its common name, as lab certificates made with
/// `openssl req -subj /CN=…` have no SAN (webpki alone never looks at CN).
///
/// An X.509 version 1 leaf, which webpki refuses, is verified as OpenSSL
/// verifies it ([`x509_chain`]): the course's CA issued nothing else.
#[derive(Debug)]
struct LabVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    /// The trusted CA certificates, for version 1 leaves.
    anchors: Vec<CertificateDer<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
    check_name: bool,
}

impl LabVerifier {
    fn verify_version_1(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        verify::verify_chain(
            end_entity,
            intermediates,
            &self.anchors,
            now,
            &self.algorithms,
        )?;
        let name = server_name_text(server_name);
        if self.check_name && !verify::common_name_is(end_entity, &name) {
            return Err(Error::InvalidCertificate(
                CertificateError::NotValidForNameContext {
                    expected: server_name.to_owned(),
                    presented: verify::common_names(end_entity),
                },
            ));
        }
        Ok(ServerCertVerified::assertion())
    }
}

/// A server name as a person writes it: `banana`, `127.0.0.1`.
pub fn server_name_text(name: &ServerName<'_>) -> String {
    match name {
        ServerName::DnsName(name) => name.as_ref().to_string(),
        ServerName::IpAddress(ip) => IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
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
        if verify::is_version_1(end_entity) {
            return self.verify_version_1(end_entity, intermediates, server_name, now);
        }
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
        if verify::is_version_1(cert) {
            verify::verify_tls12_signature(message, cert, dss, &self.algorithms)?;
            return Ok(HandshakeSignatureValid::assertion());
        }
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        if verify::is_version_1(cert) {
            verify::verify_tls13_signature(message, cert, dss, &self.algorithms)?;
            return Ok(HandshakeSignatureValid::assertion());
        }
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
