//! Benchmark: fetching the infra repo, for a synthetic repo with a long
//! history, served by a real `git daemon` on 127.0.0.1: drift-check's source
//! (gix, depth 1, tree written out), gix shallow and full bare clones, and
//! `git clone --depth 1` / a full `git clone` of the same repo, side by side;
//! then reading a commit N commits back (drift-check deepens the shallow clone).
//!
//! Run with `bench/clone` (`cargo bench --bench clone`; needs `git`). Sizes: DRIFT_CHECK_BENCH_COMMITS
//! (2000), DRIFT_CHECK_BENCH_FILES (10000), DRIFT_CHECK_BENCH_RUNS (3). The
//! generated repo is kept in DRIFT_CHECK_BENCH_DIR (default: a directory
//! under the system's temp dir) and reused when its sizes match.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use drift_check::source::{Location, Options};

fn main() {
    let commits = env_number("DRIFT_CHECK_BENCH_COMMITS", 2000);
    let files = env_number("DRIFT_CHECK_BENCH_FILES", 10_000);
    let runs = env_number("DRIFT_CHECK_BENCH_RUNS", 3).max(1);
    let base = std::env::var("DRIFT_CHECK_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir().join("drift-check-bench-clone"));
    let served = base.join("served");
    let name = format!("infra-{commits}x{files}.git");
    let repo = served.join(&name);
    if !repo.join("HEAD").is_file() {
        let started = Instant::now();
        generate(&repo, commits, files);
        eprintln!(
            "generated {name}: {commits} commits, {files} files in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let back = git_out(&repo, &["rev-parse", "main~50"]);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let daemon = Daemon::start(&served, port);
    let url = format!("git://127.0.0.1:{port}/{name}");

    let work = tempfile::tempdir_in(&base).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut rows: Vec<(String, Vec<Duration>, u64)> = Vec::new();
    let mut measure = |label: &str, f: &mut dyn FnMut(&Path) -> PathBuf| {
        let mut times = Vec::new();
        let mut bytes = 0;
        for run in 0..runs {
            let dir = work
                .path()
                .join(format!("{}-{run}", label.replace(' ', "_")));
            let started = Instant::now();
            let objects = f(&dir);
            times.push(started.elapsed());
            bytes = dir_size(&objects);
            let _ = std::fs::remove_dir_all(&dir);
        }
        times.sort();
        eprintln!("{label}: {:?}", times);
        rows.push((label.to_string(), times, bytes));
    };

    measure(
        "drift-check source (gix, depth 1, tree written)",
        &mut |dir| {
            let options = Options {
                cache_dir: Some(dir.to_path_buf()),
                ..Options::new(Location::Url(url.clone()))
            };
            let repo = runtime
                .block_on(drift_check::source::open(&options, |_| None))
                .expect("fetched");
            drop(repo);
            only_child(&dir.join("repos")).join("objects")
        },
    );
    measure(
        "drift-check source + a commit 50 back (deepened)",
        &mut |dir| {
            let options = Options {
                cache_dir: Some(dir.to_path_buf()),
                ..Options::new(Location::Url(url.clone()))
            };
            let mut repo = runtime
                .block_on(drift_check::source::open(&options, |_| None))
                .expect("fetched");
            runtime
                .block_on(repo.at(&back))
                .expect("an older commit")
                .expect("read");
            only_child(&dir.join("repos")).join("objects")
        },
    );
    measure("gix bare clone, depth 1", &mut |dir| {
        gix_clone(&url, dir, true);
        dir.join("objects")
    });
    measure("gix bare clone, full", &mut |dir| {
        gix_clone(&url, dir, false);
        dir.join("objects")
    });
    measure("git clone --bare --depth 1", &mut |dir| {
        git_run(&[
            "clone",
            "-q",
            "--bare",
            "--depth",
            "1",
            &url,
            dir.to_str().unwrap(),
        ]);
        dir.join("objects")
    });
    measure("git clone --depth 1 (with checkout)", &mut |dir| {
        git_run(&["clone", "-q", "--depth", "1", &url, dir.to_str().unwrap()]);
        dir.join(".git/objects")
    });
    measure("git clone --bare, full", &mut |dir| {
        git_run(&["clone", "-q", "--bare", &url, dir.to_str().unwrap()]);
        dir.join("objects")
    });
    drop(daemon);

    println!(
        "\nClone of a synthetic repo over git:// (git daemon, 127.0.0.1): {commits} commits, {files} files; median of {runs} runs\n"
    );
    println!("| what | time (median) | min–max | objects on disk |");
    println!("|---|---|---|---|");
    for (label, times, bytes) in &rows {
        println!(
            "| {label} | {:.2} s | {:.2}–{:.2} s | {:.1} MiB |",
            times[times.len() / 2].as_secs_f64(),
            times[0].as_secs_f64(),
            times[times.len() - 1].as_secs_f64(),
            *bytes as f64 / (1024.0 * 1024.0)
        );
    }
}

fn gix_clone(url: &str, dir: &Path, shallow: bool) {
    let mut prepare = gix::prepare_clone_bare(url, dir).expect("prepared");
    if shallow {
        prepare = prepare.with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(
            1.try_into().unwrap(),
        ));
    }
    prepare
        .fetch_only(gix::progress::Discard, &AtomicBool::new(false))
        .expect("cloned");
}

/// A bare repo made with `git fast-import`: the first commit adds `files`
/// manifests; each later commit changes 5 of them.
fn generate(repo: &Path, commits: usize, files: usize) {
    let _ = std::fs::remove_dir_all(repo);
    std::fs::create_dir_all(repo).unwrap();
    git_run(&["init", "-q", "--bare", "-b", "main", repo.to_str().unwrap()]);
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(repo)
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import");
    let mut out = std::io::BufWriter::new(child.stdin.take().unwrap());
    let manifest = |i: usize, version: usize| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{i}\n  namespace: team-{}\n  labels:\n    app.kubernetes.io/managed-by: flux\ndata:\n  version: \"{version}\"\n  replicas: \"{}\"\n  endpoint: https://app-{i}.team-{}.svc.cluster.local:{}/api/v{version}\n",
            i / 100,
            (i * 7 + version) % 9 + 1,
            i / 100,
            8000 + (i * 13 + version) % 1000
        )
    };
    let path = |i: usize| format!("infra/k8s/team-{}/app-{i}.yaml", i / 100);
    let data = |out: &mut dyn Write, text: &str| {
        write!(out, "data {}\n{text}\n", text.len()).unwrap();
    };
    for c in 0..commits {
        writeln!(out, "commit refs/heads/main").unwrap();
        writeln!(out, "mark :{}", c + 1).unwrap();
        writeln!(
            out,
            "committer Bench <bench@example.com> {} +0000",
            1_700_000_000 + c * 600
        )
        .unwrap();
        data(&mut out, &format!("change {c}"));
        if c > 0 {
            writeln!(out, "from :{c}").unwrap();
        }
        if c == 0 {
            for i in 0..files {
                writeln!(out, "M 100644 inline {}", path(i)).unwrap();
                data(&mut out, &manifest(i, 0));
            }
        } else {
            for k in 0..5 {
                let i = (c * 5 + k) * 7919 % files;
                writeln!(out, "M 100644 inline {}", path(i)).unwrap();
                data(&mut out, &manifest(i, c));
            }
        }
        writeln!(out).unwrap();
    }
    drop(out);
    assert!(child.wait().unwrap().success(), "git fast-import failed");
    git_run(&["-C", repo.to_str().unwrap(), "gc", "-q"]);
}

struct Daemon(Child);

impl Daemon {
    fn start(root: &Path, port: u16) -> Self {
        // git-daemon itself: `git daemon` forks it, and killing `git` would leave it running.
        let exec_path = git_out(Path::new("."), &["--exec-path"]);
        let child = Command::new(Path::new(&exec_path).join("git-daemon"))
            .stdout(Stdio::null())
            .args(["--listen=127.0.0.1", "--export-all", "--reuseaddr"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", root.display()))
            .arg(root)
            .stderr(Stdio::null())
            .spawn()
            .expect("git daemon");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self(child);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        panic!("git daemon did not start on port {port}");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn git_run(args: &[&str]) {
    let status = Command::new("git").args(args).status().expect("git runs");
    assert!(status.success(), "git {args:?} failed");
}

fn git_out(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .expect("git runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn only_child(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .next()
        .expect("one repository")
        .unwrap()
        .path()
}

fn dir_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_dir() {
        std::fs::read_dir(path)
            .unwrap()
            .map(|e| dir_size(&e.unwrap().path()))
            .sum()
    } else {
        meta.len()
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
