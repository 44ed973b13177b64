"""A real Java program logs through Debian's log4j2 and logback; `logscope ingest` must read both.

One JVM run (Java's single-file source launcher) writes a log4j2 file with the common
`%d %-5p [%t] %c: %m%n` layout and logback's default console layout (`HH:mm:ss.SSS [thread] LEVEL
logger - msg`); exceptions with `Caused by:` chains must join their record.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from real_programs import assert_parsed, assert_times_from_lines, count_lines, ingest_all, now, program

# Under pytest-xdist (--dist loadgroup) the whole module runs in one worker: one JVM run (a module fixture)
# serves all its tests.
pytestmark = pytest.mark.xdist_group("java")

ROUNDS = 20
JARS = ["log4j-api", "log4j-core", "slf4j-api", "logback-classic", "logback-core"]
PROGRAM = """import org.apache.logging.log4j.LogManager;
import org.slf4j.LoggerFactory;

public class Main {
    static final org.apache.logging.log4j.Logger log4j = LogManager.getLogger("com.example.Orders");
    static final org.slf4j.Logger logback = LoggerFactory.getLogger("com.example.Billing");

    public static void main(String[] args) {
        for (int n = 0; n < %d; n++) {
            log4j.info("order {} accepted", n);
            logback.info("invoice {} sent", n);
            log4j.warn("stock low for item {}", n);
            logback.warn("retrying invoice {}", n);
            try {
                try { Integer.parseInt("x" + n); }
                catch (NumberFormatException e) { throw new IllegalStateException("bad config " + n, e); }
            } catch (IllegalStateException e) {
                log4j.error("order failed", e);
                logback.error("invoice failed", e);
            }
        }
    }
}
"""


@dataclass
class JavaRun:
    log4j: Path
    logback: Path
    db: Path
    start: dt.datetime
    end: dt.datetime


@pytest.fixture(scope="module")
def java_run(tmp_path_factory: pytest.TempPathFactory) -> JavaRun:
    java = program("java")
    program("javac")  # the single-file source launcher compiles with the JDK's compiler
    jars = [Path(f"/usr/share/java/{jar}.jar") for jar in JARS]
    if not all(jar.exists() for jar in jars):
        pytest.skip(
            "Debian's log4j2/logback jars are missing (.ci/run installs liblog4j2-java liblogback-java)"
        )
    root = tmp_path_factory.mktemp("java")
    (root / "Main.java").write_text(PROGRAM % ROUNDS)
    (root / "log4j2.xml").write_text(
        f'<Configuration status="warn"><Appenders><File name="file" fileName="{root}/log4j2.log">'
        '<PatternLayout pattern="%d %-5p [%t] %c: %m%n"/></File></Appenders>'
        '<Loggers><Root level="debug"><AppenderRef ref="file"/></Root></Loggers></Configuration>'
    )
    start = now()
    with (root / "logback.log").open("w") as console:
        ran = subprocess.run(
            [
                java,
                f"-Dlog4j.configurationFile={root}/log4j2.xml",
                "-cp",
                ":".join(map(str, jars)),
                "Main.java",
            ],
            cwd=root,
            stdout=console,
            stderr=subprocess.PIPE,
            text=True,
            env={"TZ": "UTC", "PATH": "/usr/bin:/bin"},
            timeout=180,
        )
    assert ran.returncode == 0, ran.stderr
    return JavaRun(root / "log4j2.log", root / "logback.log", root / "java.duckdb", start, now())


@pytest.mark.parametrize(("log_name", "expected_format"), [("log4j", "log4j"), ("logback", "logback")])
@pytest.mark.slow
def test_java_logging(log_name: str, expected_format: str, java_run: JavaRun) -> None:
    log = getattr(java_run, log_name)
    stored = ingest_all([log], java_run.db)[log]
    assert_parsed(stored, {expected_format}, share=1.0)
    header = re.compile(r"(?:\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d[.,]\d{3} ")
    assert len(stored.rows) == count_lines(log, lambda line: header.match(line) is not None) == 3 * ROUNDS
    assert_times_from_lines(stored.rows, java_run.start, java_run.end)
    assert stored.levels == {"info": ROUNDS, "warning": ROUNDS, "error": ROUNDS}
    failure = next(row for row in stored.rows if row[3] == "error")
    assert "\njava.lang.IllegalStateException: bad config 0\n\tat Main.main(" in failure[4]
    assert '\nCaused by: java.lang.NumberFormatException: For input string: "x0"\n' in failure[4]
