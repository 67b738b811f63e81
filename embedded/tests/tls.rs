//! The board's TLS PDC on the host, in virtual time: core's PDC inside
//! [`TlsPdcStack`] over the smoltcp adapter, against a rustls PMU on the
//! other end of an in-memory wire (the PMU runs whenever the PDC's stack
//! would sleep). Certificates from rcgen: ECDSA P-256, as the board needs.
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

mod common;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use embedded_nal::{TcpClientStack, TcpFullStack, nb};
use pmulab_core::stream::client::{PdcConfig, PdcError, PdcOutput, ReplyKind, Request, fetch};
use pmulab_core::stream::deframer::Piece;
use pmulab_core::time::{Clock, Instant};
use pmulab_embedded::nal::{Platform, SmolStack, TcpSocket};
use pmulab_embedded::tls::{Link, RECORD_BUFFER, Refusal, TlsPdcError, TlsPdcStack, Trust};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use common::{End, Virtual};

const PMU: &str = "10.0.0.1:5443";

/// A CA (its certificate, DER) and a PMU certificate it signed for `name`.
struct Pki {
    ca: Vec<u8>,
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
}

fn pki(name: &str) -> Pki {
    pki_valid(name, None)
}

/// A day: year, month, day.
type Day = (i32, u8, u8);

/// As [`pki`], the PMU's certificate valid only from one day to another.
fn pki_valid(name: &str, days: Option<(Day, Day)>) -> Pki {
    let alg = &rcgen::PKCS_ECDSA_P256_SHA256;
    let ca_key = KeyPair::generate_for(alg).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "adapter test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate_for(alg).unwrap();
    let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    if let Some(((y0, m0, d0), (y1, m1, d1))) = days {
        params.not_before = rcgen::date_time_ymd(y0, m0, d0);
        params.not_after = rcgen::date_time_ymd(y1, m1, d1);
    }
    let leaf = params.signed_by(&key, &issuer).unwrap();
    Pki {
        ca: ca.der().to_vec(),
        chain: vec![leaf.der().clone()],
        key: rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    /// 15 messages, then close_notify and FIN.
    Answer,
    /// 15 messages, then FIN without close_notify (as Python's ssl closes).
    AnswerWithoutCloseNotify,
    /// 15 messages, the last record cut short, then FIN.
    CutMidRecord,
    /// The handshake, then nothing.
    Silent,
}

/// A rustls PMU on a smoltcp stack: one session.
struct Pmu {
    stack: SmolStack<'static, End, Virtual, 6, 1>,
    listener: TcpSocket,
    config: Arc<rustls::ServerConfig>,
    behaviour: Behaviour,
    session: Option<(TcpSocket, rustls::ServerConnection)>,
    command: Vec<u8>,
    answered: bool,
    outbox: Vec<u8>,
    handshake_error: Option<rustls::Error>,
}

impl Pmu {
    fn new(end: End, clock: &Virtual, pki: Pki, behaviour: Behaviour) -> Self {
        let mut stack = common::stack(end, [10, 0, 0, 1], 1, clock.clone());
        let mut listener = TcpClientStack::socket(&mut stack).unwrap();
        stack.bind(&mut listener, 5443).unwrap();
        stack.listen(&mut listener).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(pki.chain, pki.key)
            .unwrap();
        Pmu {
            stack,
            listener,
            config: Arc::new(config),
            behaviour,
            session: None,
            command: Vec::new(),
            answered: false,
            outbox: Vec::new(),
            handshake_error: None,
        }
    }

    /// Whatever the PMU can do now.
    fn step(&mut self) {
        self.stack.poll();
        if self.session.is_none()
            && let Ok((socket, _)) = self.stack.accept(&mut self.listener)
        {
            let tls = rustls::ServerConnection::new(self.config.clone()).unwrap();
            self.session = Some((socket, tls));
        }
        let Some((socket, tls)) = self.session.as_mut() else {
            return;
        };
        let mut buf = [0u8; 512];
        let mut ended = false;
        loop {
            match TcpClientStack::receive(&mut self.stack, socket, &mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    tls.read_tls(&mut &buf[..n]).unwrap();
                    if let Err(e) = tls.process_new_packets() {
                        self.handshake_error = Some(e);
                        ended = true;
                        break;
                    }
                }
                Err(nb::Error::WouldBlock) => break,
                Err(nb::Error::Other(_)) => {
                    ended = true;
                    break;
                }
            }
        }
        let mut text = [0u8; 64];
        while let Ok(n @ 1..) = tls.reader().read(&mut text) {
            self.command.extend_from_slice(&text[..n]);
        }
        let mut finished = false;
        if !self.answered && self.command == b"CMD_short:0" {
            self.answered = true;
            if self.behaviour != Behaviour::Silent {
                for i in 0..15 {
                    // One record each, as the PMU writes them.
                    tls.writer()
                        .write_all(format!("This is PMU data {i}").as_bytes())
                        .unwrap();
                }
                if self.behaviour == Behaviour::Answer {
                    tls.send_close_notify();
                }
                finished = true;
            }
        }
        while tls.wants_write() {
            tls.write_tls(&mut self.outbox).unwrap();
        }
        if finished && self.behaviour == Behaviour::CutMidRecord {
            self.outbox.truncate(self.outbox.len() - 10);
        }
        while !self.outbox.is_empty() {
            match TcpClientStack::send(&mut self.stack, socket, &self.outbox) {
                Ok(n) => {
                    self.outbox.drain(..n);
                }
                Err(nb::Error::WouldBlock) => break,
                Err(nb::Error::Other(_)) => {
                    self.outbox.clear();
                    ended = true;
                }
            }
        }
        if (ended || (finished && self.outbox.is_empty()))
            && let Some((socket, _)) = self.session.take()
        {
            TcpClientStack::close(&mut self.stack, socket).unwrap();
        }
        self.stack.poll();
    }
}

/// The PDC's platform: virtual time, and the PMU runs while the PDC sleeps.
#[derive(Clone)]
struct Pumped {
    clock: Virtual,
    pmu: Rc<RefCell<Pmu>>,
}

impl Platform for Pumped {
    fn now(&self) -> Instant {
        self.clock.now()
    }
    fn wait(&mut self, until: Option<Instant>) {
        self.clock.wait(until);
        self.pmu.borrow_mut().step();
    }
}

struct Now(Virtual);

impl Clock for Now {
    fn now(&self) -> Instant {
        Platform::now(&self.0)
    }
}

/// Certificates' validity against the host's clock.
struct HostTime;

impl embedded_tls::TlsClock for HostTime {
    fn now() -> Option<u64> {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        Some(since.unwrap().as_secs())
    }
}

#[derive(Default)]
struct Messages {
    done: Vec<String>,
    current: Vec<u8>,
}

impl PdcOutput for Messages {
    type Error = std::convert::Infallible;
    fn piece(&mut self, piece: Piece<'_>) -> Result<(), Self::Error> {
        match piece {
            Piece::Start { .. } => self.current.clear(),
            Piece::Text(t) => self.current.extend_from_slice(t),
            Piece::End => self
                .done
                .push(String::from_utf8(self.current.clone()).unwrap()),
        }
        Ok(())
    }
    fn raw(&mut self, _: &[u8]) -> Result<(), Self::Error> {
        unreachable!("CMD_short is read as messages")
    }
}

type PdcStack = SmolStack<'static, End, Pumped, 6, 1>;
type Outcome =
    Result<u64, PdcError<TlsPdcError<pmulab_embedded::nal::SmolError>, std::convert::Infallible>>;

/// Core's PDC over TLS to a PMU with `pmu_pki`'s certificate, trusting
/// `ca` for `name`: the messages received, and how it ended.
fn run(
    pmu_pki: Pki,
    ca: &[u8],
    name: &str,
    behaviour: Behaviour,
) -> (Vec<String>, Outcome, Rc<RefCell<Pmu>>) {
    let clock = Virtual::new();
    let (a, b) = common::wire();
    let pmu = Rc::new(RefCell::new(Pmu::new(a, &clock, pmu_pki, behaviour)));
    let platform = Pumped {
        clock: clock.clone(),
        pmu: pmu.clone(),
    };
    let client: PdcStack = common::stack(b, [10, 0, 0, 2], 2, platform);
    let link = RefCell::new(Link::new(client, Duration::from_secs(5)));
    let mut read = vec![0u8; RECORD_BUFFER];
    let mut write = vec![0u8; 512];
    let mut tls: TlsPdcStack<'_, PdcStack, ChaCha20Rng, HostTime, 2048> = TlsPdcStack::new(
        &link,
        Trust { ca, name },
        ChaCha20Rng::seed_from_u64(5),
        &mut read,
        &mut write,
    );
    let remote: SocketAddr = PMU.parse().unwrap();
    let request = Request {
        remote,
        command: b"CMD_short:0",
        kind: ReplyKind::Messages,
    };
    let config = PdcConfig {
        connect_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(3),
    };
    let mut out = Messages::default();
    let mut buf = [0u8; 128];
    let outcome = fetch(&mut tls, &Now(clock), request, &config, &mut buf, &mut out)
        .map(|summary| summary.messages);
    (out.done, outcome, pmu)
}

fn expected() -> Vec<String> {
    (0..15).map(|i| format!("This is PMU data {i}")).collect()
}

#[test]
fn core_s_pdc_reads_15_messages_through_tls_on_the_adapter() {
    let pki = pki("pmu.lab");
    let ca = pki.ca.clone();
    let (messages, outcome, pmu) = run(pki, &ca, "pmu.lab", Behaviour::Answer);
    assert_eq!(messages, expected());
    assert_eq!(outcome.unwrap(), 15);
    assert!(pmu.borrow().handshake_error.is_none());
    assert_eq!(pmu.borrow().command, b"CMD_short:0");
}

#[test]
fn a_pmu_certified_by_another_ca_is_refused() {
    let pmu_pki = pki("pmu.lab");
    let trusted = pki("pmu.lab").ca;
    let (messages, outcome, pmu) = run(pmu_pki, &trusted, "pmu.lab", Behaviour::Answer);
    assert!(messages.is_empty());
    let error = outcome.unwrap_err();
    assert!(
        matches!(
            error,
            PdcError::Connect(TlsPdcError::Refused(Refusal::OtherCa))
        ),
        "{error}"
    );
    assert!(
        error.to_string().ends_with(
            "the PMU's certificate is refused: it is not signed by the CA built into this image"
        ),
        "{error}"
    );
    // The PMU never saw a command.
    assert!(pmu.borrow().command.is_empty());
}

#[test]
fn a_pmu_certified_for_another_name_is_refused() {
    let pki = pki("other.lab");
    let ca = pki.ca.clone();
    let (messages, outcome, _) = run(pki, &ca, "pmu.lab", Behaviour::Answer);
    assert!(messages.is_empty());
    let error = outcome.unwrap_err();
    assert!(
        matches!(
            error,
            PdcError::Connect(TlsPdcError::Refused(Refusal::OtherName { .. }))
        ),
        "{error}"
    );
    assert!(
        error.to_string().ends_with(
            "the PMU's certificate is refused: it is for \"other.lab\", not \"pmu.lab\""
        ),
        "{error}"
    );
}

#[test]
fn a_pmu_certificate_out_of_its_days_is_refused() {
    let pki = pki_valid("pmu.lab", Some(((2020, 1, 1), (2020, 2, 1))));
    let ca = pki.ca.clone();
    let (messages, outcome, _) = run(pki, &ca, "pmu.lab", Behaviour::Answer);
    assert!(messages.is_empty());
    assert!(
        matches!(
            outcome,
            Err(PdcError::Connect(TlsPdcError::Refused(
                Refusal::NotValidToday
            )))
        ),
        "{outcome:?}"
    );
}

#[test]
fn an_end_between_records_without_close_notify_is_the_end_of_the_reply() {
    let pki = pki("pmu.lab");
    let ca = pki.ca.clone();
    let (messages, outcome, _) = run(pki, &ca, "pmu.lab", Behaviour::AnswerWithoutCloseNotify);
    assert_eq!(messages, expected());
    assert_eq!(outcome.unwrap(), 15);
}

#[test]
fn an_end_inside_a_record_is_an_error() {
    let pki = pki("pmu.lab");
    let ca = pki.ca.clone();
    let (messages, outcome, _) = run(pki, &ca, "pmu.lab", Behaviour::CutMidRecord);
    // The 15th record is cut, so the 14th message never saw its end.
    assert_eq!(messages, expected()[..13]);
    assert!(
        matches!(outcome, Err(PdcError::Receive(TlsPdcError::Truncated))),
        "{outcome:?}"
    );
}

#[test]
fn a_silent_pmu_meets_the_pdc_s_idle_timeout() {
    let pki = pki("pmu.lab");
    let ca = pki.ca.clone();
    let (messages, outcome, _) = run(pki, &ca, "pmu.lab", Behaviour::Silent);
    assert!(messages.is_empty());
    assert!(
        matches!(outcome, Err(PdcError::IdleTimeout(d)) if d == Duration::from_secs(3)),
        "{outcome:?}"
    );
}
