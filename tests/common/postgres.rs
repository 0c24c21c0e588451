//! A throwaway PostgreSQL server for the tests of the PostgreSQL store
//! and of multi-host scans: `initdb` in a temporary folder, `postgres` on a
//! free port of 127.0.0.1 with its socket in that folder, one database,
//! stopped and removed on drop.
//!
//! PostgreSQL refuses to run as root, and CI runs as root: the server is
//! then run as the unprivileged `postgres` user (Debian's package creates
//! it), else as `nobody`. There is no silent skip: without `initdb` the
//! test fails and says what to install.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

pub struct Postgres {
    /// Data folder, socket and log; removed on drop.
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// The user the server runs as, when the tests run as root.
    run_as: Option<(u32, u32)>,
    pub port: u16,
    /// `postgres://labelscan@127.0.0.1:PORT/labelscan`.
    pub url: String,
}

/// The superuser and database of the throwaway server.
const USER: &str = "labelscan";

impl Postgres {
    /// Starts a server that does not wait for a disk flush on commit
    /// (`fsync=off`): the tests' data is thrown away anyway.
    pub fn start() -> Postgres {
        Postgres::start_with(&["-c", "fsync=off"])
    }

    /// Starts a server with the default durability (every commit flushed),
    /// for measurements that compare with SQLite's `synchronous = FULL`.
    pub fn start_durable() -> Postgres {
        Postgres::start_with(&[])
    }

    fn start_with(settings: &[&str]) -> Postgres {
        let bin = server_bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("labelscan-pg-")
            .tempdir()
            .expect("a temporary folder for PostgreSQL");
        let run_as = unprivileged_user();
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .expect("hand the temporary folder to the server's user");
        }
        let mut server = Postgres {
            dir,
            bin,
            run_as,
            port: 0,
            url: String::new(),
        };
        server.init();
        // A free port can be taken by someone else between our probe and
        // the server's bind: try a few.
        for _ in 0..5 {
            server.port = free_port();
            if server.try_start(settings) {
                server.url = format!("postgres://{USER}@127.0.0.1:{}/{USER}", server.port);
                server.create_database();
                return server;
            }
        }
        panic!(
            "PostgreSQL did not start; its log:\n{}",
            std::fs::read_to_string(server.log()).unwrap_or_default()
        );
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// A command of the server's bin folder, run as the server's user.
    fn tool(&self, name: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(name));
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        // A HOME the server's user cannot read makes some tools complain.
        cmd.env("HOME", self.dir.path())
            .current_dir(self.dir.path());
        cmd
    }

    fn init(&self) {
        let o = self
            .tool("initdb")
            .arg("-D")
            .arg(self.data())
            // The C locale: any machine has it (a LANG naming a locale
            // not installed fails initdb), and paths compare as bytes.
            .args([
                "-A",
                "trust",
                "-U",
                USER,
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .expect("initdb runs");
        assert!(
            o.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    fn try_start(&self, settings: &[&str]) -> bool {
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        for s in settings {
            options.push(' ');
            options.push_str(s);
        }
        self.tool("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.log())
            .args(["-o", &options, "-w", "-t", "60", "start"])
            .output()
            .expect("pg_ctl runs")
            .status
            .success()
    }

    fn create_database(&self) {
        let o = self
            .tool("createdb")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                USER,
                USER,
            ])
            .output()
            .expect("createdb runs");
        assert!(
            o.status.success(),
            "createdb failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Runs SQL through `psql` and returns its unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        self.psql_at(&self.url, sql)
    }

    /// Runs SQL through `psql` in the database at `url`.
    pub fn psql_at(&self, url: &str, sql: &str) -> String {
        let o = self
            .tool("psql")
            .args([
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                url,
                "-c",
                sql,
            ])
            .output()
            .expect("psql runs");
        assert!(
            o.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    /// Starts `psql` running `sql` and returns at once, for a session that
    /// holds a lock while the test goes on (end it with
    /// `pg_terminate_backend`).
    pub fn psql_in_background(&self, sql: &str) -> std::process::Child {
        self.tool("psql")
            .args(["-X", "-q", "-d", &self.url, "-c", sql])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("psql runs")
    }

    /// A URL to a new, empty database of this server.
    pub fn new_database(&self, name: &str) -> String {
        self.psql(&format!("CREATE DATABASE {name}"));
        format!("postgres://{USER}@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// The bin folder of PostgreSQL's tools: `initdb`'s on PATH, else the newest
/// Debian's `/usr/lib/postgresql/VERSION/bin`.
fn server_bin_dir() -> PathBuf {
    // `initdb` on PATH may be a link into Debian's folder, which also
    // holds `createdb` and `psql`: take the folder of the file it resolves to.
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("initdb"))
            .find(|initdb| initdb.is_file())
    });
    if let Some(dir) = on_path
        .and_then(|initdb| initdb.canonicalize().ok())
        .and_then(|initdb| initdb.parent().map(PathBuf::from))
    {
        return dir;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL's initdb was not found (on PATH or in /usr/lib/postgresql/*/bin): \
             these tests start a throwaway PostgreSQL server; install Debian's `postgresql` \
             package (apt-get install postgresql)"
        ),
    }
}

/// The user to run the server as when we are root: `postgres`, else `nobody`.
fn unprivileged_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let ids = |name: &str| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() > 3 && fields[0] == name)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                .flatten()
        })
    };
    Some(
        ids("postgres")
            .or_else(|| ids("nobody"))
            .expect("an unprivileged user (postgres or nobody) to run PostgreSQL as"),
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
