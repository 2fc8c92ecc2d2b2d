//! The thin tokio loop around the [`Engine`]: two UDP sockets (SIP, and
//! the RTP socket every stream shares), the clock, a once-a-second sampler
//! of CPU and memory, and the progress line on stderr.
//!
//! Everything the generator decides is in the engine; this loop only moves
//! datagrams and time. After every input it drains the engine's outbox, then
//! waits for the first of: a SIP datagram, RTP datagrams (read in batches
//! until the socket is empty), the engine's next deadline, the sampler tick,
//! or Ctrl-C (which stops the offered load; calls in progress may end).
//!
//! With `supervisors` in the scenario, their clients ([`Fleet`]) connect to
//! the node's event stream first, on a thread of their own; the run starts
//! once every one of them connected or gave up, and they listen out after
//! it before the result is built.

use std::io::{ErrorKind, IsTerminal, Write as _};
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use crate::engine::{Engine, Progress, Transmit};
use crate::procstat::{self, ProcSample};
use crate::report::{RunData, RunResult, Sample, SipSummary};
use crate::scenario::{Scenario, Target};
use crate::supervisor::Fleet;

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// The node's process id, sampled for CPU and memory.
    pub node_pid: Option<u32>,
    /// No progress line.
    pub quiet: bool,
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// A non-blocking UDP socket with large kernel buffers.
fn bind(addr: SocketAddr, buffer: usize) -> anyhow::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Smaller buffers only cost drops under bursts: best effort.
    let _ = socket.set_recv_buffer_size(buffer);
    let _ = socket.set_send_buffer_size(buffer);
    socket
        .bind(&addr.into())
        .with_context(|| format!("bind {addr}"))?;
    socket.set_nonblocking(true)?;
    Ok(UdpSocket::from_std(StdUdpSocket::from(socket))?)
}

struct Loop {
    engine: Engine,
    sip: UdpSocket,
    rtp: UdpSocket,
    send_dropped: u64,
    samples: Vec<Sample>,
    opts: RunOptions,
    start: Instant,
    last_own: Option<(Instant, ProcSample)>,
    last_node: Option<(Instant, ProcSample)>,
    last_progress: Progress,
    offered_rate: f64,
    /// Kernel drops on (SIP, RTP) when the run started.
    drops_at_start: (u64, u64),
    /// The event-stream clients, if any.
    fleet: Option<Fleet>,
    /// Their events at the last progress line.
    last_delivered: u64,
}

/// Runs `scenario` to its end and summarises it.
pub async fn run(scenario: &Scenario, opts: RunOptions) -> anyhow::Result<RunResult> {
    let fleet = match &scenario.supervisors {
        Some(load) => Some(connect_supervisors(load, opts.quiet).await?),
        None => None,
    };
    let g = &scenario.generator;
    let sip = bind(SocketAddr::new(g.local_ip, g.sip_port), 4 << 20)?;
    let rtp = bind(SocketAddr::new(g.local_ip, g.rtp_port), 16 << 20)?;
    let (sip_addr, rtp_addr) = (sip.local_addr()?, rtp.local_addr()?);
    let started_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
    let start = now();
    let engine = Engine::new(scenario, sip_addr, rtp_addr, start);
    let mut l = Loop {
        engine,
        sip,
        rtp,
        send_dropped: 0,
        samples: Vec::new(),
        opts,
        start,
        last_own: procstat::read("self").map(|s| (start, s)),
        last_node: None,
        last_progress: Progress::default(),
        offered_rate: scenario.calls.iter().map(|c| c.rate).sum(),
        drops_at_start: (0, 0),
        fleet,
        last_delivered: 0,
    };
    if let Some(f) = &l.fleet {
        f.start(start);
    }
    l.drops_at_start = l.socket_drops();
    l.last_node = l.node_sample().map(|s| (start, s));
    l.drive().await?;
    let wall_s = now().duration_since(start).as_secs_f64();
    let target = match scenario.target {
        Target::Addr(a) => a.to_string(),
        Target::SelfLoop => format!("self ({sip_addr})"),
    };
    let mut result = l.result(scenario, target, started_unix_ms, wall_s);
    if let Some(f) = l.fleet.take() {
        if !l.opts.quiet {
            eprintln!("supervisors: listening for the last events");
        }
        result.attach_supervisors(f.finish().await?);
    }
    Ok(result)
}

/// Opens the event-stream clients and waits until each connected or gave
/// up.
async fn connect_supervisors(
    load: &crate::scenario::SupervisorLoad,
    quiet: bool,
) -> anyhow::Result<Fleet> {
    let mut fleet = Fleet::launch(load)?;
    let c = fleet.connected().await?;
    if !quiet {
        eprintln!(
            "supervisors: {} of {} event-stream clients connected to {}",
            c.connected, c.clients, load.api
        );
    }
    Ok(fleet)
}

impl Loop {
    async fn drive(&mut self) -> anyhow::Result<()> {
        let mut sip_buf = vec![0u8; 65_536];
        let mut rtp_buf = vec![0u8; 2048];
        let mut next_tick = self.start + Duration::from_secs(1);
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        let mut interrupted = false;
        loop {
            self.flush().await;
            if self.engine.is_done() {
                return Ok(());
            }
            // Whatever already arrived is read before anything else, so a
            // loop that falls behind on its timers still serves its sockets.
            let sip = self.sip.try_recv_from(&mut sip_buf);
            self.on_sip(sip, &mut sip_buf);
            let rtp = self.rtp.try_recv_from(&mut rtp_buf);
            self.on_rtp(rtp, &mut rtp_buf);
            let t = now();
            if t >= next_tick {
                self.on_tick();
                // Seconds missed while the loop was starved are not replayed.
                while next_tick <= t {
                    next_tick += Duration::from_secs(1);
                }
            }
            let deadline = self.engine.poll_timeout().unwrap_or(next_tick);
            if deadline <= t {
                self.engine.handle_timeout(t);
                continue;
            }
            tokio::select! {
                r = self.sip.recv_from(&mut sip_buf) => self.on_sip(r, &mut sip_buf),
                r = self.rtp.recv_from(&mut rtp_buf) => self.on_rtp(r, &mut rtp_buf),
                () = tokio::time::sleep_until(deadline.min(next_tick).into()) => {}
                _ = &mut ctrl_c, if !interrupted => {
                    interrupted = true;
                    eprintln!("\ninterrupted: no more arrivals; waiting for calls in progress");
                    self.engine.stop(now());
                }
            }
        }
    }

    fn on_sip(&mut self, first: std::io::Result<(usize, SocketAddr)>, buf: &mut [u8]) {
        let mut r = first;
        for _ in 0..64 {
            match r {
                Ok((n, from)) => self.engine.handle_sip(now(), from, &buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                    self.engine.handle_unreachable(now())
                }
                Err(_) => return,
            }
            r = self.sip.try_recv_from(buf);
        }
    }

    fn on_rtp(&mut self, first: std::io::Result<(usize, SocketAddr)>, buf: &mut [u8]) {
        let mut r = first;
        for _ in 0..1024 {
            match r {
                Ok((n, from)) => self.engine.handle_rtp(now(), from, &buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                // ICMP errors for RTP (a peer that stopped listening) carry no news.
                Err(_) => {}
            }
            r = self.rtp.try_recv_from(buf);
        }
    }

    async fn flush(&mut self) {
        while let Some(t) = self.engine.poll_transmit() {
            match t {
                Transmit::Rtp { to, bytes } => {
                    if self.rtp.try_send_to(&bytes, to).is_err() {
                        self.send_dropped += 1;
                    }
                }
                Transmit::Sip { to, bytes } => match self.sip.send_to(&bytes, to).await {
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                        self.engine.handle_unreachable(now())
                    }
                    Err(_) => self.engine.handle_send_error(now(), &bytes),
                },
            }
        }
    }

    /// Kernel drops so far on the SIP and the RTP socket.
    fn socket_drops(&self) -> (u64, u64) {
        let drops = |s: &UdpSocket| {
            s.local_addr()
                .ok()
                .and_then(procstat::udp_drops)
                .unwrap_or(0)
        };
        (drops(&self.sip), drops(&self.rtp))
    }

    fn node_sample(&self) -> Option<ProcSample> {
        self.opts
            .node_pid
            .and_then(|pid| procstat::read(&pid.to_string()))
    }

    fn on_tick(&mut self) {
        let t = now();
        self.engine.sample_gauges(t);
        let own = procstat::read("self");
        let node = self.node_sample();
        let pct = |last: &Option<(Instant, ProcSample)>, cur: Option<ProcSample>| {
            let ((t0, s0), s1) = (last.as_ref()?, cur?);
            Some(procstat::cpu_percent(*s0, s1, t.duration_since(*t0)))
        };
        let sample = Sample {
            t: t.duration_since(self.start).as_secs(),
            own_cpu: pct(&self.last_own, own),
            own_rss_kb: own.map(|s| s.rss_kb),
            node_cpu: pct(&self.last_node, node),
            node_rss_kb: node.map(|s| s.rss_kb),
        };
        self.last_own = own.map(|s| (t, s));
        self.last_node = node.map(|s| (t, s));
        self.samples.push(sample);
        self.progress_line(&sample);
    }

    fn progress_line(&mut self, s: &Sample) {
        let p = self.engine.progress();
        let last = std::mem::replace(&mut self.last_progress, p);
        if self.opts.quiet {
            return;
        }
        let mut line = format!("[{:>4}s]", s.t);
        if self.offered_rate > 0.0 {
            line.push_str(&format!(
                " calls {}/s (offered {:.1}) active {} answered {} completed {} failed {} blocked {} streams {}",
                p.attempts - last.attempts,
                self.offered_rate,
                p.active,
                p.answered,
                p.completed,
                p.failed,
                p.blocked,
                p.streams
            ));
        }
        let regs = p.regs_ok + p.regs_failed;
        if regs > 0 {
            let rate = regs - (last.regs_ok + last.regs_failed);
            line.push_str(&format!(
                " | regs {rate}/s ok {} failed {}",
                p.regs_ok, p.regs_failed
            ));
        }
        if let Some(f) = &self.fleet {
            let delivered = f.delivered();
            let rate =
                delivered.saturating_sub(std::mem::replace(&mut self.last_delivered, delivered));
            line.push_str(&format!(" | events {rate}/s ({delivered} in all)"));
        }
        if let (Some(cpu), Some(rss)) = (s.node_cpu, s.node_rss_kb) {
            line.push_str(&format!(" | node cpu {cpu:.0}% rss {} MB", rss / 1024));
        }
        if let Some(cpu) = s.own_cpu {
            line.push_str(&format!(" | self cpu {cpu:.0}%"));
        }
        let mut err = std::io::stderr();
        let _ = if err.is_terminal() {
            write!(err, "\r\x1b[K{line}")
        } else {
            writeln!(err, "{line}")
        };
    }

    fn result(
        &self,
        scenario: &Scenario,
        target: String,
        started_unix_ms: u64,
        wall_s: f64,
    ) -> RunResult {
        if !self.opts.quiet && std::io::stderr().is_terminal() {
            eprintln!();
        }
        let layer = self.engine.layer_stats();
        let metrics = self.engine.metrics();
        let (sip_drops, rtp_drops) = self.socket_drops();
        RunResult::build(&RunData {
            scenario: &scenario.name,
            target,
            started_unix_ms,
            wall_s,
            metrics,
            has_agents: scenario.agents.is_some(),
            sip: SipSummary {
                retransmissions: layer.retransmissions,
                timeouts: layer.timeouts,
                stray_responses: metrics.stray_responses,
                arrival_lag_max_ms: metrics.arrival_lag_max_us as f64 / 1000.0,
                socket_drops: sip_drops.saturating_sub(self.drops_at_start.0),
            },
            lag: self.engine.send_lag(),
            send_dropped: self.send_dropped,
            unmatched: self.engine.unmatched_rtp(),
            rtp_socket_drops: rtp_drops.saturating_sub(self.drops_at_start.1),
            samples: &self.samples,
            node_pid: self.opts.node_pid,
        })
    }
}
