//! The README's walk-through, run as written: every ```` ```console ```` block of
//! `README.md` is a list of `$ ` commands, each followed by what it prints. This
//! test starts the real server binary on a free loopback port, runs the commands
//! in order in one bash session (so a variable set by one command is there for the
//! next) from a scratch directory that sees the repository's `data/` and `tests/`,
//! with `localhost:8080` pointed at that port, and compares what each prints with
//! the README's text:
//!
//! - whitespace is ignored (the README wraps long JSON lines);
//! - `…` in the README stands for anything (long arrays, fields left out);
//! - timestamps, `date:` and `etag:` header values and `age_seconds` are not compared;
//! - numbers are equal within 1e-6 relative (1e-9 absolute, for rounding residuals).
//!
//! A command that only reads (no `-X`, no redirection into a file) and does not
//! match yet is run again for up to a minute: background jobs finish on their
//! own time, as they would for a reader at a terminal. Blocks that cannot run here
//! (the container, a model file you bring) are ```` ```sh ```` blocks and are not
//! run. Needs bash, curl, jq and python3 (the README's tools); without them the test
//! prints `SKIPPED: …` and passes, and with `EXPLAIND_REQUIRE_README_TOOLS=1` (set
//! by CI) it fails instead. `EXPLAIND_README_TRANSCRIPT=file` writes what every
//! command printed, in full, to `file`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command as Process, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// One `$ ` command of a console block and the output the README shows for it.
#[derive(Debug, Clone, PartialEq)]
struct Step {
    /// Line of `README.md` (1-based) where the command starts.
    line: usize,
    /// The command, continuation lines included, without the `$ ` prompt.
    command: String,
    /// What the README says it prints.
    expected: String,
}

/// Whether bash reads `command` as complete (no open quote or trailing `\`).
fn complete(command: &str) -> bool {
    if command.trim_end().ends_with('\\') {
        return false;
    }
    Process::new("bash")
        .args(["-n", "-c", command])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The commands of every ```` ```console ```` block, in order.
fn steps(readme: &str) -> Vec<Step> {
    let mut out = Vec::new();
    let mut lines = readme.lines().enumerate().peekable();
    while let Some((_, line)) = lines.next() {
        if line.trim() != "```console" {
            continue;
        }
        let mut block: Vec<(usize, &str)> = Vec::new();
        for (i, l) in lines.by_ref() {
            if l.trim() == "```" {
                break;
            }
            block.push((i + 1, l));
        }
        let mut k = 0;
        while k < block.len() {
            let (line, text) = block[k];
            let Some(first) = text.strip_prefix("$ ") else {
                panic!("README.md:{line}: console output before any `$ ` command");
            };
            let mut command = first.to_string();
            k += 1;
            while !complete(&command) && k < block.len() {
                command.push('\n');
                command.push_str(block[k].1);
                k += 1;
            }
            let mut expected = Vec::new();
            while k < block.len() && !block[k].1.starts_with("$ ") {
                expected.push(block[k].1);
                k += 1;
            }
            let expected = expected.join("\n").trim().to_string();
            out.push(Step {
                line,
                command,
                expected,
            });
        }
    }
    out
}

/// A token of an output, for comparison.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A number, compared within a tolerance.
    Num(f64),
    /// A timestamp, header value or age: not compared.
    Volatile,
    /// `…` in the README: any run of tokens.
    Any,
    /// Any other character.
    Char(char),
}

/// Marks a masked value in the text before tokenizing.
const MASK: char = '\u{0}';

/// `text` as tokens: whitespace dropped, volatile values masked, numbers read.
/// `…` is a wildcard only in the README's text (`expected`).
fn tokens(text: &str, expected: bool) -> Vec<Tok> {
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let lower = l.trim_start().to_ascii_lowercase();
            match ["etag:", "date:"].iter().find(|h| lower.starts_with(*h)) {
                Some(h) => format!("{h}{MASK}"),
                None => l.to_string(),
            }
        })
        .collect();
    let compact: Vec<char> = lines
        .concat()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let chars = mask_age(&mask_timestamps(&compact));
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts_number =
            c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit));
        if starts_number {
            let end = number_end(&chars, i);
            let text: String = chars[i..end].iter().collect();
            out.push(text.parse().map_or(Tok::Char(c), Tok::Num));
            i = if matches!(out.last(), Some(Tok::Num(_))) {
                end
            } else {
                i + 1
            };
            continue;
        }
        out.push(match c {
            MASK => Tok::Volatile,
            '…' if expected => Tok::Any,
            c => Tok::Char(c),
        });
        i += 1;
    }
    out
}

/// The end of the number that starts at `i`: sign, digits, fraction, exponent.
fn number_end(chars: &[char], mut i: usize) -> usize {
    let digits = |mut i: usize| {
        while chars.get(i).is_some_and(char::is_ascii_digit) {
            i += 1;
        }
        i
    };
    if chars[i] == '-' {
        i += 1;
    }
    i = digits(i);
    if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
        i = digits(i + 1);
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        let mut j = i + 1;
        if matches!(chars.get(j), Some('+' | '-')) {
            j += 1;
        }
        if chars.get(j).is_some_and(char::is_ascii_digit) {
            i = digits(j);
        }
    }
    i
}

/// Replace `2026-11-29T11:44:55.352866200Z` timestamps by [`MASK`].
fn mask_timestamps(chars: &[char]) -> Vec<char> {
    const SHAPE: &str = "dddd-dd-ddTdd:dd:dd";
    let fits = |at: usize| {
        SHAPE.chars().enumerate().all(|(k, s)| {
            chars
                .get(at + k)
                .is_some_and(|&c| if s == 'd' { c.is_ascii_digit() } else { c == s })
        })
    };
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if fits(i) {
            i += SHAPE.len();
            while chars
                .get(i)
                .is_some_and(|c| c.is_ascii_digit() || *c == '.')
            {
                i += 1;
            }
            if chars.get(i) == Some(&'Z') {
                i += 1;
            }
            out.push(MASK);
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Replace the number after `"age_seconds":` by [`MASK`]: it is the time since a
/// job finished.
fn mask_age(chars: &[char]) -> Vec<char> {
    let key: Vec<char> = "\"age_seconds\":".chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i..].starts_with(&key) {
            out.extend_from_slice(&key);
            i += key.len();
            if chars
                .get(i)
                .is_some_and(|c| c.is_ascii_digit() || *c == '-')
            {
                i = number_end(chars, i);
                out.push(MASK);
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn same(e: &Tok, a: &Tok) -> bool {
    match (e, a) {
        (Tok::Num(x), Tok::Num(y)) => (x - y).abs() <= 1e-6 * x.abs().max(y.abs()) + 1e-9,
        (e, a) => e == a,
    }
}

/// Whether the actual tokens fit the README's, `…` matching any run.
fn fits(expected: &[Tok], actual: &[Tok]) -> bool {
    // ok[j]: expected[..i] matches actual[..j], row by row over i.
    let mut ok = vec![false; actual.len() + 1];
    ok[0] = true;
    for e in expected {
        let mut next = vec![false; actual.len() + 1];
        if *e == Tok::Any {
            let mut seen = false;
            for j in 0..=actual.len() {
                seen |= ok[j];
                next[j] = seen;
            }
        } else {
            for j in 0..actual.len() {
                next[j + 1] = ok[j] && same(e, &actual[j]);
            }
        }
        ok = next;
    }
    ok[actual.len()]
}

/// Whether `actual` is what the README shows as `expected`.
fn matches(expected: &str, actual: &str) -> bool {
    fits(&tokens(expected, true), &tokens(actual, false))
}

/// A program bash can find.
fn on_path(name: &str) -> bool {
    Process::new("bash")
        .args(["-c", &format!("command -v {name}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The server binary, killed (by its own process id) when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server() -> (Server, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Process::new(env!("CARGO_BIN_EXE_explaind"))
        .env_clear()
        .arg(format!("--addr=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server binary starts");
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the server did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, port)
}

/// One bash process that runs the commands in turn, as a terminal would.
struct Shell {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

const DONE: &str = "__readme_command_done__";

impl Shell {
    fn start(dir: &Path) -> Shell {
        let mut child = Process::new("bash")
            .args(["--noprofile", "--norc"])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("bash starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Shell {
            child,
            stdin,
            lines,
        }
    }

    /// Run `command`, its stderr with its stdout, and return what it printed.
    fn run(&mut self, command: &str) -> String {
        let script = format!("{{\n{command}\n}} < /dev/null 2>&1\nprintf '\\n{DONE}\\n'\n");
        self.stdin.write_all(script.as_bytes()).unwrap();
        self.stdin.flush().unwrap();
        let mut out = Vec::new();
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(300))
                .unwrap_or_else(|_| panic!("no end of `{command}` within 5 minutes"));
            if line == DONE {
                return out.join("\n").trim().to_string();
            }
            out.push(line);
        }
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether running `command` again changes nothing: no method other than GET, no
/// file written.
fn only_reads(command: &str) -> bool {
    !command.contains("-X ") && !command.contains('>')
}

/// Say loudly that the walk-through was not run (written to stderr itself: the test
/// harness captures `eprintln!` of passing tests).
fn skipped(why: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED: tests/readme.rs did not run the README's walk-through: {why}. ***\n"
    );
}

fn clip(text: &str) -> String {
    match text.char_indices().nth(3000) {
        Some((i, _)) => format!("{} …[clipped]", &text[..i]),
        None => text.to_string(),
    }
}

#[test]
fn the_readme_walk_through_runs_as_written() {
    let missing: Vec<&str> = ["bash", "curl", "jq", "python3"]
        .into_iter()
        .filter(|t| !on_path(t))
        .collect();
    if !missing.is_empty() {
        let why = format!("missing {}", missing.join(", "));
        if std::env::var("EXPLAIND_REQUIRE_README_TOOLS").as_deref() == Ok("1") {
            panic!("{why}, and EXPLAIND_REQUIRE_README_TOOLS=1");
        }
        skipped(&format!(
            "{why} (install them; EXPLAIND_REQUIRE_README_TOOLS=1 makes this a failure)"
        ));
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let steps = steps(&readme);
    assert!(steps.len() >= 30, "only {} commands found", steps.len());

    let scratch = tempfile::tempdir().unwrap();
    for dir in ["data", "tests"] {
        std::os::unix::fs::symlink(root.join(dir), scratch.path().join(dir)).unwrap();
    }
    let (_server, port) = start_server();
    let mut shell = Shell::start(scratch.path());
    let here = format!("127.0.0.1:{port}");
    let mut failures = Vec::new();
    let mut transcript = String::new();
    for step in &steps {
        let command = step.command.replace("localhost:8080", &here);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut actual = shell.run(&command);
        while !matches(&step.expected, &actual) && only_reads(&command) && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(250));
            actual = shell.run(&command);
        }
        transcript.push_str(&format!("$ {}\n{actual}\n", step.command));
        if !matches(&step.expected, &actual) {
            failures.push(format!(
                "README.md:{}: $ {}\n--- the README shows:\n{}\n--- it printed:\n{}\n",
                step.line,
                step.command,
                step.expected,
                clip(&actual)
            ));
        }
    }
    // What every command printed, in full, for whoever updates the README.
    if let Some(path) = std::env::var_os("EXPLAIND_README_TRANSCRIPT") {
        std::fs::write(path, &transcript).unwrap();
    }
    assert!(
        failures.is_empty(),
        "{} of {} README commands printed something else:\n\n{}",
        failures.len(),
        steps.len(),
        failures.join("\n")
    );
}

#[test]
fn outputs_compare_up_to_elisions_whitespace_timestamps_and_digits() {
    let shown = r#"{"a":[1.0, …],"at":"2026-11-29T11:44:55.352866200Z",
       "p":0.123456789,"r":-2.0e-11}"#;
    let printed = r#"{"a":[1.0,2.0,3.0],"at":"2027-01-01T00:00:00Z","p":0.12345679,"r":1e-17}"#;
    assert!(matches(shown, printed));
    assert!(!matches(shown, &printed.replace("0.12345679", "0.1235")));
    assert!(!matches(shown, &printed.replace("[1.0,", "[1.5,")));
    assert!(!matches(shown, &printed.replace("\"p\"", "\"q\"")));
    assert!(!matches(r#"{"n":546}"#, r#"{"n":547}"#));
    // `…` is a wildcard only in the README's text.
    assert!(!matches(r#"{"a":1}"#, r#"{"a":…}"#));
    assert!(matches(
        "HTTP/1.1 200 OK\netag: \"457eebaa-22\"\ndate: Fri, 04 Dec 2026 13:17:17 GMT",
        "HTTP/1.1 200 OK\r\netag: \"9abc-27\"\r\ndate: Sat, 05 Dec 2026 01:00:00 GMT\r"
    ));
    assert!(matches(
        r#"{"age_seconds":48.077}"#,
        r#"{"age_seconds":3.1}"#
    ));
}

#[test]
fn commands_run_on_over_continuation_lines_and_open_quotes() {
    let readme =
        "text\n```console\n$ curl -s x \\\n  -d '{\"a\":\n  1}'\n{\"ok\":1}\n$ echo hi\nhi\n```\n";
    assert_eq!(
        steps(readme),
        vec![
            Step {
                line: 3,
                command: "curl -s x \\\n  -d '{\"a\":\n  1}'".into(),
                expected: "{\"ok\":1}".into(),
            },
            Step {
                line: 7,
                command: "echo hi".into(),
                expected: "hi".into(),
            },
        ]
    );
}
