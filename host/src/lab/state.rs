//! `pmulab serve`'s state directory: a CA and a certificate for
//! `localhost` it signed, made on first start and kept between runs.

use std::path::{Path, PathBuf};

use crate::lab::ca;
use crate::ui::failure::Failure;

/// Where the CA and the TLS PMU's certificate live between runs.
pub fn default_state_dir() -> PathBuf {
    if let Some(state) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(state).join("pmulab");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".local/state/pmulab"),
        None => PathBuf::from(".pmulab-state"),
    }
}

/// The TLS material `serve` and `grade` use: a CA and a certificate for
/// `localhost` it signed, made on first use. Returns (ca.crt, server.crt, server key).
pub fn tls_material(state: &Path) -> Result<(PathBuf, PathBuf, PathBuf), Failure> {
    let ca_dir = state.join("ca");
    let (ca_crt, _) = ca::ca_files(&ca_dir);
    if !ca_crt.exists() {
        ca::init(&ca_dir, &ca::default_name(), ca::KeyKind::EcdsaP256, false)
            .map_err(|e| Failure::runtime(format!("cannot make the CA: {e}")))?;
    }
    let crt = state.join("localhost.crt");
    let key = state.join("localhost_key.pem");
    if !crt.exists() || !key.exists() {
        let (key_path, csr) = ca::request(state, "localhost", ca::KeyKind::EcdsaP256, true)
            .map_err(|e| Failure::runtime(format!("cannot make a key: {e}")))?;
        ca::sign(&csr, &ca_dir, &crt, 730, None, ca::Profile::Modern, true)
            .map_err(|e| Failure::runtime(format!("cannot sign the TLS PMU's certificate: {e}")))?;
        debug_assert_eq!(key_path, key);
    }
    Ok((ca_crt, crt, key))
}
