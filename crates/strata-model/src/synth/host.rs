//! The per-host table of synthetic node_exporter series: names, labels and value models.

use super::{Kind, Model, SplitMix64, SynthSeries, mix64};
use crate::labels::{Label, Labels};

/// Returns the series of one host.
pub(super) fn build(
    host_seed: u64,
    start_ms: i64,
    instance: String,
    cpus: usize,
) -> Vec<SynthSeries> {
    let mut b = HostBuilder {
        host_seed,
        start_ms,
        instance,
        out: Vec::new(),
        rng: SplitMix64::new(host_seed ^ 0xabcdef),
    };
    b.cpu(cpus);
    b.memory();
    b.network();
    b.disk();
    b.filesystem();
    b.load();
    b.float_gauges();
    b.kernel();
    b.go_runtime();
    b.process();
    b.scrape_durations();
    b.constants();
    b.out
}

/// Builds one host's series; `rng` only picks starting values.
struct HostBuilder {
    host_seed: u64,
    start_ms: i64,
    instance: String,
    out: Vec<SynthSeries>,
    rng: SplitMix64,
}

/// A counter model in integer units (helper for the tables below).
fn counter(units: i64, scale: f64, base: i64, spread: u64, burst: (f64, u64), gran: i64) -> Model {
    Model::Counter {
        units,
        scale,
        base,
        spread,
        burst_p: burst.0,
        burst: burst.1,
        granularity: gran,
    }
}

/// A random-walk model (helper for the tables below).
fn walk(units: i64, scale: f64, p: f64, step: i64, gran: i64, every: u64) -> Model {
    Model::Walk {
        units,
        scale,
        p,
        step,
        granularity: gran,
        lo: 0,
        hi: i64::MAX / 4,
        every,
    }
}

impl HostBuilder {
    fn push(&mut self, kind: Kind, name: &str, extra: &[(&str, &str)], model: Model) {
        let mut v = vec![
            Label::new(crate::labels::METRIC_NAME, name),
            Label::new("instance", self.instance.as_str()),
            Label::new("job", "node"),
        ];
        v.extend(extra.iter().map(|(n, val)| Label::new(*n, *val)));
        v.retain(|l| !l.value.is_empty());
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v.dedup_by(|a, b| a.name == b.name);
        let seed = mix64(self.host_seed ^ mix64(self.out.len() as u64 + 1));
        self.out.push(SynthSeries {
            labels: Labels::from_sorted_unchecked(v),
            kind,
            model,
            rng: SplitMix64::new(seed),
            host_seed: self.host_seed,
            start_ms: self.start_ms,
            step: 0,
        });
    }

    /// A large random starting counter value (uptime of weeks).
    fn start(&mut self, max: u64) -> i64 {
        (max / 2 + self.rng.below(max / 2 + 1)) as i64
    }

    fn cpu(&mut self, cpus: usize) {
        // (mode, ticks per second base, spread, burst chance, burst size)
        let modes: [(&str, i64, u64, f64, u64); 8] = [
            ("idle", 90, 8, 0.05, 10),
            ("user", 2, 6, 0.1, 40),
            ("system", 1, 3, 0.05, 10),
            ("iowait", 0, 1, 0.02, 5),
            ("irq", 0, 0, 0.0, 0),
            ("softirq", 0, 1, 0.0, 0),
            ("steal", 0, 0, 0.0, 0),
            ("nice", 0, 0, 0.001, 1),
        ];
        for c in 0..cpus {
            let cpu = c.to_string();
            for (mode, base, spread, bp, bs) in modes {
                let units = self.start(if mode == "idle" {
                    300_000_000
                } else {
                    10_000_000
                });
                let m = counter(units, 100.0, base, spread, (bp, bs), 1);
                self.push(
                    Kind::CpuSeconds,
                    "node_cpu_seconds_total",
                    &[("cpu", &cpu), ("mode", mode)],
                    m,
                );
            }
            for (name, base, spread) in [
                (
                    "node_schedstat_running_seconds_total",
                    50_000_000,
                    40_000_000u64,
                ),
                ("node_schedstat_waiting_seconds_total", 1_000_000, 3_000_000),
            ] {
                let units = self.start(1 << 52);
                let m = counter(units, 1e9, base, spread, (0.05, 200_000_000), 1);
                self.push(Kind::CpuSeconds, name, &[("cpu", &cpu)], m);
            }
            let units = self.start(1 << 30);
            let m = counter(units, 1.0, 0, 30, (0.02, 500), 1);
            self.push(
                Kind::CpuSeconds,
                "node_schedstat_timeslices_total",
                &[("cpu", &cpu)],
                m,
            );
        }
    }

    fn memory(&mut self) {
        let total: i64 = 16 << 30;
        for name in [
            "MemTotal",
            "SwapTotal",
            "SwapFree",
            "HugePages_Total",
            "HugePages_Free",
            "Hugepagesize",
            "VmallocTotal",
            "CommitLimit",
            "DirectMap4k",
            "DirectMap2M",
        ] {
            let v = if name == "Hugepagesize" {
                2 << 20
            } else {
                total / 2 + self.rng.below(1 << 30) as i64
            };
            let fam = format!("node_memory_{name}_bytes");
            self.push(Kind::Memory, &fam, &[], Model::Constant((v & !4095) as f64));
        }
        // (name, probability of change per second, max pages per change)
        for (name, p, pages) in [
            ("MemFree", 0.7, 400),
            ("MemAvailable", 0.7, 400),
            ("Cached", 0.5, 200),
            ("Buffers", 0.2, 8),
            ("Active", 0.6, 300),
            ("Inactive", 0.4, 100),
            ("Dirty", 0.8, 60),
            ("Writeback", 0.05, 4),
            ("Slab", 0.3, 20),
            ("SReclaimable", 0.3, 16),
            ("Shmem", 0.05, 4),
            ("PageTables", 0.2, 4),
            ("Committed_AS", 0.5, 100),
            ("AnonPages", 0.6, 200),
        ] {
            let units = (self.rng.below((total / 4096) as u64 / 2) + 1000) as i64;
            let fam = format!("node_memory_{name}_bytes");
            self.push(
                Kind::Memory,
                &fam,
                &[],
                walk(units * 4096, 1.0, p, pages, 4096, 1),
            );
        }
    }

    fn network(&mut self) {
        for (dev, rate) in [("eth0", 1u64), ("lo", 0)] {
            for dir in ["receive", "transmit"] {
                let bytes = format!("node_network_{dir}_bytes_total");
                let packets = format!("node_network_{dir}_packets_total");
                let (b0, p0) = (self.start(1 << 40), self.start(1 << 32));
                let (bb, bs, pb, ps) = if rate == 1 {
                    (2_000, 30_000, 5, 40)
                } else {
                    (0, 600, 0, 6)
                };
                self.push(
                    Kind::Network,
                    &bytes,
                    &[("device", dev)],
                    counter(b0, 1.0, bb, bs, (0.05, 2_000_000), 1),
                );
                self.push(
                    Kind::Network,
                    &packets,
                    &[("device", dev)],
                    counter(p0, 1.0, pb, ps, (0.05, 1_500), 1),
                );
                for what in ["errs", "drop"] {
                    let fam = format!("node_network_{dir}_{what}_total");
                    let u = self.start(1000);
                    self.push(
                        Kind::Network,
                        &fam,
                        &[("device", dev)],
                        counter(u, 1.0, 0, 0, (0.0005, 2), 1),
                    );
                }
            }
        }
    }

    fn disk(&mut self) {
        for dev in ["sda", "nvme0n1"] {
            let l = [("device", dev)];
            let u = self.start(1 << 28);
            self.push(
                Kind::Disk,
                "node_disk_read_bytes_total",
                &l,
                counter(u * 512, 1.0, 0, 8, (0.05, 2_000), 512),
            );
            let u = self.start(1 << 30);
            self.push(
                Kind::Disk,
                "node_disk_written_bytes_total",
                &l,
                counter(u * 512, 1.0, 0, 200, (0.2, 20_000), 512),
            );
            let u = self.start(1 << 24);
            self.push(
                Kind::Disk,
                "node_disk_reads_completed_total",
                &l,
                counter(u, 1.0, 0, 2, (0.05, 100), 1),
            );
            let u = self.start(1 << 26);
            self.push(
                Kind::Disk,
                "node_disk_writes_completed_total",
                &l,
                counter(u, 1.0, 0, 30, (0.2, 500), 1),
            );
            for name in [
                "node_disk_io_time_seconds_total",
                "node_disk_read_time_seconds_total",
                "node_disk_write_time_seconds_total",
            ] {
                let u = self.start(1 << 30);
                self.push(
                    Kind::Disk,
                    name,
                    &l,
                    counter(u, 1000.0, 0, 20, (0.1, 400), 1),
                );
            }
        }
    }

    fn filesystem(&mut self) {
        for (dev, mnt) in [
            ("/dev/sda1", "/"),
            ("/dev/nvme0n1p1", "/data"),
            ("tmpfs", "/run"),
        ] {
            let l = [("device", dev), ("fstype", "ext4"), ("mountpoint", mnt)];
            let size = (self.rng.below(1 << 28) as i64 + (1 << 26)) * 4096;
            self.push(
                Kind::Filesystem,
                "node_filesystem_size_bytes",
                &l,
                Model::Constant(size as f64),
            );
            let free = size / 2;
            self.push(
                Kind::Filesystem,
                "node_filesystem_free_bytes",
                &l,
                walk(free, 1.0, 0.2, 64, 4096, 1),
            );
            self.push(
                Kind::Filesystem,
                "node_filesystem_avail_bytes",
                &l,
                walk(free - (1 << 30), 1.0, 0.2, 64, 4096, 1),
            );
            let files = size / 16384;
            self.push(
                Kind::Filesystem,
                "node_filesystem_files",
                &l,
                Model::Constant(files as f64),
            );
            self.push(
                Kind::Filesystem,
                "node_filesystem_files_free",
                &l,
                walk(files / 2, 1.0, 0.1, 10, 1, 1),
            );
        }
    }

    fn load(&mut self) {
        for (name, step) in [("node_load1", 30), ("node_load5", 8), ("node_load15", 3)] {
            let mut m = walk(50 + self.rng.below(100) as i64, 100.0, 0.9, step, 1, 5);
            if let Model::Walk { hi, .. } = &mut m {
                *hi = 800;
            }
            self.push(Kind::Load, name, &[], m);
        }
        self.push(
            Kind::Load,
            "node_procs_running",
            &[],
            walk(3, 1.0, 0.6, 2, 1, 1),
        );
        self.push(
            Kind::Load,
            "node_procs_blocked",
            &[],
            walk(0, 1.0, 0.05, 1, 1, 1),
        );
    }

    fn float_gauges(&mut self) {
        for (chip, sensor) in [
            ("coretemp", "temp1"),
            ("coretemp", "temp2"),
            ("nvme", "temp1"),
            ("acpi", "temp1"),
        ] {
            let u = 40_000 + self.rng.below(15_000) as i64;
            let m = walk(u, 1000.0, 0.6, 2, 1000, 1);
            self.push(
                Kind::FloatGauge,
                "node_hwmon_temp_celsius",
                &[("chip", chip), ("sensor", sensor)],
                m,
            );
        }
        let m = Model::Noise {
            base: -500_000,
            spread: 1_000_000,
            scale: 1e9,
        };
        self.push(Kind::FloatGauge, "node_timex_offset_seconds", &[], m);
        let ppm = self.rng.below(2_000_000) as i64 - 1_000_000;
        self.push(
            Kind::FloatGauge,
            "node_timex_frequency_adjustment_ratio",
            &[],
            Model::Ratio { ppm, p: 0.02 },
        );
        self.push(
            Kind::FloatGauge,
            "node_time_seconds",
            &[],
            Model::TimeSeconds,
        );
        let u = 400 + self.rng.below(200) as i64;
        self.push(
            Kind::FloatGauge,
            "node_power_supply_voltage_volts",
            &[],
            walk(u, 100.0, 0.1, 1, 1, 1),
        );
    }

    fn kernel(&mut self) {
        let u = self.start(1 << 40);
        self.push(
            Kind::Kernel,
            "node_context_switches_total",
            &[],
            counter(u, 1.0, 2_000, 3_000, (0.05, 50_000), 1),
        );
        let u = self.start(1 << 40);
        self.push(
            Kind::Kernel,
            "node_intr_total",
            &[],
            counter(u, 1.0, 1_500, 1_000, (0.05, 20_000), 1),
        );
        let u = self.start(1 << 28);
        self.push(
            Kind::Kernel,
            "node_forks_total",
            &[],
            counter(u, 1.0, 0, 4, (0.05, 50), 1),
        );
        self.push(
            Kind::Kernel,
            "node_entropy_available_bits",
            &[],
            Model::Constant(256.0),
        );
    }

    fn go_runtime(&mut self) {
        self.push(
            Kind::GoRuntime,
            "go_goroutines",
            &[],
            walk(9, 1.0, 0.3, 1, 1, 1),
        );
        self.push(Kind::GoRuntime, "go_threads", &[], Model::Constant(12.0));
        let u = 3_000_000 + self.rng.below(1_000_000) as i64;
        self.push(
            Kind::GoRuntime,
            "go_memstats_alloc_bytes",
            &[],
            walk(u, 1.0, 0.95, 20_000, 8, 1),
        );
        let u = self.start(1 << 36);
        self.push(
            Kind::GoRuntime,
            "go_memstats_alloc_bytes_total",
            &[],
            counter(u, 1.0, 100_000, 50_000, (0.0, 0), 8),
        );
        let u = self.start(1 << 28);
        self.push(
            Kind::GoRuntime,
            "go_memstats_mallocs_total",
            &[],
            counter(u, 1.0, 1_500, 600, (0.0, 0), 1),
        );
        self.push(
            Kind::GoRuntime,
            "go_memstats_frees_total",
            &[],
            counter(u - 20_000, 1.0, 1_490, 600, (0.0, 0), 1),
        );
        self.push(
            Kind::GoRuntime,
            "go_memstats_heap_objects",
            &[],
            walk(20_000, 1.0, 0.95, 500, 1, 1),
        );
        self.push(
            Kind::GoRuntime,
            "go_memstats_sys_bytes",
            &[],
            Model::Constant(25_000_000.0 + 8192.0),
        );
        self.push(
            Kind::GoRuntime,
            "go_memstats_heap_sys_bytes",
            &[],
            walk(12 << 20, 1.0, 0.01, 2, 8192, 1),
        );
        for q in ["0", "0.25", "0.5", "0.75", "1"] {
            let base = 20_000 + 20_000 * (q.len() as i64);
            let m = walk(base, 1e9, 0.05, 5_000, 1, 1);
            self.push(
                Kind::GoRuntime,
                "go_gc_duration_seconds",
                &[("quantile", q)],
                m,
            );
        }
        let u = self.start(1 << 36);
        self.push(
            Kind::GoRuntime,
            "go_gc_duration_seconds_sum",
            &[],
            counter(u, 1e9, 0, 0, (0.1, 200_000), 1),
        );
        let u = self.start(1 << 20);
        self.push(
            Kind::GoRuntime,
            "go_gc_duration_seconds_count",
            &[],
            counter(u, 1.0, 0, 0, (0.1, 1), 1),
        );
        self.push(
            Kind::GoRuntime,
            "go_memstats_gc_cpu_fraction",
            &[],
            Model::Ratio { ppm: 7_000, p: 0.1 },
        );
    }

    fn process(&mut self) {
        let u = self.start(1 << 24);
        self.push(
            Kind::Process,
            "process_cpu_seconds_total",
            &[],
            counter(u, 100.0, 0, 2, (0.05, 5), 1),
        );
        let u = 5_000 + self.rng.below(1_000) as i64;
        self.push(
            Kind::Process,
            "process_resident_memory_bytes",
            &[],
            walk(u * 4096, 1.0, 0.3, 8, 4096, 1),
        );
        self.push(
            Kind::Process,
            "process_virtual_memory_bytes",
            &[],
            walk(1_300_000 * 4096, 1.0, 0.01, 16, 4096, 1),
        );
        self.push(
            Kind::Process,
            "process_open_fds",
            &[],
            walk(9, 1.0, 0.2, 1, 1, 1),
        );
        self.push(
            Kind::Process,
            "process_max_fds",
            &[],
            Model::Constant(1_048_576.0),
        );
        let start = (self.start_ms / 1000 - 86_400) as f64 + 0.37;
        self.push(
            Kind::Process,
            "process_start_time_seconds",
            &[],
            Model::Constant(start),
        );
        let u = self.start(1 << 30);
        self.push(
            Kind::Process,
            "process_network_receive_bytes_total",
            &[],
            counter(u, 1.0, 300, 80, (0.0, 0), 1),
        );
        let u = self.start(1 << 32);
        self.push(
            Kind::Process,
            "process_network_transmit_bytes_total",
            &[],
            counter(u, 1.0, 9_000, 4_000, (0.0, 0), 1),
        );
    }

    fn scrape_durations(&mut self) {
        for (collector, base, spread) in [
            ("cpu", 150_000i64, 200_000u64),
            ("diskstats", 80_000, 120_000),
            ("filesystem", 300_000, 500_000),
            ("meminfo", 60_000, 60_000),
            ("netdev", 90_000, 100_000),
            ("loadavg", 20_000, 30_000),
            ("hwmon", 400_000, 800_000),
            ("time", 10_000, 10_000),
        ] {
            let m = Model::Noise {
                base,
                spread,
                scale: 1e9,
            };
            self.push(
                Kind::ScrapeDuration,
                "node_scrape_collector_duration_seconds",
                &[("collector", collector)],
                m,
            );
            self.push(
                Kind::Constant,
                "node_scrape_collector_success",
                &[("collector", collector)],
                Model::Constant(1.0),
            );
        }
    }

    fn constants(&mut self) {
        let l = [
            ("machine", "x86_64"),
            ("release", "6.1.0-13-amd64"),
            ("sysname", "Linux"),
        ];
        self.push(Kind::Constant, "node_uname_info", &l, Model::Constant(1.0));
        self.push(
            Kind::Constant,
            "node_exporter_build_info",
            &[("version", "1.8.2")],
            Model::Constant(1.0),
        );
        self.push(
            Kind::Constant,
            "go_info",
            &[("version", "go1.22.5")],
            Model::Constant(1.0),
        );
        let boot = (self.start_ms / 1000 - 3_000_000) as f64;
        self.push(
            Kind::Constant,
            "node_boot_time_seconds",
            &[],
            Model::Constant(boot),
        );
        self.push(
            Kind::Constant,
            "node_os_info",
            &[("id", "debian")],
            Model::Constant(1.0),
        );
        self.push(
            Kind::Constant,
            "node_textfile_scrape_error",
            &[],
            Model::Constant(0.0),
        );
    }
}
