//! Puts the board's memory map where cortex-m-rt's linker script looks for
//! it, only when building the firmware; and for the TLS PDC's image, the
//! CA certificate it trusts and the PMU's name it checks, which are built
//! into it:
//!
//! - `PMULAB_BOARD_CA`: the CA certificate (PEM or DER), ECDSA P-256, as
//!   `pmulab ca init` makes it;
//! - `PMULAB_BOARD_PMU_NAME`: the name the PMU's certificate must carry
//!   (DNS subjectAltName or CN); `localhost` unless given.

use std::path::PathBuf;
#[cfg(feature = "tls")]
use std::{path::Path, process::exit};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_MPS2_AN386").is_none() {
        return;
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::copy("memory.x", out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rerun-if-changed=memory.x");
    #[cfg(feature = "tls")]
    trust(&out);
}

/// DER of id-ecPublicKey and of the P-256 curve, as they appear in a certificate.
#[cfg(feature = "tls")]
const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
#[cfg(feature = "tls")]
const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

#[cfg(feature = "tls")]
fn trust(out: &Path) {
    println!("cargo:rerun-if-env-changed=PMULAB_BOARD_CA");
    println!("cargo:rerun-if-env-changed=PMULAB_BOARD_PMU_NAME");
    let Some(path) = std::env::var_os("PMULAB_BOARD_CA") else {
        refuse(
            "the TLS PDC's image trusts the CA built into it: set PMULAB_BOARD_CA to its certificate \
             (embedded/board.sh --image pdc-tls --ca FILE does; `pmulab ca init DIR` makes DIR/ca.crt)",
        );
    };
    let path = PathBuf::from(path);
    println!("cargo:rerun-if-changed={}", path.display());
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        refuse(&format!(
            "cannot read PMULAB_BOARD_CA {}: {e}",
            path.display()
        ))
    });
    let der = if bytes.starts_with(b"-----BEGIN") {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        CertificateDer::from_pem_slice(&bytes)
            .unwrap_or_else(|e| {
                refuse(&format!(
                    "PMULAB_BOARD_CA {} holds no PEM certificate: {e}",
                    path.display()
                ))
            })
            .to_vec()
    } else {
        bytes
    };
    if !(contains(&der, EC_PUBLIC_KEY) && contains(&der, P256)) {
        refuse(&format!(
            "the CA in {} does not have an ECDSA P-256 key; the board checks no other kind \
             (no RSA without an allocator): `pmulab ca init DIR` makes an ECDSA P-256 CA",
            path.display()
        ));
    }
    let name = std::env::var("PMULAB_BOARD_PMU_NAME").unwrap_or_else(|_| "localhost".into());
    let sane = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if !sane {
        refuse(&format!(
            "PMULAB_BOARD_PMU_NAME {name:?} is not a host name (letters, digits, '-' and '.', at most 63)"
        ));
    }
    std::fs::write(out.join("pmu-ca.der"), der).expect("write the CA into OUT_DIR");
    std::fs::write(out.join("pmu-name"), name).expect("write the name into OUT_DIR");
}

#[cfg(feature = "tls")]
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(feature = "tls")]
fn refuse(why: &str) -> ! {
    eprintln!("error: {why}");
    exit(1);
}
