//! Go programs under `tests/go`, built with Debian's Go and Google's uuid package (no network,
//! no modules). Without `go` on the `PATH` a test that needs one says it was skipped, unless
//! `KAFKA_EVENTS_REQUIRE_GO` is set (as `.ci/run` does).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Builds the Go program at `source` (a file or a package directory, relative to the
/// repository root) into a temporary file, or returns `None` (skipped) without Go.
pub fn build(source: &str) -> Option<PathBuf> {
    let has_go = Command::new("go")
        .arg("version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_go {
        assert!(
            std::env::var_os("KAFKA_EVENTS_REQUIRE_GO").is_none(),
            "KAFKA_EVENTS_REQUIRE_GO is set but `go` is not on the PATH"
        );
        eprintln!("skipped: install Go and golang-github-google-uuid-dev to run these");
        return None;
    }
    let name = Path::new(source).file_stem().unwrap().to_string_lossy();
    let out = std::env::temp_dir().join(format!("kafka-events-{name}-{}", std::process::id()));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(format!("./{source}"))
        .current_dir(root)
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOPROXY", "off")
        .output()
        .expect("running go build");
    assert!(
        built.status.success(),
        "go build failed (is golang-github-google-uuid-dev installed?):\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    Some(out)
}

/// Runs `program` with `args` and `input` on stdin; returns its exit code and stdout. Exit
/// code 2 (a usage or input error of the program itself) fails the test with its stderr.
pub fn run(program: &Path, args: &[&str], input: &str) -> (i32, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running the Go program");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.code() != Some(2),
        "the Go program failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
    )
}
