//! What only the lab's tooling needs, above the network: the certificate
//! authority, launching programs, the state directory of `serve`, the
//! statistics of the reset experiment, the grader, and the containment
//! of the programs it runs.

pub mod ca;
pub mod contain;
pub mod grade;
pub mod launch;
pub mod state;
pub mod stats;
