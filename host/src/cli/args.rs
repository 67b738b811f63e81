//! The arguments of every subcommand, as typed values: durations,
//! counts, addresses and choices are parsed and checked here, once, so a
//! command receives values it can use as they are.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use pmulab_core::lab;
use pmulab_core::stream::session::MessageCount;

use super::values::{self, FamilyChoice, GradeRole, Protocol};
use crate::net::serve::MAX_SESSIONS;

#[derive(Debug, Args)]
#[command(
    override_usage = "pmulab pdc [OPTIONS] <SERVER> <PORT> <COMMAND>\n       pmulab pdc [OPTIONS] <URL> <COMMAND>"
)]
pub struct PdcArgs {
    /// The PMU: an IPv4 or IPv6 address (127.0.0.1, ::1 or [::1]) or a host
    /// name (its IPv4 address first); or a URL ws://HOST:PORT/PATH (part 6).
    #[arg(value_name = "SERVER|URL")]
    pub server: String,
    /// The PMU's port (5003 on the course server; 5006 for WebSocket); after a
    /// URL, the command.
    #[arg(value_name = "PORT|COMMAND")]
    pub port: String,
    /// CMD_short:<seconds> or CMD_floodme (after SERVER and PORT; a URL
    /// takes the command in the place of PORT).
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,

    /// Speak WebSocket (RFC 6455) to ws://SERVER:PORT/ (part 6).
    #[arg(long, conflicts_with = "tls")]
    pub ws: bool,

    /// Show on stderr each read's size and where messages start in it; over
    /// WebSocket, each frame's opcode, FIN bit and length.
    #[arg(long)]
    pub trace: bool,

    #[command(flatten)]
    pub tls: TlsClientOptions,

    #[command(flatten)]
    pub options: PdcOptions,
}

/// TLS for `pmulab pdc` (part 5).
#[derive(Debug, Args)]
pub struct TlsClientOptions {
    /// Speak TLS to the PMU, verifying its certificate against --ca.
    #[arg(long, requires = "ca")]
    pub tls: bool,

    /// The CA certificate (PEM) that must have signed the PMU's certificate
    /// (implies --tls).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,

    /// Also check that the PMU's certificate is for this name (otherwise,
    /// like the course's client, only the chain is checked). Sent as SNI.
    #[arg(long, value_name = "NAME", requires = "ca")]
    pub server_name: Option<String>,
}

/// How the PDC reads and reports; shared by `pdc` and `secure-pdc`.
#[derive(Debug, Args)]
pub struct PdcOptions {
    /// Give up when the PMU is silent this long, in seconds [default: 10, or d + 10 for CMD_short:d].
    #[arg(long, value_name = "SECONDS", value_parser = values::seconds)]
    pub timeout: Option<Duration>,

    /// Give up connecting (and, with TLS, the handshake) after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = values::seconds)]
    pub connect_timeout: Duration,

    /// Send the command even if it is not a valid lab command (to test a server).
    #[arg(long)]
    pub raw: bool,

    /// Read at most this many bytes at a time; small values show messages
    /// split across reads.
    #[arg(long, value_name = "BYTES", default_value_t = 65536,
          value_parser = clap::value_parser!(u32).range(1..=16 << 20))]
    pub read_size: u32,

    /// Print a summary (bytes, reads, messages) on stderr at the end.
    #[arg(long)]
    pub stats: bool,

    /// Write the summary as JSON to this file (as `load --json` does).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SecurePdcArgs {
    /// CMD_short:<seconds> or CMD_floodme.
    pub command: String,
    /// The CA certificate (PEM) that must have signed the PMU's certificate.
    pub ca_certificate: PathBuf,

    /// The PMU's port (the course's TLS PMU listened on 5003; `pmulab serve`'s is 5443).
    #[arg(long, default_value_t = lab::COURSE_TLS_CLIENT_PORT, value_name = "PORT")]
    pub port: u16,

    /// The PMU's host.
    #[arg(long, default_value = "localhost", value_name = "ADDR")]
    pub host: String,

    /// Also check that the PMU's certificate is for this name (otherwise,
    /// like the course's client, only the chain is checked). Sent as SNI.
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,

    /// Show on stderr each read's size and where messages start in it.
    #[arg(long)]
    pub trace: bool,

    #[command(flatten)]
    pub options: PdcOptions,
}

/// What every PMU session is configured with; shared by `pmu` and `secure-pmu`.
#[derive(Debug, Args)]
pub struct SessionOptions {
    /// Messages per CMD_short: a number, `random` (2 to 17, as the course's
    /// scorer varied it), or a range such as 5-20.
    #[arg(long, default_value = "15", value_name = "N", value_parser = values::count)]
    pub count: MessageCount,

    /// Size of the CMD_floodme text in bytes.
    #[arg(long, default_value_t = pmulab_core::stream::flood::DEFAULT_FLOOD_BYTES, value_name = "BYTES")]
    pub flood_bytes: u64,

    /// Sessions served at once; more connections are told the server is busy.
    #[arg(long, default_value_t = 1024, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=MAX_SESSIONS as i64))]
    pub max_sessions: u16,

    /// Seconds a client may take to send a complete command.
    #[arg(long, default_value = "10", value_name = "SECONDS", value_parser = values::seconds)]
    pub command_timeout: Duration,

    /// Seed for the random message counts, for reproducible runs.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

/// How many event loops serve; every PMU runs on the same loop.
#[derive(Debug, Args)]
pub struct LoopOptions {
    /// Event loops, one per thread, sharing the listening socket and splitting
    /// --max-sessions [default: pmu and ws-pmu one per two cores, secure-pmu
    /// one per core; one below 64 sessions].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
}

#[derive(Debug, Args)]
pub struct PmuArgs {
    /// TCP port to listen on; 0 picks a free one (printed at start).
    #[arg(long, default_value_t = lab::TCP_PMU_PORT, value_name = "PORT")]
    pub port: u16,

    /// Address to listen on. 0.0.0.0 or :: opens the PMU to the network.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR", value_parser = values::bind)]
    pub bind: IpAddr,

    #[command(flatten)]
    pub session: SessionOptions,

    #[command(flatten)]
    pub loops: LoopOptions,
}

#[derive(Debug, Args)]
pub struct WsPmuArgs {
    /// TCP port to listen on; 0 picks a free one (printed at start).
    #[arg(long, default_value_t = lab::WS_PMU_PORT, value_name = "PORT")]
    pub port: u16,

    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR", value_parser = values::bind)]
    pub bind: IpAddr,

    /// Send messages as text; the course's server sent binary messages.
    #[arg(long)]
    pub text: bool,

    /// Split the floodme message into frames of this many bytes, to show
    /// frames versus messages [default: frames of 1 MiB, so the lab's floodme is one frame].
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(1..))]
    pub fragment: Option<u32>,

    /// The longest message a client may send; longer ones are refused with close code 1009.
    #[arg(long, value_name = "BYTES", default_value_t = 4096)]
    pub max_message: usize,

    /// Let browser pages from this origin (http://host:port) drive the PMU
    /// too; '*' lets any page. Its own page always may, and programs (which
    /// send no Origin) always are served.
    #[arg(long, value_name = "ORIGIN", value_parser = values::origin)]
    pub allow_origin: Vec<String>,

    #[command(flatten)]
    pub session: SessionOptions,

    #[command(flatten)]
    pub loops: LoopOptions,
}

#[derive(Debug, Args)]
pub struct SecurePmuArgs {
    /// TCP port to listen on; 0 picks a free one (printed at start).
    pub port: u16,
    /// The server's certificate (PEM); may hold the chain after it.
    pub certificate: PathBuf,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC).
    pub key: PathBuf,

    /// Address to listen on (the lab listens on localhost, IPv4).
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR", value_parser = values::bind)]
    pub bind: IpAddr,

    #[command(flatten)]
    pub session: SessionOptions,

    #[command(flatten)]
    pub loops: LoopOptions,
}

#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create the CA: a key and a self-signed CA certificate in DIR.
    #[command(
        after_help = "Examples:\n  pmulab ca init course-ca\n  pmulab ca init course-ca --rsa --cn \"Course CA\"\n\n\
Writes DIR/ca.key (private, mode 600) and DIR/ca.crt (give this one to clients)."
    )]
    Init(CaInitArgs),

    /// Sign a certificate signing request, after checking it.
    #[command(
        after_help = "Examples:\n  openssl genrsa -out banana_key.pem 2048\n  \
openssl req -new -key banana_key.pem -out banana.csr -subj /CN=banana\n  \
pmulab ca sign banana.csr --ca course-ca --out banana.crt\n  \
pmulab ca sign banana.csr --ca course-ca --out banana.crt --course\n\n\
Refused, each with its reason: a CSR whose signature does not verify, an RSA key under \
2048 bits or a key that is neither RSA nor NIST P-256/P-384, a request to become a CA, \
a common name that is not sane. A subject without a common name (openssl's defaults) is \
signed, with a note: no host name can be checked against it.\n\n\
By default the certificate is X.509 version 3 with CA:FALSE, server and client \
authentication, and the CN as a subjectAltName when it is a host name. --course signs as \
the course's CA did: version 1, no extensions (what `openssl x509 -req` makes without \
-extfile); Python's ssl, openssl and pmulab accept both."
    )]
    Sign(CaSignArgs),

    /// Make a key and a CSR, for users without openssl.
    #[command(after_help = "Examples:\n  pmulab ca request . --cn banana\n  \
pmulab ca request keys --cn kiwi --rsa\n\n\
Writes DIR/<cn>_key.pem (ECDSA P-256, or RSA 2048 with --rsa; mode 600) and DIR/<cn>.csr. \
Existing files are kept unless --force is given.")]
    Request(CaRequestArgs),
}

#[derive(Debug, Args)]
pub struct CaInitArgs {
    /// Directory for the CA's files (created if missing).
    pub dir: PathBuf,
    /// The CA's common name [default: "pmulab course CA" and a random tag,
    /// so that two CAs never share a name].
    #[arg(long)]
    pub cn: Option<String>,
    /// An RSA 2048 key, as the course's CA had (default: ECDSA P-256).
    #[arg(long)]
    pub rsa: bool,
    /// Replace an existing CA in DIR.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CaSignArgs {
    /// The certificate signing request (PEM).
    pub csr: PathBuf,
    /// The CA's directory (from `pmulab ca init`).
    #[arg(long, value_name = "DIR")]
    pub ca: PathBuf,
    /// Where to write the certificate (PEM).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Days the certificate is valid (at most 36525, a hundred years).
    #[arg(long, default_value_t = 730, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::lab::ca::MAX_DAYS)))]
    pub days: u32,
    /// First day of validity, YYYY-MM-DD [default: now]. A date in the past
    /// with few --days makes an expired certificate, to show what clients do.
    #[arg(long, value_name = "DATE")]
    pub not_before: Option<String>,
    /// Sign as the course's CA did: X.509 version 1, no extensions.
    #[arg(long)]
    pub course: bool,
    /// Replace the file at --out if there is one.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CaRequestArgs {
    /// Directory for the key and the CSR.
    pub dir: PathBuf,
    /// The common name to ask for.
    #[arg(long)]
    pub cn: String,
    /// An RSA 2048 key, as `openssl genrsa` makes (default: ECDSA P-256).
    #[arg(long)]
    pub rsa: bool,
    /// Replace the key and request if they exist.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The PMU's address or host name.
    pub server: String,
    /// Its port.
    #[arg(value_parser = values::connect_port)]
    pub port: u16,
    /// tcp (part 2), tls (part 5), ws (part 6) or udp (part 3's reset).
    #[arg(long, default_value = "tcp", value_enum)]
    pub protocol: Protocol,
    /// The command [default: CMD_short:0, or RESET:20 over udp].
    #[arg(long)]
    pub command: Option<String>,
    /// Sessions in flight at once.
    #[arg(long, default_value_t = 64, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
    /// Stop after this many sessions.
    #[arg(long, default_value_t = 100_000, value_name = "N", value_parser = values::at_least_one)]
    pub sessions: u64,
    /// Stop after this many seconds.
    #[arg(long, default_value = "10", value_name = "SECONDS", value_parser = values::seconds)]
    pub duration: Duration,
    /// The CA certificate, with --protocol tls.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Check the server's name too, with --protocol tls.
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
    /// Write the figures as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Add this to every port (5003 → 5003 + N …): two instances, or ports above 1024.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub port_offset: u16,
    /// Where the CA and the TLS PMU's certificate are kept [default: ~/.local/state/pmulab].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Messages per CMD_short: a number, `random`, or a range such as 5-20.
    #[arg(long, default_value = "15", value_name = "N", value_parser = values::count)]
    pub count: MessageCount,
    /// The UDP reset PMU's loss probability.
    #[arg(long, default_value = "0.4", value_name = "P", value_parser = values::probability)]
    pub loss: f64,
    /// Families the UDP reset PMU answers on.
    #[arg(long, default_value = "both", value_enum)]
    pub family: FamilyChoice,
    /// The interface the multicast bot sends from (127.0.0.1 keeps it on this machine).
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub iface: std::net::Ipv4Addr,
}

#[derive(Debug, Args)]
pub struct GradeArgs {
    /// The lab part: 2, 3, 4, 5 or 6.
    #[arg(value_parser = clap::value_parser!(u8).range(2..=6))]
    pub part: u8,
    /// Write the course's JSON result ({"max_grade", "score", "success"}) here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Seconds each run of the program may take.
    #[arg(long, default_value = "30", value_name = "SECONDS", value_parser = values::seconds)]
    pub timeout: Duration,
    /// Print each test's output, not only failing ones.
    #[arg(long)]
    pub show_output: bool,
    /// Part 4: grade only the receiver or only the sender. Part 5: the
    /// secure PMU (the default, what the course graded) or a TLS PDC.
    #[arg(long, value_enum)]
    pub role: Option<GradeRole>,
    /// Part 5: your course-signed certificate, instead of fresh ones (with --key and --ca).
    #[arg(long, value_name = "FILE")]
    pub certificate: Option<PathBuf>,
    /// Part 5: the key of --certificate.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Part 5: the CA certificate that signed --certificate.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// The whole verdict (each check, its reason and notes) as JSON, here.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Grade a submission: this file or folder is copied into the program's
    /// working directory, where {dir} in the program's arguments points.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["batch", "merge"])]
    pub submission: Option<PathBuf>,

    /// Grade every entry of this folder (a folder or a file per student).
    #[arg(long, value_name = "DIR", conflicts_with = "merge")]
    pub batch: Option<PathBuf>,
    /// With --batch: how to start one submission ({dir}: its copy, {id}: its name).
    #[arg(long, value_name = "TEMPLATE", requires = "batch")]
    pub run: Option<String>,
    /// With --batch: submissions graded at once (default: the machine's cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256), requires = "batch")]
    pub jobs: Option<u32>,
    /// With --batch or --merge: the results folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// With --batch: grade only the K-th of N fixed slices of the class.
    #[arg(long, value_name = "K/N", value_parser = values::shard, requires = "batch")]
    pub shard: Option<(u32, u32)>,
    /// With --batch: grade again submissions that already have a record.
    #[arg(long, requires = "batch")]
    pub regrade: bool,
    /// Join the --out folders of shards into one (given with --out).
    #[arg(long, value_name = "DIR", num_args = 1.., requires = "out")]
    pub merge: Vec<PathBuf>,
    /// Grade without namespaces: one program, as you asked; a --batch, only
    /// where they cannot be made (which it otherwise refuses). The working
    /// directory, clean environment and limits stay.
    #[arg(long)]
    pub uncontained: bool,

    /// CPU seconds each run of the program may use.
    #[arg(long, default_value = "30", value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub cpu: u64,
    /// Memory (address space) each run may use, in MiB.
    #[arg(long, default_value = "512", value_name = "MIB", value_parser = clap::value_parser!(u64).range(16..=65536))]
    pub memory: u64,
    /// Processes and threads each run may have at once.
    #[arg(long, default_value = "64", value_name = "N", value_parser = clap::value_parser!(u64).range(4..=4096))]
    pub processes: u64,

    /// The program and its own arguments, after `--`.
    #[arg(last = true, required_unless_present_any = ["batch", "merge"], value_name = "PROGRAM")]
    pub program: Vec<String>,
}

/// The sandbox helper's arguments (internal: the grader writes them).
#[derive(Debug, Args)]
pub struct SandboxArgs {
    #[arg(long)]
    pub workdir: PathBuf,
    #[arg(long)]
    pub cpu: u64,
    #[arg(long)]
    pub memory: u64,
    #[arg(long)]
    pub processes: u64,
    #[arg(long)]
    pub file_size: u64,
    #[arg(long)]
    pub open_files: u64,
    #[arg(long, requires = "gid")]
    pub uid: Option<u32>,
    #[arg(long, requires = "uid")]
    pub gid: Option<u32>,
    #[arg(long)]
    pub namespaces: bool,
    #[arg(long)]
    pub reaper: bool,
    #[arg(long)]
    pub status: Option<PathBuf>,
    #[arg(last = true, required = true)]
    pub program: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// The PMU: a host name (both its IPv4 and IPv6 addresses are used) or an address.
    pub server: String,
    /// The PMU's UDP port (5004 on the course server).
    #[arg(value_parser = values::connect_port)]
    pub port: u16,

    /// The request to send.
    #[arg(long, default_value = "RESET:20")]
    pub command: String,

    /// Seconds to wait for an answer after each round.
    #[arg(long, default_value = "1", value_name = "SECONDS", value_parser = values::seconds)]
    pub timeout: Duration,

    /// Give up after this many rounds (0: never, as in the lab).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub max_attempts: u32,

    /// Run the lab's experiment: N resets, then the mean number of requests and the loss estimate.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub trials: Option<u32>,

    /// With --trials, write the results as JSON to this file (as `load --json` does).
    #[arg(long, value_name = "FILE", requires = "trials")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ResetPmuArgs {
    /// UDP port to listen on; 0 picks a free one (printed at start).
    #[arg(long, default_value_t = lab::UDP_RESET_PORT, value_name = "PORT")]
    pub port: u16,

    /// Addresses to listen on, one per family [default: 127.0.0.1 and ::1].
    #[arg(long, value_name = "ADDR", value_parser = values::bind)]
    pub bind: Vec<IpAddr>,

    /// Probability that a request is ignored, from 0 to 1.
    #[arg(long, default_value = "0.4", value_name = "P", value_parser = values::probability)]
    pub loss: f64,

    /// Families answered (alternate: one at a time, switching every --period).
    #[arg(long, default_value = "both", value_enum)]
    pub family: FamilyChoice,

    /// Seconds each family is served in --family alternate.
    #[arg(long, default_value = "60", value_name = "SECONDS", value_parser = values::seconds)]
    pub period: Duration,

    /// Seed for the losses and offsets, for reproducible runs.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

/// Where multicast goes: the options every part 4 program takes.
#[derive(Debug, Args)]
pub struct MulticastOptions {
    /// Address of the interface to join on and send from. The default keeps
    /// everything on this machine; give your network address to reach others.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub iface: std::net::Ipv4Addr,

    /// Hops a sent datagram may travel.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub ttl: u8,
}

#[derive(Debug, Args)]
pub struct ReceiverArgs {
    /// The group, e.g. 224.1.1.1.
    pub group: std::net::Ipv4Addr,
    /// The port, e.g. 10505.
    pub port: u16,
    #[command(flatten)]
    pub multicast: MulticastOptions,
    /// Print only the text, without the sender's id.
    #[arg(long)]
    pub plain: bool,
    /// Start each line with the datagram's source address.
    #[arg(long)]
    pub show_address: bool,
    /// Exit after this many messages.
    #[arg(long, value_name = "N")]
    pub max_messages: Option<u64>,
}

#[derive(Debug, Args)]
pub struct SenderArgs {
    /// The group, e.g. 224.1.1.1.
    pub group: std::net::Ipv4Addr,
    /// The port, e.g. 10505.
    pub port: u16,
    /// Your identifier: exactly 6 bytes, such as a student number.
    pub sciper: String,
    #[command(flatten)]
    pub multicast: MulticastOptions,
}

#[derive(Debug, Args)]
pub struct BotArgs {
    /// The group, e.g. 224.1.1.1.
    pub group: std::net::Ipv4Addr,
    /// The port, e.g. 10505.
    pub port: u16,
    /// The text to broadcast: a file, `-` for standard input, or `builtin`
    /// for a short play written for pmulab [default: builtin].
    pub file: Option<PathBuf>,
    /// Seconds between two lines.
    #[arg(default_value = "1", value_name = "SECONDS", value_parser = values::seconds)]
    pub interval: Duration,
    /// Address of the interface to send from (127.0.0.1 keeps it on this machine).
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub iface: std::net::Ipv4Addr,
    /// Hops a datagram may travel (the course's bot used 10).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub ttl: u8,
    /// Send the text once, then the rewind marker, and exit.
    #[arg(long)]
    pub once: bool,
}

#[derive(Debug, Args)]
pub struct UdpReceiverArgs {
    /// UDP port to listen on.
    #[arg(value_name = "PORT")]
    pub port: u16,
    /// Address to listen on (the lab listens on all interfaces).
    #[arg(long, default_value = "0.0.0.0", value_name = "ADDR", value_parser = values::bind)]
    pub bind: IpAddr,
    /// Exit after this many datagrams.
    #[arg(long, value_name = "N")]
    pub max_messages: Option<u64>,
}

#[derive(Debug, Args)]
pub struct UdpSenderArgs {
    /// Destination: an address or a host name.
    #[arg(value_name = "ADDR")]
    pub host: String,
    /// Destination port.
    #[arg(value_parser = values::connect_port)]
    pub port: u16,
    /// The text to send.
    pub message: String,
}

#[derive(Debug, Args)]
pub struct EchoServerArgs {
    /// TCP port to listen on.
    pub port: u16,
    /// Address to listen on (the lab listens on all interfaces).
    #[arg(long, default_value = "0.0.0.0", value_name = "ADDR", value_parser = values::bind)]
    pub bind: IpAddr,
    /// Exit after serving this many connections.
    #[arg(long, value_name = "N")]
    pub max_connections: Option<u64>,
}

#[derive(Debug, Args)]
pub struct EchoClientArgs {
    /// The echo server: an address or a host name.
    #[arg(value_name = "ADDR")]
    pub host: String,
    /// Its port.
    #[arg(value_parser = values::connect_port)]
    pub port: u16,
    /// The sentence to send.
    pub sentence: String,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Directory for the pages (created if missing).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// The interface to capture on (the lab's traffic is on loopback).
    #[arg(long, default_value = "lo", value_name = "NAME")]
    pub iface: String,
    /// A port whose traffic to show (repeat for more) [default: the lab's: 5002 5003 5004 5006 5443 10505].
    #[arg(long = "port", value_name = "PORT")]
    pub ports: Vec<u16>,
    /// Also write what was captured to this pcapng file (Wireshark and tshark open it).
    #[arg(
        short = 'w',
        long = "write",
        value_name = "FILE",
        conflicts_with = "read"
    )]
    pub write: Option<PathBuf>,
    /// Read a saved pcap or pcapng file instead of capturing.
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Option<PathBuf>,
    /// Print only the summary: the answers to the lab's questions.
    #[arg(long)]
    pub summary: bool,
    /// One JSON object per packet instead of a line (then the summary as text on stderr).
    #[arg(long, conflicts_with = "summary")]
    pub json: bool,
    /// Put this TLS key log (SSLKEYLOGFILE format) in the pcapng file too.
    #[arg(long, value_name = "FILE", conflicts_with = "read")]
    pub keylog: Option<PathBuf>,
    /// Stop after this many seconds (without a command: until Ctrl-C).
    #[arg(long, value_name = "SECONDS", value_parser = values::seconds, conflicts_with = "read")]
    pub duration: Option<Duration>,
    /// The command to run while capturing; the capture stops when it ends.
    #[arg(last = true, value_name = "COMMAND", conflicts_with = "read")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Also show each part's packets, as `pmulab capture` tells them (needs root or CAP_NET_RAW).
    #[arg(long)]
    pub packets: bool,
}

#[derive(Debug, Args)]
pub struct StatesArgs {
    /// Follow TCP sockets with this local or peer port (repeat for more).
    #[arg(long = "port", value_name = "PORT")]
    pub ports: Vec<u16>,
    /// Time between two looks at the socket table (it slows down by itself when the table is large).
    #[arg(long, default_value = "0.002", value_name = "SECONDS", value_parser = values::seconds)]
    pub interval: Duration,
    /// Stop after this many seconds (without a command: until Ctrl-C).
    #[arg(long, value_name = "SECONDS", value_parser = values::seconds)]
    pub duration: Option<Duration>,
    /// One JSON object per change instead of a line.
    #[arg(long)]
    pub json: bool,
    /// The command whose sockets to follow; it stops when the command ends.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CodeCArgs {
    /// TCP port to listen on.
    #[arg(long, default_value_t = 5002, value_name = "PORT")]
    pub port: u16,
    /// Address to listen on (the handout's server listens on localhost).
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR", value_parser = values::bind)]
    pub bind: IpAddr,
    /// Do not set SO_REUSEADDR: a restart while a connection on the port is in TIME-WAIT fails.
    #[arg(long)]
    pub no_reuseaddr: bool,
    /// Read what the client sent beyond the first piece before closing, so the close sends a FIN, not a reset.
    #[arg(long)]
    pub drain: bool,
    /// Exit after serving this many connections.
    #[arg(long, value_name = "N")]
    pub max_connections: Option<u64>,
}

#[derive(Debug, Args)]
pub struct CodeDArgs {
    /// The server: an address or a host name.
    #[arg(default_value = "localhost", value_name = "ADDR")]
    pub host: String,
    /// Its port.
    #[arg(default_value_t = 5002, value_parser = values::connect_port)]
    pub port: u16,
    /// The sentence to send.
    #[arg(long, default_value = "Oh Romeo, Romeo! wherefore art thou Romeo?")]
    pub message: String,
    /// Keep the socket open this many seconds after reading, then close (default: until Ctrl-C, as Code D loops forever).
    #[arg(long, value_name = "SECONDS", value_parser = values::seconds)]
    pub hold: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct C37PmuArgs {
    /// TCP port to listen on; 0 picks a free one (printed at start).
    #[arg(long, default_value_t = 4712, value_name = "PORT")]
    pub port: u16,
    /// UDP port for PDCs that send their commands by UDP [default: 4713; a
    /// free one when --port is 0].
    #[arg(long, value_name = "PORT")]
    pub udp_port: Option<u16>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR", value_parser = values::bind)]
    pub bind: IpAddr,
    /// IDCODE of the PMU's stream.
    #[arg(long, default_value_t = 7, value_name = "N")]
    pub id: u16,
    /// STN: the station's name (at most 16 ASCII characters).
    #[arg(long, default_value = "pmulab", value_name = "NAME", value_parser = values::station)]
    pub station: String,
    /// Data frames per second.
    #[arg(long, default_value_t = 50, value_name = "FPS", value_parser = clap::value_parser!(u16).range(1..=240))]
    pub rate: u16,
    /// The nominal line frequency: 50 or 60 Hz.
    #[arg(long, default_value = "50", value_name = "HZ", value_parser = values::nominal)]
    pub nominal: u16,
    /// The signal's frequency minus nominal at the start, Hz.
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "HZ",
        allow_negative_numbers = true
    )]
    pub offset: f64,
    /// The frequency's rate of change, Hz/s.
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "HZ_PER_S",
        allow_negative_numbers = true
    )]
    pub ramp: f64,
    /// Noise on magnitudes, as a fraction (0.01: ±1 %).
    #[arg(long, default_value = "0", value_name = "FRACTION", value_parser = values::probability)]
    pub noise: f64,
    /// Seed for the noise (default: random).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// PDCs served at once (up to 256); more are turned away.
    #[arg(long, default_value_t = 64, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub max_connections: u32,
}

#[derive(Debug, Args)]
pub struct C37PdcArgs {
    /// The PMU: an IPv4 or IPv6 address or a host name.
    pub server: String,
    /// The PMU's TCP port (4712 is the standard's).
    #[arg(value_parser = values::connect_port)]
    pub port: u16,
    /// IDCODE of the PMU stream asked for.
    #[arg(long, default_value_t = 7, value_name = "N")]
    pub id: u16,
    /// Stop after this many data frames (0: until Ctrl-C).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub frames: u64,
    /// Print CSV: a header row of the configuration's names, then a row per frame.
    #[arg(long)]
    pub csv: bool,
    /// Seconds to wait for the PMU to answer before giving up.
    #[arg(long, default_value = "5", value_name = "SECONDS", value_parser = values::seconds)]
    pub timeout: Duration,
}
