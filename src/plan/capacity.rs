//! Plan stage: what a gateway replica carries, from the measured table `data/capacity.yaml`
//! (written by `benches/capacity.sh`, never by hand), and the gateway sized for the stack's
//! declared `load`: replicas, memory, queue and volume, each with the arithmetic that led to it.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use anyhow::Context as _;
use serde::Deserialize;

use crate::model::keywords::Signal;
use crate::plan::sizing;

/// The committed table.
const TABLE: &str = include_str!("../../data/capacity.yaml");

/// A measured figure over the bench's repeats.
#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct Spread {
    /// Median of the repeats.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "the README's tables show it; sizing takes the lowest or highest")
    )]
    pub(crate) median: f64,
    /// Lowest.
    pub(crate) min: f64,
    /// Highest.
    pub(crate) max: f64,
}

/// One signal's figures at the highest sustained rate.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Figure {
    /// Sustained items per second on one core.
    pub(crate) per_core: Option<Spread>,
    /// Resident memory of the collector at that rate, MiB.
    pub(crate) rss_mib: Option<Spread>,
}

/// What an outage costs with the persistent queue, per item.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Outage {
    /// Bytes the queue counts (its `queue_size` is in these).
    pub(crate) queue_bytes_per_item: Option<Spread>,
    /// Bytes on the volume.
    pub(crate) disk_bytes_per_item: Option<Spread>,
    /// Items per second one core drains once the store is back.
    pub(crate) drain_per_core: Option<Spread>,
}

/// One topology's gateway.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TopologyFigures {
    /// Runs behind each figure (the run's `measured.repeats` when absent).
    #[serde(default)]
    pub(crate) repeats: Option<u32>,
    /// Day of its run.
    #[serde(default)]
    pub(crate) date: Option<String>,
    /// The machine of its run (the run's `measured.machine` when absent).
    #[serde(default)]
    pub(crate) machine: Option<String>,
    /// With the persistent queue, by signal (`mixed`: the DKP mix).
    #[serde(default)]
    pub(crate) persistent: BTreeMap<String, Figure>,
    /// With the in-memory queue.
    #[serde(default)]
    pub(crate) memory: BTreeMap<String, Figure>,
    /// Outage costs, by signal.
    #[serde(default)]
    pub(crate) outage: BTreeMap<String, Outage>,
}

/// Where and how the table was measured.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Measured {
    /// Day of the run.
    pub(crate) date: String,
    /// CPU, cores, kernel.
    pub(crate) machine: String,
    /// The collector's `--version`.
    pub(crate) collector: String,
    /// Repeats per figure.
    pub(crate) repeats: u32,
    /// OTLP bytes per item of the bench's payload, by signal.
    #[serde(default)]
    pub(crate) payload_bytes_per_item: BTreeMap<String, f64>,
}

/// The table.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Table {
    /// Provenance.
    pub(crate) measured: Measured,
    /// By topology letter.
    pub(crate) topologies: BTreeMap<String, TopologyFigures>,
}

impl Table {
    /// The committed table, parsed once.
    pub(crate) fn get() -> anyhow::Result<&'static Table> {
        static TABLE_CELL: OnceLock<Result<Table, String>> = OnceLock::new();
        TABLE_CELL
            .get_or_init(|| serde_yaml::from_str(TABLE).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| anyhow::anyhow!("data/capacity.yaml: {e}"))
    }

    /// The sustained rate of one signal through `topology`'s gateway on one core: the lowest of
    /// the repeats. A topology the table lacks gets the lowest any measured topology reached.
    fn per_core(&self, topology: &str, persistent: bool, signal: Signal) -> Option<(f64, String)> {
        let pick = |t: &TopologyFigures| {
            let by = if persistent { &t.persistent } else { &t.memory };
            by.get(signal.as_str()).and_then(|f| f.per_core).map(|s| s.min).filter(|v| *v > 0.0)
        };
        if let Some(v) = self.topologies.get(topology).and_then(pick) {
            return Some((v, format!("topology {topology}")));
        }
        self.topologies
            .iter()
            .filter_map(|(name, t)| pick(t).map(|v| (v, format!("topology {name}, the lowest measured"))))
            .min_by(|a, b| a.0.total_cmp(&b.0))
    }

    /// The most memory a gateway of `topology` used at a sustained rate, MiB.
    fn working_set_mib(&self, topology: &str, persistent: bool) -> f64 {
        let of = |t: &TopologyFigures| {
            let by = if persistent { &t.persistent } else { &t.memory };
            by.values().filter_map(|f| f.rss_mib).map(|s| s.max).fold(0.0, f64::max)
        };
        let here = self.topologies.get(topology).map_or(0.0, of);
        if here > 0.0 {
            here
        } else {
            self.topologies.values().map(of).fold(0.0, f64::max)
        }
    }

    /// Items of `signal` per second one core drains after an outage: the lowest measured.
    fn drain_per_core(&self, topology: &str, signal: Signal) -> Option<f64> {
        let of = |t: &TopologyFigures| t.outage.get(signal.as_str()).and_then(|o| o.drain_per_core).map(|s| s.min);
        self.topologies
            .get(topology)
            .and_then(of)
            .or_else(|| self.topologies.values().filter_map(of).min_by(f64::total_cmp))
    }

    /// Queue and disk bytes per item of `signal` during an outage: the highest measured.
    fn outage(&self, topology: &str, signal: Signal) -> (f64, f64) {
        let of = |t: &TopologyFigures| {
            t.outage
                .get(signal.as_str())
                .map(|o| (o.queue_bytes_per_item.map_or(0.0, |s| s.max), o.disk_bytes_per_item.map_or(0.0, |s| s.max)))
        };
        self.topologies.get(topology).and_then(of).filter(|(q, _)| *q > 0.0).unwrap_or_else(|| {
            self.topologies.values().filter_map(of).fold((0.0, 0.0), |a, b| (a.0.max(b.0), a.1.max(b.1)))
        })
    }
}

/// The declared load, resolved: peak items per second by signal, and the outage to survive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeclaredLoad {
    /// Peak items per second of each signal, whole stack.
    pub(crate) per_second: BTreeMap<Signal, u64>,
    /// Minutes a store may be away without loss.
    pub(crate) outage_minutes: u64,
}

impl DeclaredLoad {
    /// Peak items per second of `signal`.
    pub(crate) fn rate(&self, signal: Signal) -> u64 {
        self.per_second.get(&signal).copied().unwrap_or(0)
    }
}

/// The part of a replica's measured capacity it carries at the declared peak: the autoscaler's
/// CPU target, so the peak sits where the autoscaler holds it and bursts beyond it scale out.
const PEAK_SHARE_PERCENT: u64 = sizing::AUTOSCALE_CPU_PERCENT as u64;

/// Extra room on a queue sized for an outage: the backlog's bytes per item vary with content.
const QUEUE_MARGIN_PERCENT: u64 = 125;

use crate::validate::DEFAULT_GATEWAY_REPLICAS as MIN_GATEWAY_REPLICAS;

/// The gateway sized for a declared load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GatewaySizing {
    /// The autoscaler's minimum: what carries the declared peak.
    pub(crate) replicas: u32,
    /// The declared peak in thousandths of a replica (before rounding and the floor of two).
    pub(crate) busy_permille: u64,
    /// Memory of one replica's container, MiB.
    pub(crate) memory_mib: u32,
    /// Queue bytes one replica needs for the outage, by signal, at `replicas`.
    pub(crate) queue_bytes: BTreeMap<Signal, u64>,
    /// Its volume at `replicas`, GiB (persistent queue only).
    pub(crate) storage_gib: Option<u32>,
    /// The whole gateway's backlog for the outage, queue bytes by signal.
    pub(crate) backlog_bytes: BTreeMap<Signal, u64>,
    /// The whole gateway's backlog for the outage, bytes on disk.
    pub(crate) backlog_disk_bytes: u64,
    /// Minutes of outage the queues hold at the declared peak.
    pub(crate) holds_minutes: u64,
    /// Each step, for `plan` and the tree's README.
    pub(crate) arithmetic: Vec<String>,
    /// Items per day each signal brings its store, and their OTLP bytes.
    pub(crate) daily: BTreeMap<Signal, (u64, u64)>,
}

impl GatewaySizing {
    /// Queue bytes by signal one of `replicas` replicas needs (the file may set fewer replicas
    /// than the sizing: each then holds more).
    pub(crate) fn queue_per_replica(&self, replicas: u32) -> BTreeMap<Signal, u64> {
        self.backlog_bytes.iter().map(|(s, b)| (*s, ceil_div(*b, u64::from(replicas.max(1))))).collect()
    }

    /// The volume one of `replicas` replicas needs, GiB: twice its backlog's disk bytes
    /// (compaction copies the live data), at least 1 GiB; none with an in-memory queue.
    pub(crate) fn volume_gib(&self, replicas: u32) -> Option<u32> {
        self.storage_gib.map(|_| {
            let per_replica = ceil_div(self.backlog_disk_bytes, u64::from(replicas.max(1)));
            u32::try_from(ceil_div(per_replica * sizing::QUEUE_SHARE_OF_VOLUME, 1 << 30)).unwrap_or(u32::MAX).max(1)
        })
    }
}

/// A count or rate as a float: they stay far below 2^52, where `f64` is exact.
#[expect(clippy::cast_precision_loss, reason = "rates, seconds and bytes stay far below 2^52")]
pub(crate) fn float(n: u64) -> f64 {
    n as f64
}

/// A non-negative quantity rounded up to a whole number, at most 10^18 (so sums stay in range).
#[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "clamped to 0..=1e18 first")]
pub(crate) fn whole(x: f64) -> u64 {
    if x.is_nan() {
        return 0;
    }
    x.ceil().clamp(0.0, 1e18) as u64
}

/// [`whole`] as a `u32`, saturating.
fn whole32(x: f64) -> u32 {
    u32::try_from(whole(x)).unwrap_or(u32::MAX)
}

fn ceil_div(a: u64, b: u64) -> u64 {
    a.div_ceil(b.max(1))
}

/// Size `topology`'s gateway for `load`: each replica gets `cpu_millicores` of CPU, a default
/// container of `default_memory_mib`, and a persistent or in-memory queue.
pub(crate) fn size_gateway(
    table: &Table,
    topology: &str,
    load: &DeclaredLoad,
    persistent: bool,
    cpu_millicores: u32,
    default_memory_mib: u32,
) -> GatewaySizing {
    let mut arithmetic = Vec::new();
    let busy = replicas_busy(table, topology, load, persistent, cpu_millicores, &mut arithmetic);
    // A whisker under a whole number is that number: the rates are measured, not exact.
    let needed = whole32(busy - 1e-6);
    let replicas = needed.max(MIN_GATEWAY_REPLICAS);
    arithmetic.push(format!(
        "replicas: {:.2} rounded up = {needed}, at least {MIN_GATEWAY_REPLICAS} → {replicas} (the autoscaler's minimum; its maximum {})",
        busy,
        sizing::max_replicas(replicas)
    ));

    // The outage's backlog, whole gateway; each replica holds its share.
    let seconds = load.outage_minutes * 60;
    let mut backlog_bytes = BTreeMap::new();
    let mut backlog_disk_bytes = 0u64;
    let mut per_minute = 0u64; // queue bytes per minute of outage, one replica
    for signal in Signal::ALL {
        let rate = load.rate(signal);
        if rate == 0 {
            continue;
        }
        let (q, dsk) = table.outage(topology, signal);
        let share = ceil_div(rate, u64::from(replicas));
        let margin = float(QUEUE_MARGIN_PERCENT) / 100.0;
        let total = whole(float(rate) * float(seconds) * q.ceil() * margin);
        per_minute = per_minute.saturating_add(whole(float(share) * 60.0 * q.ceil()));
        backlog_disk_bytes =
            backlog_disk_bytes.saturating_add(whole(float(rate) * float(seconds) * dsk.max(q).ceil() * margin));
        backlog_bytes.insert(signal, total);
        if persistent {
            arithmetic.push(format!(
                "{} backlog per replica: {}/s × {seconds} s × {q:.0} queue bytes ({dsk:.0} on disk) per item × {QUEUE_MARGIN_PERCENT}% = {} MiB",
                signal.as_str(),
                thousands(share),
                ceil_div(ceil_div(total, u64::from(replicas)), 1 << 20)
            ));
        }
    }
    let disk = ceil_div(backlog_disk_bytes, u64::from(replicas));
    if persistent && seconds > 0 {
        arithmetic.push(catch_up(table, topology, load, replicas, cpu_millicores));
    }
    let working = whole(table.working_set_mib(topology, persistent));
    let (memory_mib, storage_gib, holds_minutes) = if persistent {
        let gib = u32::try_from(ceil_div(disk * sizing::QUEUE_SHARE_OF_VOLUME, 1 << 30)).unwrap_or(u32::MAX).max(1);
        arithmetic.push(format!(
            "volume: {} MiB of backlog × {} (compaction copies the live data) = {gib} GiB",
            ceil_div(disk, 1 << 20),
            sizing::QUEUE_SHARE_OF_VOLUME
        ));
        let memory = memory_for(working, default_memory_mib);
        arithmetic.push(format!(
            "memory: {working} MiB measured at saturation, ÷ 0.8 for the limiter's headroom, at least {default_memory_mib} → {memory} MiB"
        ));
        (memory, Some(gib), load.outage_minutes)
    } else {
        let memory = memory_for(working, default_memory_mib);
        let queue = u64::from(memory) * (1 << 20) / sizing::QUEUE_SHARE_OF_MEMORY;
        let minutes = queue.checked_div(per_minute).unwrap_or(u64::MAX);
        arithmetic.push(format!(
            "memory: {working} MiB measured at saturation, ÷ 0.8 for the limiter's headroom, at least {default_memory_mib} → {memory} MiB; its in-memory queue ({} MiB) holds {} of outage",
            queue >> 20,
            match minutes {
                u64::MAX => "any length".to_string(),
                0 => "less than a minute".to_string(),
                m => format!("{m} min"),
            }
        ));
        (memory, None, minutes)
    };
    let mut daily = BTreeMap::new();
    for signal in Signal::ALL {
        let rate = load.rate(signal);
        if rate > 0 {
            let bytes = table.measured.payload_bytes_per_item.get(signal.as_str()).copied().unwrap_or(0.0);
            daily.insert(signal, (rate * 86_400, whole(float(rate) * 86_400.0 * bytes)));
        }
    }
    let mut sized = GatewaySizing {
        replicas,
        busy_permille: whole(busy * 1000.0),
        memory_mib,
        queue_bytes: BTreeMap::new(),
        storage_gib,
        backlog_bytes,
        backlog_disk_bytes,
        holds_minutes,
        arithmetic,
        daily,
    };
    sized.queue_bytes = sized.queue_per_replica(replicas);
    sized
}

/// How many replicas the declared peak keeps busy: the sum of each signal's share of one
/// replica, at `PEAK_SHARE_PERCENT` of its measured capacity; each step added to `arithmetic`.
fn replicas_busy(
    table: &Table,
    topology: &str,
    load: &DeclaredLoad,
    persistent: bool,
    cpu_millicores: u32,
    arithmetic: &mut Vec<String>,
) -> f64 {
    let queue = if persistent { "persistent queue" } else { "in-memory queue" };
    let mut busy = 0f64;
    for signal in Signal::ALL {
        let rate = load.rate(signal);
        if rate == 0 {
            continue;
        }
        let Some((per_core, source)) = table.per_core(topology, persistent, signal) else { continue };
        let per_replica = (per_core * f64::from(cpu_millicores) / 1000.0).max(1.0);
        let carried = per_replica * float(PEAK_SHARE_PERCENT) / 100.0;
        let share = float(rate) / carried;
        busy += share;
        arithmetic.push(format!(
            "{}: {}/s over {}/s per replica ({}% of {}/s on one core, {queue}, {source}, scaled to {cpu_millicores}m) = {:.2} replicas",
            signal.as_str(),
            thousands(rate),
            thousands(whole(carried)),
            PEAK_SHARE_PERCENT,
            thousands(whole(per_core)),
            share
        ));
    }
    busy
}

/// How long the gateway takes to send an outage's backlog once the store is back, while the
/// peak keeps arriving: the exporters try again at most [`sizing::RETRY_MAX_SECONDS`] later
/// (the elasticsearch exporter's own retry, at most [`sizing::ES_RETRY_MAX_SECONDS`]); then,
/// with `c` the items per second a replica sustains (the table's persistent-queue figure) and
/// `r` its share of the peak, each signal's backlog `b` takes `b/c` of the replica's time and
/// the live load `r/c` of every second, so the backlog is gone after `Σ b/c ÷ (1 − Σ r/c)`.
fn catch_up(table: &Table, topology: &str, load: &DeclaredLoad, replicas: u32, cpu_millicores: u32) -> String {
    let seconds = float(load.outage_minutes * 60);
    let (mut work, mut busy) = (0f64, 0f64);
    let mut measured = Vec::new();
    for signal in Signal::ALL {
        let rate = float(load.rate(signal)) / f64::from(replicas);
        if rate == 0.0 {
            continue;
        }
        let Some((per_core, _)) = table.per_core(topology, true, signal) else {
            return "catch-up: no sustained rate measured for this topology".to_string();
        };
        let capacity = (per_core * f64::from(cpu_millicores) / 1000.0).max(1.0);
        work += rate * seconds / capacity;
        busy += rate / capacity;
        if let Some(drain) = table.drain_per_core(topology, signal) {
            measured.push(format!("{} {}/s", signal.as_str(), thousands(whole(drain))));
        }
    }
    let wait = if topology == "D" { sizing::ES_RETRY_MAX_SECONDS } else { sizing::RETRY_MAX_SECONDS };
    let bench = if measured.is_empty() {
        String::new()
    } else {
        format!(
            "; the bench's 150,000-item backlog drained at {} on one core, retry waits included",
            measured.join(", ")
        )
    };
    if busy >= 1.0 {
        return format!(
            "catch-up: at the declared peak a replica has no room left to send a backlog ({:.0}% of what it sustains is the live load): only the autoscaler's extra replicas catch up after an outage{bench}",
            busy * 100.0
        );
    }
    format!(
        "catch-up: after a {}-minute outage the backlog is sent within about {} min at the declared peak (up to {wait} s until the exporters try again, then the sustained rate beyond the live load, {cpu_millicores}m per replica){bench}",
        load.outage_minutes,
        whole((work / (1.0 - busy) + f64::from(wait)) / 60.0)
    )
}

/// A container for a working set of `working` MiB: the `memory_limiter` stops at four fifths of
/// the container, so the working set is divided by 0.8, rounded up to 64 MiB, and never under
/// the default (whose quarter an in-memory queue may fill).
fn memory_for(working: u64, default: u32) -> u32 {
    let need = ceil_div(working * 5, 4);
    let rounded = ceil_div(need, 64) * 64;
    u32::try_from(rounded).unwrap_or(u32::MAX).max(default)
}

/// What one gateway replica of `topology` with `cpu_millicores` carries at the declared peak,
/// items per second by signal (the autoscaler's share of the lowest measured rate).
pub(crate) fn replica_rates(
    table: &Table,
    topology: &str,
    persistent: bool,
    cpu_millicores: u32,
) -> BTreeMap<Signal, u64> {
    Signal::ALL
        .into_iter()
        .filter_map(|s| {
            table.per_core(topology, persistent, s).map(|(per_core, _)| {
                let carried = per_core * f64::from(cpu_millicores) / 1000.0 * float(PEAK_SHARE_PERCENT) / 100.0;
                (s, whole(carried))
            })
        })
        .collect()
}

/// Bytes the whole gateway's persistent queues take on disk per hour of a store's outage, at the
/// declared peak.
pub(crate) fn backlog_per_hour(table: &Table, topology: &str, load: &DeclaredLoad) -> u64 {
    Signal::ALL
        .into_iter()
        .map(|s| {
            let (q, disk) = table.outage(topology, s);
            whole(float(load.rate(s)) * 3600.0 * disk.max(q))
        })
        .sum()
}

/// "6,000 spans/s, 2,400 log records/s, 3,600 metric points/s; outage 60 min"
pub(crate) fn describe_load(load: &DeclaredLoad) -> String {
    let parts: Vec<String> =
        [(Signal::Traces, "spans"), (Signal::Logs, "log records"), (Signal::Metrics, "metric points")]
            .into_iter()
            .map(|(s, what)| format!("{} {what}/s", thousands(load.rate(s))))
            .collect();
    format!("{}; outage {} min", parts.join(", "), load.outage_minutes)
}

/// `1234567` → `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes as GiB with one decimal (MiB under one GiB).
pub(crate) fn human_bytes(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1} GiB", float(bytes) / f64::from(1u32 << 30))
    } else {
        format!("{} MiB", bytes.div_ceil(1 << 20))
    }
}

/// The lines `plan` and the tree's README show for a declared load: the gateway's sizing with
/// its arithmetic (when the topology has a gateway) and what each store receives per day.
pub(crate) fn describe(
    load: &DeclaredLoad,
    sizing: &GatewaySizing,
    gateway: Option<&crate::plan::collector::CollectorRole>,
) -> Vec<String> {
    let mut out = vec![format!("declared load: {}", describe_load(load))];
    if let Some(gateway) = gateway {
        let given = (gateway.replicas, gateway.memory_limit_mib);
        let overridden = if given == (sizing.replicas, sizing.memory_mib) {
            String::new()
        } else {
            format!(" (the stack file's settings win: {} replicas, {} MiB)", given.0, given.1)
        };
        out.push(format!(
            "gateway: {}–{} replicas, {} MiB each{}{overridden}",
            sizing.replicas,
            sizing::max_replicas(sizing.replicas),
            sizing.memory_mib,
            sizing.storage_gib.map(|g| format!(", a {g} GiB volume each")).unwrap_or_default()
        ));
        out.extend(sizing.arithmetic.iter().map(|l| format!("  {l}")));
    }
    for (signal, (items, bytes)) in &sizing.daily {
        out.push(format!(
            "{} per day to the store: {} items, {} as OTLP",
            signal.as_str(),
            thousands(*items),
            human_bytes(*bytes)
        ));
    }
    out
}

/// The measured figures as the README's Markdown tables (kept in step by a test).
#[cfg(test)]
pub(crate) fn readme_tables(t: &Table) -> String {
    use std::fmt::Write as _;
    let cell = |s: Option<Spread>| {
        s.map_or_else(
            || "–".to_string(),
            |s| format!("{} ({}–{})", thousands(whole(s.median)), thousands(whole(s.min)), thousands(whole(s.max))),
        )
    };
    let mut out = String::from(
        "Sustained items per second through one gateway on one core: the median of the runs (lowest–highest;\n\
         – where no rate was sustained).\n\n\
         | topology (runs, day) | queue | traces | logs | metrics | DKP mix | DKP mix over HTTP |\n|---|---|---|---|---|---|---|\n",
    );
    for (name, figures) in &t.topologies {
        let runs = figures.repeats.unwrap_or(t.measured.repeats);
        let day = figures.date.as_deref().unwrap_or(&t.measured.date);
        for (queue, by) in [("persistent", &figures.persistent), ("in memory", &figures.memory)] {
            let f = |k: &str| cell(by.get(k).and_then(|f| f.per_core).filter(|s| s.max > 0.0));
            let _ = writeln!(
                out,
                "| {name} ({runs}, {day}) | {queue} | {} | {} | {} | {} | {} |",
                f("traces"),
                f("logs"),
                f("metrics"),
                f("mixed"),
                f("mixed_http")
            );
        }
    }
    out.push_str(
        "\nAn outage with the persistent queue, per item: the bytes the queue counts, the bytes on its\n\
         volume, and the items per second one core drains once the store is back.\n\n\
         | topology | signal | queue bytes | disk bytes | drained per second |\n|---|---|---|---|---|\n",
    );
    for (name, figures) in &t.topologies {
        for (signal, o) in &figures.outage {
            let _ = writeln!(
                out,
                "| {name} | {signal} | {} | {} | {} |",
                cell(o.queue_bytes_per_item),
                cell(o.disk_bytes_per_item),
                cell(o.drain_per_core)
            );
        }
    }
    out
}

/// Where and when the figures `topology` is sized from were measured.
pub(crate) fn provenance(topology: &str) -> anyhow::Result<String> {
    let t = Table::get().context("the capacity table")?;
    let figures = t.topologies.get(topology);
    let runs = figures.and_then(|f| f.repeats).unwrap_or(t.measured.repeats);
    let day = figures.and_then(|f| f.date.as_deref()).unwrap_or(&t.measured.date);
    let machine = figures.and_then(|f| f.machine.as_deref()).unwrap_or(&t.measured.machine);
    let whose = if figures.is_some() { format!("topology {topology}") } else { "every topology".to_string() };
    Ok(format!(
        "{whose} measured {day} on {machine} with {}, {runs} run{} each",
        t.measured.collector,
        if runs == 1 { "" } else { "s" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(spans: u64, logs: u64, metrics: u64, outage: u64) -> DeclaredLoad {
        DeclaredLoad {
            per_second: [(Signal::Traces, spans), (Signal::Logs, logs), (Signal::Metrics, metrics)]
                .into_iter()
                .collect(),
            outage_minutes: outage,
        }
    }

    #[test]
    fn the_committed_table_parses_and_covers_a_c_d() {
        let t = Table::get().unwrap();
        for topology in ["A", "C", "D"] {
            for signal in Signal::ALL {
                for persistent in [true, false] {
                    let (v, source) = t.per_core(topology, persistent, signal).unwrap();
                    assert!(v > 100.0, "{topology} {signal:?} {persistent}: {v}");
                    assert_eq!(source, format!("topology {topology}"));
                }
                let (q, d) = t.outage(topology, signal);
                assert!(q > 10.0 && d > 0.0, "{topology} {signal:?}: {q} {d}");
            }
        }
    }

    #[test]
    fn sizing_grows_with_load_and_outage() {
        let t = Table::get().unwrap();
        for topology in ["A", "C", "D", "X"] {
            for persistent in [true, false] {
                let mut last: Option<GatewaySizing> = None;
                for k in [0u64, 1, 3, 10, 30, 100, 300] {
                    let s = size_gateway(t, topology, &load(1000 * k, 400 * k, 600 * k, 60), persistent, 500, 512);
                    if let Some(prev) = &last {
                        assert!(s.replicas >= prev.replicas, "{topology} {k}");
                        assert!(s.memory_mib >= prev.memory_mib, "{topology} {k}");
                        assert!(s.storage_gib >= prev.storage_gib, "{topology} {k}");
                        // Replicas share the backlog: what they hold together grows.
                        let total = |g: &GatewaySizing| g.queue_bytes.values().sum::<u64>() * u64::from(g.replicas);
                        assert!(total(&s) * 100 >= total(prev) * 99, "{topology} {k}");
                    }
                    last = Some(s);
                }
                let big = last.unwrap();
                assert!(big.replicas > MIN_GATEWAY_REPLICAS, "{topology}: 300k spans/s need more than two replicas");
            }
            let short = size_gateway(t, topology, &load(5000, 2000, 3000, 10), true, 500, 512);
            let long = size_gateway(t, topology, &load(5000, 2000, 3000, 600), true, 500, 512);
            assert!(long.storage_gib > short.storage_gib, "{topology}");
            assert!(long.queue_bytes[&Signal::Traces] > short.queue_bytes[&Signal::Traces] * 50);
        }
    }

    #[test]
    fn no_load_needs_the_floor_only() {
        let t = Table::get().unwrap();
        let s = size_gateway(t, "A", &load(0, 0, 0, 60), true, 500, 512);
        assert_eq!((s.replicas, s.memory_mib, s.storage_gib), (MIN_GATEWAY_REPLICAS, 512, Some(1)));
        assert!(s.queue_bytes.is_empty() && s.daily.is_empty());
    }

    #[test]
    fn the_readme_shows_the_committed_figures() {
        let t = Table::get().unwrap();
        let tables = readme_tables(t);
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let (start, end) =
            ("<!-- capacity tables: generated from data/capacity.yaml -->\n", "<!-- end of capacity tables -->");
        let (Some(a), Some(b)) = (readme.find(start), readme.find(end)) else {
            panic!("README.md lacks the capacity table markers")
        };
        let fresh = format!("{}{start}{tables}{}", &readme[..a], &readme[b..]);
        if std::env::var_os("OTELPLAN_BLESS").is_some() {
            std::fs::write(path, &fresh).unwrap();
        }
        assert!(
            readme == fresh,
            "README.md's capacity tables differ from data/capacity.yaml; regenerate them with \
             `OTELPLAN_BLESS=1 cargo test the_readme_shows`:\n{tables}"
        );
    }

    #[test]
    fn memory_covers_the_working_set_with_headroom() {
        assert_eq!(memory_for(100, 512), 512);
        assert_eq!(memory_for(500, 512), 640);
        assert_eq!(memory_for(512, 128), 640);
    }
}
