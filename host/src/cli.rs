//! The command line: one subcommand per lab program, with the lab's
//! positional prototypes kept exactly.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Exit status when the program worked.
pub const EXIT_OK: u8 = 0;
/// Exit status for a network, file or protocol failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status for a bad command line (clap uses it too).
pub const EXIT_USAGE: u8 = 2;
/// Exit status when the PMU answered `ERROR:`.
pub const EXIT_REFUSED: u8 = 3;
/// Exit status after Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(Debug, Parser)]
#[command(
    name = "pmulab",
    version,
    about = "The socket-programming lab on any laptop: PMU, PDC and the course's servers",
    long_about = "pmulab runs both sides of the TCP/IP lab — the PMU (a grid sensor's data \
server) and the PDC (the data concentrator) — on loopback, with the lab's own command lines.",
    after_help = "Try it (two terminals):\n  pmulab pmu\n  pmulab pdc 127.0.0.1 5003 CMD_short:0\n\n\
Exit status: 0 success, 1 network or protocol failure, 2 bad command line, 3 the PMU refused the command, \
130 interrupted (Ctrl-C).",
    propagate_version = true
)]
pub struct Cli {
    /// Print more: -v logs one line per session or datagram.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parts 2, 5, 6 client: connect to a PMU (TCP, TLS or WebSocket), send a command, print the messages.
    #[command(after_help = "Examples:\n  pmulab pdc 127.0.0.1 5003 CMD_short:0\n  \
pmulab pdc localhost 5003 CMD_short:1 --trace\n  pmulab pdc 127.0.0.1 5003 CMD_short:0 --trace --read-size 25\n  \
pmulab pdc 127.0.0.1 5003 CMD_floodme > flood.txt\n  pmulab pdc --tls --ca ca.crt 127.0.0.1 5443 CMD_short:0\n  \
pmulab pdc --ws 127.0.0.1 5006 CMD_short:0\n  pmulab pdc ws://127.0.0.1:5006/ CMD_floodme --trace\n\n\
Each `This is PMU data i` is printed on its own line, however TCP glued or split them; \
the floodme text is printed as it is. --trace shows on stderr every read and where \
messages started in it (over WebSocket: every frame).")]
    Pdc(PdcArgs),

    /// Part 2 server: the course's TCP PMU, serving many PDCs at once.
    #[command(
        after_help = "Examples:\n  pmulab pmu\n  pmulab pmu --count random -v\n  \
pmulab pmu --port 0 --flood-bytes 268435456\n\n\
CMD_short:d sends n messages `This is PMU data i`, one send() each, d seconds apart, \
then closes; CMD_floodme sends one large text and closes. Anything else gets one \
`ERROR:` line. A command ends at a newline or at the end of a read; a partial command \
waits up to --command-timeout."
    )]
    Pmu(PmuArgs),

    /// Part 3 client: ask a UDP PMU to reset its clock, over IPv4 and IPv6, retrying.
    #[command(after_help = "Examples:\n  pmulab reset localhost 5004\n  \
pmulab reset 127.0.0.1 5004 --max-attempts 5 -v\n  pmulab reset localhost 5004 --trials 60\n\n\
The name is resolved to its IPv4 and its IPv6 address; each round sends the request to \
both, then waits up to --timeout for an answer from either. One round counts as one \
request. --trials N repeats the exchange N times and estimates the loss probability \
p = 1 - 1/mean, as the lab does.")]
    Reset(ResetArgs),

    /// Part 3 server: the course's UDP PMU, answering RESET:n with OFFSET=X, losing some.
    #[command(
        after_help = "Examples:\n  pmulab reset-pmu\n  pmulab reset-pmu --loss 0.6 --family 6 -v\n  \
pmulab reset-pmu --family alternate --period 30\n\n\
Each valid request is ignored with probability --loss (the course's server: \
`if random() >= p: reply`), else answered with X uniform in 0..=n. Malformed datagrams \
never get an answer."
    )]
    ResetPmu(ResetPmuArgs),

    /// Part 4: join a multicast group and print every message, one per line.
    #[command(after_help = "Examples:\n  pmulab receiver 224.1.1.1 10505\n  \
pmulab receiver 224.1.1.1 10505 --plain --max-messages 10\n\n\
Each datagram is a 6-byte identifier and UTF-8 text, printed as `id: text` (control \
characters escaped, so one message is one line). A malformed datagram is reported on \
stderr and the receiver keeps listening. Several receivers on one machine all get every \
message.")]
    Receiver(ReceiverArgs),

    /// Part 4: send each line of standard input to a multicast group, under your 6-byte id.
    #[command(after_help = "Examples:\n  pmulab sender 224.1.1.1 10505 123456\n  \
echo 'Hello, group' | pmulab sender 224.1.1.1 10505 123456")]
    Sender(SenderArgs),

    /// Part 4: the course's broadcaster: a text, one line per datagram, forever.
    #[command(after_help = "Examples:\n  pmulab bot 224.1.1.1 10505\n  \
pmulab bot 224.1.1.1 10505 romeo-and-juliet.txt 0.5\n  pmulab bot 224.1.1.1 10505 builtin 0.2 --once\n\n\
Each line goes out as `swcmTV` + the line without trailing white space (an empty line is \
a bare 6-byte datagram). After the last line the bot sends `swcmTVRWND`, waits three \
intervals, and starts over. Without a file it sends a short text of its own.")]
    Bot(BotArgs),

    /// Part 5 server: the PMU behind TLS (rustls), TLS 1.3 and 1.2.
    #[command(
        after_help = "Examples:\n  pmulab secure-pmu 5443 banana.crt banana_key.pem\n  \
pmulab secure-pmu 0 server.crt server.key --count random -v\n\n\
After the handshake the session is the part 2 PMU's. A failed handshake (a plaintext \
client, garbage, a client that refuses the certificate) is logged and the server keeps \
serving."
    )]
    SecurePmu(SecurePmuArgs),

    /// Part 6 server: the PMU over WebSocket (RFC 6455), one message per PMU message.
    #[command(
        after_help = "Examples:\n  pmulab ws-pmu\n  pmulab ws-pmu --text --fragment 4096 -v\n\n\
The first message a client sends is the command. Each `This is PMU data i` is its own \
WebSocket message (binary, as the course's server sent them; --text for text), floodme is \
one message (--fragment splits it into frames), then a normal close handshake."
    )]
    WsPmu(WsPmuArgs),

    /// Part 5 client, the course's prototype: a TLS PDC to localhost that verifies the PMU.
    #[command(after_help = "Examples:\n  pmulab secure-pdc CMD_short:0 ca.crt\n  \
pmulab secure-pdc CMD_floodme ca.crt --port 6003 --server-name pmu.example\n\n\
The PMU's certificate chain is always verified against the CA certificate. Like the \
course's client, the host name is not checked unless --server-name is given.")]
    SecurePdc(SecurePdcArgs),

    /// Part 5: the course's certificate authority: create it, sign CSRs after checks.
    #[command(
        subcommand,
        after_help = "Examples:\n  pmulab ca init course-ca\n  \
pmulab ca request . --cn banana --rsa\n  pmulab ca sign banana.csr --ca course-ca --out banana.crt --course"
    )]
    Ca(CaCommand),

    /// Every lab server at once, on loopback: the course's servers on any laptop.
    #[command(
        after_help = "Examples:\n  pmulab serve\n  pmulab serve --port-offset 10000 --count random\n\n\
Starts the TCP PMU (5003), the UDP reset PMU (5004, IPv4 and IPv6), the WebSocket PMU \
(5006), the TLS PMU (5443, with a CA and a certificate made on first start in the state \
directory) and the multicast bot (224.1.1.1:10505 on the loopback interface), prints where \
each runs and how to try it, and stops them all on Ctrl-C."
    )]
    Serve(ServeArgs),

    /// Grade a program the way the course's scorer did: run it against fresh servers, judge what it does.
    #[command(
        after_help = "Examples:\n  pmulab grade 2 -- python3 pdc.py\n  pmulab grade 3 -- ./reset_client\n  \
pmulab grade 5 -- python3 secure_pmu.py\n  \
pmulab grade 5 --certificate banana.crt --key banana_key.pem --ca ca.crt -- python3 secure_pmu.py\n  \
pmulab grade 6 --json result.json -- python3 ws_pdc.py\n\n\
Parts and the prototype the program is run with:\n  \
2  PROGRAM <server> <port> <command>        TCP PDC: n varied and random, d = 0 and 1, floodme\n  \
3  PROGRAM <server> <port>                  UDP reset: IPv4-only, IPv6-only and both, with loss\n  \
4  PROGRAM <group> <port> [<sciper>]        multicast receiver (2 args) and sender (3 args, stdin); --role picks one\n  \
5  PROGRAM <port> <certificate> <key>       the secure PMU, as the course graded it: its client verifies the \
chain against the CA, sends CMD_short:0 and needs `This is PMU data 0`\n  \
6  PROGRAM <server> <port> <command>        WebSocket PDC, binary messages as the course sent\n\n\
Every verdict rests on what the grader's own servers (or, in part 5, its client) saw: a \
program that does nothing scores 0. Programs run with a fixed environment and standard \
output on a pipe, as on the course's scorer; one that prints everything and then hangs is \
stopped 2 s later and judged by its output. --role pdc grades a part 5 TLS client instead \
(`PROGRAM <command> <ca-certificate> --port <port>`), which the course supplied and did not grade."
    )]
    Grade(GradeArgs),

    /// Load a PMU with many concurrent PDC sessions, bounded in count and time.
    #[command(
        after_help = "Examples:\n  pmulab load 127.0.0.1 5003\n  pmulab load 127.0.0.1 15003 --concurrency 4 --duration 5\n  \
pmulab load 127.0.0.1 5443 --protocol tls --ca ca.crt\n  pmulab load 127.0.0.1 5004 --protocol udp\n\n\
Reports sessions/s, messages/s, bytes/s, latency percentiles (connect, first message, \
complete) and errors by kind. It stops at --sessions or --duration, whichever comes first."
    )]
    Load(LoadArgs),

    /// Walk through parts 1-6 locally, saying what to notice; exits 0 when every part worked.
    #[command(after_help = "Example:\n  pmulab demo\n\n\
Runs each part's servers and clients on loopback, on free ports, and shows what the part \
teaches: a stream without message boundaries, glued and split messages, retransmission \
under loss, multicast, a verified TLS session with a certificate signed as the course did, \
WebSocket messages and frames. Exit status 0 when every part worked.")]
    Demo,

    /// Part 1: print every UDP datagram received on a port.
    #[command(after_help = "Examples:\n  pmulab udp-receiver 5000\n  \
pmulab udp-receiver 5000 --bind 127.0.0.1 --max-messages 2\n\n\
Prints `from ADDR:PORT: text` for every datagram. It listens on all interfaces by \
default, as in the lab; --bind 127.0.0.1 keeps it on this machine.")]
    UdpReceiver(UdpReceiverArgs),

    /// Part 1: send one UDP datagram and print "Message sent".
    #[command(
        after_help = "Examples:\n  pmulab udp-sender 127.0.0.1 5000 \"Hello, PMU\"\n  \
pmulab udp-sender localhost 5000 hello\n\n\
UDP has no connection: \"Message sent\" says the datagram left, not that anyone got it."
    )]
    UdpSender(UdpSenderArgs),

    /// Part 1: TCP echo server, one connection at a time.
    #[command(after_help = "Examples:\n  pmulab echo-server 5001\n  \
pmulab echo-server 5001 --bind 127.0.0.1 --max-connections 1\n\n\
SO_REUSEADDR is set, as in the lab, so a restarted server can listen at once while the \
previous connection is in TIME_WAIT.")]
    EchoServer(EchoServerArgs),

    /// Part 1: send a sentence to an echo server and read it back in 16-byte pieces.
    #[command(
        after_help = "Examples:\n  pmulab echo-client 127.0.0.1 5001 \"The PMU measures, the PDC concentrates.\"\n\n\
Each read returns at most 16 bytes, wherever they fall: a stream has no message boundaries."
    )]
    EchoClient(EchoClientArgs),

    /// Shell completions: `pmulab completions bash > /etc/bash_completion.d/pmulab`.
    #[command(
        after_help = "Examples:\n  pmulab completions bash > ~/.local/share/bash-completion/completions/pmulab\n  \
pmulab completions zsh > ~/.zfunc/_pmulab\n  pmulab completions fish > ~/.config/fish/completions/pmulab.fish"
    )]
    Completions(CompletionsArgs),

    /// Man pages: pmulab.1 and one page per subcommand, written to a directory.
    #[command(after_help = "Example:\n  pmulab man target/man && man -l target/man/pmulab-pdc.1")]
    Man(ManArgs),
}

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
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,

    /// Give up connecting (and, with TLS, the handshake) after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub connect_timeout: f64,

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
    #[arg(long, default_value_t = 5003, value_name = "PORT")]
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
    #[arg(long, default_value = "15", value_name = "N", value_parser = crate::cmd::pmu::parse_count)]
    pub count: pmulab_core::stream::session::MessageCount,

    /// Size of the CMD_floodme text in bytes.
    #[arg(long, default_value_t = pmulab_core::stream::flood::DEFAULT_FLOOD_BYTES, value_name = "BYTES")]
    pub flood_bytes: u64,

    /// Sessions served at once; more connections are told the server is busy.
    #[arg(long, default_value_t = 1024, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=crate::cmd::pmu::MAX_SESSIONS as i64))]
    pub max_sessions: u16,

    /// Seconds a client may take to send a complete command.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub command_timeout: f64,

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
    #[arg(long, default_value_t = 5003, value_name = "PORT")]
    pub port: u16,

    /// Address to listen on. 0.0.0.0 or :: opens the PMU to the network.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR", value_parser = parse_bind)]
    pub bind: IpAddr,

    #[command(flatten)]
    pub session: SessionOptions,

    #[command(flatten)]
    pub loops: LoopOptions,
}

#[derive(Debug, Args)]
pub struct WsPmuArgs {
    /// TCP port to listen on; 0 picks a free one (printed at start).
    #[arg(long, default_value_t = 5006, value_name = "PORT")]
    pub port: u16,

    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR", value_parser = parse_bind)]
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
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR", value_parser = parse_bind)]
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
          value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::ca::MAX_DAYS)))]
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
    #[arg(value_parser = parse_connect_port)]
    pub port: u16,
    /// tcp (part 2), tls (part 5), ws (part 6) or udp (part 3's reset).
    #[arg(long, default_value = "tcp", value_parser = ["tcp", "tls", "ws", "udp"])]
    pub protocol: String,
    /// The command [default: CMD_short:0, or RESET:20 over udp].
    #[arg(long)]
    pub command: Option<String>,
    /// Sessions in flight at once.
    #[arg(long, default_value_t = 64, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
    /// Stop after this many sessions.
    #[arg(long, default_value_t = 100_000, value_name = "N", value_parser = parse_at_least_one)]
    pub sessions: u64,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub duration: f64,
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
    #[arg(long, default_value = "15", value_name = "N")]
    pub count: String,
    /// The UDP reset PMU's loss probability.
    #[arg(long, default_value_t = 0.4)]
    pub loss: f64,
    /// Families the UDP reset PMU answers on: 4, 6, both, alternate.
    #[arg(long, default_value = "both", value_parser = ["4", "6", "both", "alternate"])]
    pub family: String,
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
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub timeout: f64,
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
    /// The program and its own arguments, after `--`.
    #[arg(last = true, required = true, value_name = "PROGRAM")]
    pub program: Vec<String>,
}

/// Which program of a part `grade` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GradeRole {
    /// Part 4: the receiver, `PROGRAM <group> <port>`.
    Receiver,
    /// Part 4: the sender, `PROGRAM <group> <port> <sciper>`.
    Sender,
    /// Part 5: the secure PMU, `PROGRAM <port> <certificate> <key>`.
    Pmu,
    /// Part 5: a TLS PDC, `PROGRAM <command> <ca-certificate> --port <port>`.
    Pdc,
}

impl GradeRole {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            GradeRole::Receiver => "receiver",
            GradeRole::Sender => "sender",
            GradeRole::Pmu => "pmu",
            GradeRole::Pdc => "pdc",
        }
    }
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// The PMU: a host name (both its IPv4 and IPv6 addresses are used) or an address.
    pub server: String,
    /// The PMU's UDP port (5004 on the course server).
    #[arg(value_parser = parse_connect_port)]
    pub port: u16,

    /// The request to send.
    #[arg(long, default_value = "RESET:20")]
    pub command: String,

    /// Seconds to wait for an answer after each round.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    pub timeout: f64,

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
    #[arg(long, default_value_t = 5004)]
    pub port: u16,

    /// Addresses to listen on, one per family [default: 127.0.0.1 and ::1].
    #[arg(long, value_name = "ADDR", value_parser = parse_bind)]
    pub bind: Vec<IpAddr>,

    /// Probability that a request is ignored, from 0 to 1.
    #[arg(long, default_value_t = 0.4, value_parser = parse_probability)]
    pub loss: f64,

    /// Families answered: 4, 6, both, or alternate (one at a time, switching every --period).
    #[arg(long, default_value = "both", value_parser = ["4", "6", "both", "alternate"])]
    pub family: String,

    /// Seconds each family is served in --family alternate.
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    pub period: f64,

    /// Seed for the losses and offsets, for reproducible runs.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

fn parse_probability(text: &str) -> Result<f64, String> {
    let p: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is not a probability between 0 and 1"))
    }
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
    #[arg(default_value_t = 1.0, value_name = "SECONDS")]
    pub interval: f64,
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
    #[arg(long, default_value = "0.0.0.0", value_name = "ADDR", value_parser = parse_bind)]
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
    #[arg(value_parser = parse_connect_port)]
    pub port: u16,
    /// The text to send.
    pub message: String,
}

#[derive(Debug, Args)]
pub struct EchoServerArgs {
    /// TCP port to listen on.
    pub port: u16,
    /// Address to listen on (the lab listens on all interfaces).
    #[arg(long, default_value = "0.0.0.0", value_name = "ADDR", value_parser = parse_bind)]
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
    #[arg(value_parser = parse_connect_port)]
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

/// An address to listen on: an IP address (`[::1]` too) or a name this
/// machine resolves (`localhost`: its IPv4 address first).
fn parse_bind(text: &str) -> Result<IpAddr, String> {
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    if let Ok(ip) = bare.parse() {
        return Ok(ip);
    }
    let addrs: Vec<std::net::SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(&(bare, 0))
        .map_err(|e| format!("{text:?} is not an address, nor a name this machine resolves ({e})"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .map(|a| a.ip())
        .ok_or_else(|| format!("{text:?} has no address"))
}

/// A port to send to or connect to: 1 to 65535 (0 only means "any" when listening).
pub fn parse_connect_port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(0) => {
            Err("port 0 cannot be reached: it means \"any free port\" only when listening".into())
        }
        Ok(port) => Ok(port),
        Err(_) => Err(format!("{text:?} is not a port (1 to 65535)")),
    }
}

/// A count that must be at least 1.
fn parse_at_least_one(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("it must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{text:?} is not a whole number")),
    }
}
