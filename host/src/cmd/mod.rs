//! One module per subcommand.

pub mod basics;
pub mod ca;
pub mod demo;
pub mod docs;
pub mod load;
pub mod multicast;
pub mod pdc;
pub mod pmu;
pub mod reset;
pub mod reset_pmu;
pub mod resolve;
pub mod serve;
pub mod ws_pmu;
