//! The command line: one subcommand per lab program, with the lab's
//! positional prototypes kept exactly. It parses and checks everything a
//! user types ([`values`]) into typed arguments ([`args`]); commands
//! receive those and never parse text again.

pub mod args;
pub mod values;

use clap::{Parser, Subcommand};

pub use args::*;

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
pmulab grade 6 --json result.json -- python3 ws_pdc.py\n  \
pmulab grade 2 --batch submissions/ --out grades/\n  \
pmulab grade 2 --batch submissions/ --run 'python3 {dir}/client.py' --jobs 4\n  \
pmulab grade 2 --batch submissions/ --shard 3/8 --out grades/shard-3\n  \
pmulab grade 2 --merge grades/shard-* --out grades/\n\n\
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
(`PROGRAM <command> <ca-certificate> --port <port>`), which the course supplied and did not grade.\n\n\
Containment: each grading gets a network namespace with only loopback (the grader's servers \
live there too), and each run of the program a pid namespace (its whole process tree is killed \
when it ends), a mount namespace where only its fresh working directory (a copy of its files) \
is writable, an unprivileged user, a clean environment and limits on CPU, memory, processes, \
file size and open files. As root, or with unprivileged user namespaces. Where neither works, \
grade says what is missing; --batch then refuses unless given --uncontained.\n\n\
Batch: one submission per entry of the --batch folder (a folder or a file per student), \
copied into its run's working directory. --run is how to start one: {dir} is that copy, {id} \
the entry's name; without it, the part's usual file (PDC.py, secure_pmu.py, …) or the \
entry's only .py file runs with python3. --out gets results.csv, results.jsonl, summary.txt, \
and per submission the course's JSON (course/), the verdict (records/) and the report \
(reports/). A second run grades only what has no record yet (--regrade: everything). \
--shard K/N grades the K-th of N fixed slices, for a job array; --merge joins their --out \
folders."
    )]
    Grade(GradeArgs),

    /// (internal) The grader's sandbox for one run of a program.
    #[command(name = "__sandbox", hide = true)]
    Sandbox(SandboxArgs),

    /// Load a PMU with many concurrent PDC sessions, bounded in count and time.
    #[command(
        after_help = "Examples:\n  pmulab load 127.0.0.1 5003\n  pmulab load 127.0.0.1 15003 --concurrency 4 --duration 5\n  \
pmulab load 127.0.0.1 5443 --protocol tls --ca ca.crt\n  pmulab load 127.0.0.1 5004 --protocol udp\n\n\
Reports sessions/s, messages/s, bytes/s, latency percentiles (connect, first message, \
complete) and errors by kind. It stops at --sessions or --duration, whichever comes first."
    )]
    Load(LoadArgs),

    /// See the lab's packets: capture them (or read a pcap) and tell what each means in the lab's terms.
    #[command(
        after_help = "Examples:\n  sudo pmulab capture -- pmulab pdc 127.0.0.1 5003 CMD_short:0\n  \
sudo pmulab capture --summary -- pmulab pdc 127.0.0.1 5003 CMD_short:1\n  \
sudo pmulab capture -w part5.pcapng -- pmulab secure-pdc CMD_short:0 ca.crt --port 5443\n  \
pmulab capture -r board.pcap\n  pmulab capture -r part2.pcapng --json | jq .meaning\n\n\
One line per packet — time, addresses, TCP flags with relative seq/ack, length, window — and \
what it means for the lab: the handshake and teardown, pure ACKs, which messages a segment \
carries (glued or split), floodme byte ranges, RESET/OFFSET with losses, multicast TTL and ids, \
the TLS handshake and certificates, WebSocket frames and messages. Then a summary that answers \
the lab's questions. Capturing uses a packet socket: root or CAP_NET_RAW \
(`sudo setcap cap_net_raw+ep $(command -v pmulab)`). With -- COMMAND, the command's output goes \
to standard error and the dissection to standard output; pmulab's TLS sessions in it log their \
secrets, and -w puts them in the file, so Wireshark shows them decrypted."
    )]
    Capture(CaptureArgs),

    /// Part 1.2: a timeline of TCP socket states (LISTEN, ESTABLISHED, FIN-WAIT-2, CLOSE-WAIT, TIME-WAIT…), as `ss` shows them.
    #[command(after_help = "Examples:\n  pmulab states --port 5002\n  \
pmulab states --port 5002 -- pmulab code-d --hold 2\n  pmulab states --json --port 5003 --duration 5\n\n\
One line per change: seconds since the start, local and peer address, the new state (or \
`closed`), Recv-Q and Send-Q as `ss` shows them (for LISTEN: connections waiting to be accepted \
and the backlog) and the owning process when it can be known. The kernel's table is read \
through netlink, as `ss` reads it, every --interval (slower when the table is large, to keep \
the CPU low); a state shorter than that can pass unseen, and the line after says which one did \
(`after FIN-WAIT-1, too short to be seen`). With -- COMMAND it follows the command's sockets, \
even after the command lets go of them (TIME-WAIT), and stops when it ends.")]
    States(StatesArgs),

    /// Part 1.2, the handout's Code C: a server on localhost:5002 that echoes the first 8 bytes and closes.
    #[command(
        after_help = "Examples:\n  pmulab code-c\n  pmulab code-c --no-reuseaddr\n  pmulab code-c --drain\n\n\
With SO_REUSEADDR, as the handout's server sets it. It reads one 8-byte piece, echoes it and \
closes the connection. The client sent more, and a close with unread bytes makes Linux reset the \
connection (RST) instead of closing it (FIN); --drain reads the rest first, so the close is a \
FIN: this side goes FIN-WAIT-2, the client's CLOSE-WAIT, then TIME-WAIT here once the client \
closes. Restarting with --no-reuseaddr during that TIME-WAIT fails with \"Address already in use\" \
and says why."
    )]
    CodeC(CodeCArgs),

    /// Part 1.2, the handout's Code D: send the sentence, read 16-byte pieces, then stay open until Ctrl-C.
    #[command(
        after_help = "Examples:\n  pmulab code-d\n  pmulab code-d localhost 5002 --hold 5\n\n\
Connects to localhost:5002, sends `Oh Romeo, Romeo! wherefore art thou Romeo?` and reads 16-byte \
pieces until it has as many bytes as it sent — or the server ends the connection — then keeps \
the socket open, as the handout's Code D loops forever, until Ctrl-C (or --hold seconds)."
    )]
    CodeD(CodeDArgs),

    /// A real PMU: IEEE C37.118.2 synchrophasor frames over TCP, from a signal model.
    #[command(
        name = "c37-pmu",
        after_help = "Examples:\n  pmulab c37-pmu\n  pmulab c37-pmu --rate 60 --nominal 60 --offset 0.02 --ramp 0.001\n  \
pmulab c37-pdc 127.0.0.1 4712 --frames 50\n\n\
Listens on 127.0.0.1:4712 (the standard's TCP port). Each PDC gets the configuration it asks \
for (CFG-1, CFG-2; six phasors VA VB VC IA IB IC as polar floats, frequency and ROCOF), a \
header, and, once it turns transmission on, data frames at --rate per second on the grid of \
the UTC second, measured from a balanced three-phase signal at --nominal + --offset Hz, \
ramping by --ramp Hz/s. Real grid software (pyc37, openPDC, Wireshark's synphasor \
dissector) reads it."
    )]
    C37Pmu(C37PmuArgs),

    /// A C37.118.2 PDC: asks a PMU for its configuration and prints its measurements.
    #[command(
        name = "c37-pdc",
        after_help = "Examples:\n  pmulab c37-pdc 127.0.0.1 4712\n  pmulab c37-pdc 127.0.0.1 4712 --frames 100 --csv > grid.csv\n\n\
Sends \"send CFG-2\", then \"turn on transmission\", and prints each data frame: its UTC time, the \
frequency, ROCOF, and each phasor's magnitude and angle under the names the configuration \
gives. At the end (--frames, or Ctrl-C) it turns transmission off and says how late the frames \
arrived after their timestamps."
    )]
    C37Pdc(C37PdcArgs),

    /// Walk through parts 1-6 locally, saying what to notice; exits 0 when every part worked.
    #[command(after_help = "Example:\n  pmulab demo\n\n\
Runs each part's servers and clients on loopback, on free ports, and shows what the part \
teaches: a stream without message boundaries, glued and split messages, retransmission \
under loss, multicast, a verified TLS session with a certificate signed as the course did, \
WebSocket messages and frames. Exit status 0 when every part worked. --packets also \
captures each part's traffic on loopback and shows its short dissection (as `pmulab capture` \
does; it needs root or CAP_NET_RAW).")]
    Demo(DemoArgs),

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
