//! A summary of CRIU's `dump.log`: version, warnings, errors, outcome.

/// Most warning and error lines a [`DumpLog`] keeps (the counts stay exact).
pub const MAX_LOG_LINES: usize = 10_000;

/// A summary of CRIU's `dump.log`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DumpLog {
    /// The CRIU version from the `Version: ` line, e.g. `4.2 (gitid 0)`.
    pub version: Option<String>,
    /// `Warn` lines, at most [`MAX_LOG_LINES`].
    pub warnings: Vec<LogLine>,
    /// `Error` lines, at most [`MAX_LOG_LINES`]. CRIU logs some errors it
    /// recovers from, so errors do not mean the dump failed; see [`finished`](Self::finished).
    pub errors: Vec<LogLine>,
    /// All `Warn` lines, including those not kept.
    pub warning_count: usize,
    /// All `Error` lines, including those not kept.
    pub error_count: usize,
    /// `Some(true)` if the log says `Dumping finished successfully`,
    /// `Some(false)` if it says `Dumping FAILED.`, `None` if neither (a
    /// truncated log, or not a dump log).
    pub finished: Option<bool>,
    /// Number of lines.
    pub total_lines: usize,
}

/// One line of a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// 1-based line number.
    pub number: usize,
    /// The whole line, timestamp included; invalid UTF-8 replaced.
    pub text: String,
}

/// Summarises CRIU's `dump.log`: its version, its warnings and errors with
/// line numbers, and whether the dump finished.
///
/// ```
/// use criu_images::model::container::dump_log_summary;
///
/// let log = b"(00.000046) Version: 4.2 (gitid 0)\n\
///             (00.051176) Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE\n\
///             (00.140009) Dumping finished successfully\n";
/// let summary = dump_log_summary(log);
/// assert_eq!(summary.version.as_deref(), Some("4.2 (gitid 0)"));
/// assert_eq!(summary.errors[0].number, 2);
/// assert_eq!(summary.finished, Some(true));
/// assert_eq!(summary.total_lines, 3);
/// ```
pub fn dump_log_summary(bytes: &[u8]) -> DumpLog {
    let mut log = DumpLog::default();
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if bytes.is_empty() {
        return log;
    }
    for (index, raw) in body.split(|&b| b == b'\n').enumerate() {
        log.total_lines += 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = String::from_utf8_lossy(raw);
        let message = log_message(&line);
        let kept = |list: &mut Vec<LogLine>| {
            if list.len() < MAX_LOG_LINES {
                list.push(LogLine { number: index + 1, text: line.clone().into_owned() });
            }
        };
        if message.starts_with("Error (") {
            log.error_count += 1;
            kept(&mut log.errors);
        } else if message.starts_with("Warn  (") || message.starts_with("Warn (") {
            log.warning_count += 1;
            kept(&mut log.warnings);
        } else if let Some(version) = message.strip_prefix("Version: ") {
            log.version.get_or_insert_with(|| version.trim_end().to_string());
        } else if message.starts_with("Dumping finished successfully") {
            log.finished = Some(true);
        } else if message.starts_with("Dumping FAILED") {
            log.finished = Some(false);
        }
    }
    log
}

/// The message of a CRIU log line, after the `(SS.UUUUUU)` timestamp and
/// the optional `PID: ` of `--log-pid`.
fn log_message(line: &str) -> &str {
    let mut rest = line;
    if let Some(after) = rest.strip_prefix('(') {
        if let Some((stamp, tail)) = after.split_once(')') {
            if stamp.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                rest = tail;
            }
        }
    }
    rest = rest.trim_start();
    if let Some((pid, tail)) = rest.split_once(':') {
        if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) {
            rest = tail.trim_start();
        }
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_log_lines() {
        let log = b"(00.000000) Unable to get $HOME directory\n\
            (00.000046) Version: 4.2 (gitid 0)\n\
            (00.089998) Warn  (compel/arch/x86/src/lib/infect.c:418): Will restore 25197 with interrupted system call\r\n\
            (00.1) 1234: Error (criu/cr-dump.c:1): something\n\
            Warn (plain line without timestamp)\n\
            (00.2) Dumping FAILED.";
        let summary = dump_log_summary(log);
        assert_eq!(summary.version.as_deref(), Some("4.2 (gitid 0)"));
        assert_eq!(summary.total_lines, 6);
        assert_eq!(summary.warnings.iter().map(|l| l.number).collect::<Vec<_>>(), [3, 5]);
        assert!(summary.warnings[0].text.ends_with("interrupted system call"));
        assert_eq!((summary.errors.len(), summary.errors[0].number), (1, 4));
        assert_eq!((summary.warning_count, summary.error_count), (2, 1));
        assert_eq!(summary.finished, Some(false));
    }

    #[test]
    fn dump_log_edge_cases() {
        assert_eq!(dump_log_summary(b""), DumpLog::default());
        assert_eq!(dump_log_summary(b"\n").total_lines, 1);
        let summary = dump_log_summary(b"(00.1) Error (\xff\xfe): bad bytes");
        assert_eq!(summary.errors[0].text, "(00.1) Error (\u{fffd}\u{fffd}): bad bytes");
        let many = "(0.1) Error (x): y\n".repeat(MAX_LOG_LINES + 5);
        let summary = dump_log_summary(many.as_bytes());
        assert_eq!((summary.errors.len(), summary.error_count), (MAX_LOG_LINES, MAX_LOG_LINES + 5));
    }
}
