//! Building the Go programs of `tests/go/` with Debian's Go, without modules or network
//! (`GOPATH=/usr/share/gocode` for Debian's Go packages). Without `go` on the `PATH` a test
//! says it was skipped, unless `KAFKA_EVENTS_REQUIRE_GO` is set (as `.ci/run` does).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Builds `source` (a file or a package directory, relative to the repository root) into a
/// temporary file and returns its path; `None` without Go. `needs` names what the program needs
/// installed, for the messages.
pub fn build(source: &str, needs: &str) -> Option<PathBuf> {
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
        eprintln!("skipped: install {needs} to run these");
        return None;
    }
    let name = Path::new(source).file_stem().unwrap().to_string_lossy();
    let out = std::env::temp_dir().join(format!("kafka-events-{name}-{}", std::process::id()));
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(if source.ends_with(".go") {
            source.to_owned()
        } else {
            format!("./{source}")
        })
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOPROXY", "off")
        .output()
        .expect("running go build");
    assert!(
        built.status.success(),
        "go build failed (is {needs} installed?):\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    Some(out)
}

/// Runs a built program with `args` and `input` on its stdin, to its end.
pub fn run(program: &Path, args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write as _;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running the Go program");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}
