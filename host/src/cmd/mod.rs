//! One module per subcommand (the servers of part 2, 5 and 6 share
//! `pmu`, the clients `pdc`). A command receives typed arguments from
//! `cli`, works with `lab` and `net`, and reports through `ui`; it never
//! uses another command. What the lower layers' errors mean to the user
//! is decided here, once.

pub mod basics;
pub mod c37;
pub mod ca;
pub mod capture;
pub mod demo;
pub mod docs;
pub mod echo_pair;
pub mod grade;
pub mod load;
pub mod multicast;
pub mod pdc;
pub mod pmu;
pub mod reset;
pub mod reset_pmu;
pub mod sandbox;
pub mod serve;
pub mod states;

use crate::net::resolve::ResolveError;
use crate::net::tls::config::TlsConfigError;
use crate::net::ws::client::WsClientError;
use crate::ui::failure::Failure;

impl From<ResolveError> for Failure {
    fn from(e: ResolveError) -> Self {
        Failure::runtime(e)
    }
}

impl From<TlsConfigError> for Failure {
    fn from(e: TlsConfigError) -> Self {
        match e {
            TlsConfigError::BadServerName(_) => Failure::usage(e),
            _ => Failure::runtime(e),
        }
    }
}

impl From<WsClientError> for Failure {
    fn from(e: WsClientError) -> Self {
        match e {
            WsClientError::Usage(why) => Failure::usage(why),
            WsClientError::Refused(why) => Failure::refused(why),
            WsClientError::Output(e) => Failure::output(e),
            WsClientError::Failed(why) => Failure::runtime(why),
        }
    }
}
