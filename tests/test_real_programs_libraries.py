"""Logging libraries of other languages write their logs; `logscope ingest` must read them.

A Go program logging through klog (Debian's golang-k8s-klog-dev), one logging through zap's console
encoder (Debian's golang-go.uber-zap-dev), a Rust program logging through
env_logger (Debian's librust-env-logger-dev, built offline) and a Node program logging through
winston (Debian's node-winston) run here; what they write is ingested with the real CLI.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from real_programs import (
    assert_parsed,
    assert_times_from_lines,
    count_lines,
    debian_python_module,
    go_program,
    ingest,
    now,
    program,
)

KLOG = Path("/usr/share/gocode/src/k8s.io/klog")
LOGR = Path("/usr/share/gocode/src/github.com/go-logr/logr")
ZAP = Path("/usr/share/gocode/src/go.uber.org")
DEBIAN_CRATES = Path("/usr/share/cargo/registry")
NODE_MODULES = Path("/usr/share/nodejs")
RECORDS = 40

KLOG_PROGRAM = """package main

import (
	"errors"
	"flag"

	"k8s.io/klog/v2"
)

func main() {
	klog.InitFlags(nil)
	flag.Parse()
	for n := 0; n < 40; n++ {
		switch n % 4 {
		case 0:
			klog.Infof("syncing pod %d", n)
		case 1:
			klog.InfoS("Pod status updated", "pod", "default/web-1", "n", n)
		case 2:
			klog.Warningf("image pull slow for pod %d", n)
		default:
			klog.ErrorS(errors.New("connection refused"), "Failed to contact API server", "n", n)
		}
	}
	klog.Flush()
}
"""

KLOG_MODULE = f"""module klogsample

go 1.19

require k8s.io/klog/v2 v2.80.1

require github.com/go-logr/logr v1.2.3 // indirect

replace k8s.io/klog/v2 => {KLOG}

replace github.com/go-logr/logr => {LOGR}
"""


def _need(path: Path, package: str) -> None:
    if not path.exists():
        pytest.skip(f"{path} is missing (.ci/run installs {package} with apt-get)")


@pytest.mark.slow
def test_klog_on_stderr(tmp_path: Path, db: Path) -> None:
    _need(KLOG, "golang-k8s-klog-dev")
    prog, env = go_program(tmp_path, KLOG_PROGRAM, KLOG_MODULE)
    log = tmp_path / "kubelet.log"
    start = now()
    with log.open("w") as stderr:
        subprocess.run([str(prog)], cwd=tmp_path, env=env, stderr=stderr, check=True)
    end = now()
    stored = ingest(log, db, "--tz", "UTC")
    assert_parsed(stored, {"glog"}, share=1.0)
    assert len(stored.rows) == count_lines(log, bool) == RECORDS
    assert_times_from_lines(stored.rows, start, end)
    written = {"I": "info", "W": "warning", "E": "error"}
    expected: dict[str, int] = {}
    for line in log.read_text().splitlines():
        expected[written[line[0]]] = expected.get(written[line[0]], 0) + 1
    assert dict(stored.levels) == expected == {"info": 20, "warning": 10, "error": 10}
    structured = [row for row in stored.rows if row[4].startswith('"Failed to contact API server"')]
    assert len(structured) == 10 and all('err="connection refused"' in row[4] for row in structured)


@pytest.mark.slow
def test_klog_log_file_with_its_header(tmp_path: Path, db: Path) -> None:
    _need(KLOG, "golang-k8s-klog-dev")
    prog, env = go_program(tmp_path, KLOG_PROGRAM, KLOG_MODULE)
    log = tmp_path / "kubelet.INFO"
    start = now()
    argv = [str(prog), "-logtostderr=false", f"-log_file={log}", "-alsologtostderr=false"]
    subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, check=True)
    end = now()
    stored = ingest(log, db, "--tz", "UTC")
    assert_parsed(stored, {"glog", "glog_header"}, share=1.0)
    assert stored.formats["glog_header"] == 1 and "\nLog line format: " in stored.of("glog_header")[0][4]
    # klog writes an error line twice to a single log file (once per severity it belongs to).
    assert len(stored.of("glog")) == count_lines(
        log, lambda line: re.match(r"[IWEF]\d{4} ", line) is not None
    )
    assert_times_from_lines(stored.rows, start, end)


ZAP_PROGRAM = """package main

import (
	"errors"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func main() {
	var logger *zap.Logger
	if os.Args[1] == "development" {
		logger, _ = zap.NewDevelopment()
	} else {
		config := zap.NewProductionConfig()
		config.Encoding = "console"
		config.Level = zap.NewAtomicLevelAt(zapcore.DebugLevel)
		config.Sampling = nil
		logger, _ = config.Build()
	}
	defer logger.Sync()
	for n := 0; n < 10; n++ {
		logger.Info("failed to fetch URL", zap.String("url", "http://example.com"), zap.Int("attempt", n))
		logger.Debug("cache miss", zap.Int("n", n))
		logger.Warn("slow response", zap.Duration("took", 1500000000))
		logger.Error("request failed", zap.Error(errors.New("connection refused")))
	}
}
"""

ZAP_MODULE = f"""module zapsample

go 1.19

require go.uber.org/zap v1.23.0

require (
	go.uber.org/atomic v1.10.0 // indirect
	go.uber.org/multierr v1.6.0 // indirect
)

replace go.uber.org/zap => {ZAP}/zap

replace go.uber.org/atomic => {ZAP}/atomic

replace go.uber.org/multierr => {ZAP}/multierr
"""
ZAP_LINE = re.compile(r"(?:\d{4}-\d\d-\d\dT\S+|\d+\.\d+e\+\d\d)\t[A-Za-z]+\t")


@pytest.mark.slow
@pytest.mark.parametrize("config", ["development", "production"])
def test_zap_console_encoder(config: str, tmp_path: Path, db: Path) -> None:
    go = program("go")
    _need(ZAP / "zap", "golang-go.uber-zap-dev")
    (tmp_path / "main.go").write_text(ZAP_PROGRAM)
    (tmp_path / "go.mod").write_text(ZAP_MODULE)
    env = {"TZ": "UTC", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GOCACHE": str(tmp_path / "cache")}
    env |= {"GOPROXY": "off", "GOFLAGS": "-mod=mod"}
    built = subprocess.run(
        [go, "build", "-o", "prog", "."], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr
    log = tmp_path / f"{config}.log"
    start = now()
    with log.open("w") as stderr:
        subprocess.run([str(tmp_path / "prog"), config], cwd=tmp_path, env=env, stderr=stderr, check=True)
    end = now()
    stored = ingest(log, db)
    assert_parsed(stored, {"zap_console"}, share=1.0)
    assert len(stored.rows) == count_lines(log, lambda line: ZAP_LINE.match(line) is not None) == RECORDS
    assert_times_from_lines(stored.rows, start, end)
    assert dict(stored.levels) == {"info": 10, "debug": 10, "warning": 10, "error": 10}
    failed = next(row for row in stored.rows if row[3] == "error")
    assert failed[4].startswith("request failed\nmain.main\n\t") and "runtime.main" in failed[4]
    assert json.loads(json.loads(failed[5])["context"]) == {"error": "connection refused"}


RUST_PROGRAM = """use log::{debug, error, info, warn};

mod db {
    pub fn connect(n: u32) {
        log::warn!("connection pool at {}% capacity", 50 + n);
    }
}

fn main() {
    env_logger::init();
    for n in 0..10 {
        info!("request {} served", n);
        db::connect(n);
        debug!("cache miss for key user:{}", n);
        error!("request failed: timeout after {}s\\nretry scheduled", n);
    }
}
"""

CARGO_TOML = """[package]
name = "envlogger_sample"
version = "0.1.0"
edition = "2018"

[dependencies]
log = "0.4"
env_logger = { version = "0.9", default-features = false, features = ["humantime"] }
"""

CARGO_CONFIG = f"""[source.crates-io]
replace-with = "debian"

[source.debian]
directory = "{DEBIAN_CRATES}"

[net]
offline = true
"""


@pytest.mark.slow
def test_rust_env_logger(tmp_path: Path, db: Path) -> None:
    cargo = "/usr/bin/cargo"  # Debian's, with its rustc (not a rustup shim elsewhere on PATH)
    _need(Path(cargo), "cargo")
    if not any(DEBIAN_CRATES.glob("env_logger-*")) or not any(DEBIAN_CRATES.glob("humantime-*")):
        pytest.skip(".ci/run installs librust-env-logger-dev and librust-humantime-dev with apt-get")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.rs").write_text(RUST_PROGRAM)
    (tmp_path / "Cargo.toml").write_text(CARGO_TOML)
    (tmp_path / ".cargo").mkdir()
    (tmp_path / ".cargo" / "config.toml").write_text(CARGO_CONFIG)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CARGO_HOME": str(tmp_path / "cargo-home")}
    built = subprocess.run([cargo, "build", "-q"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    log = tmp_path / "app.log"
    start = now()
    with log.open("w") as stderr:
        run_env = {**env, "RUST_LOG": "debug"}
        subprocess.run(
            [str(tmp_path / "target/debug/envlogger_sample")], env=run_env, stderr=stderr, check=True
        )
    end = now()
    stored = ingest(log, db)
    assert_parsed(stored, {"env_logger"}, share=1.0)
    assert len(stored.rows) == count_lines(log, lambda line: line.startswith("[")) == RECORDS
    assert_times_from_lines(stored.rows, start, end)
    assert dict(stored.levels) == {"info": 10, "warning": 10, "debug": 10, "error": 10}
    failed = stored.of("env_logger")[3]
    # env_logger indents a message's later lines; they join the record.
    assert failed[4] == "request failed: timeout after 0s\n    retry scheduled"
    assert '"target":"envlogger_sample::db"' in stored.rows[1][5]


WINSTON_PROGRAM = """const winston = require('winston');
const json = winston.createLogger({ level: 'debug',
  format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
  transports: [new winston.transports.File({ filename: 'json.log' })] });
const simple = winston.createLogger({ level: 'debug', format: winston.format.simple(),
  transports: [new winston.transports.File({ filename: 'simple.log' })] });
for (const logger of [json, simple]) {
  for (let n = 0; n < 10; n++) {
    logger.info('server listening', { port: 8080 + n });
    logger.warn('slow request');
    logger.error('request failed', { status: 500 });
    logger.debug('cache miss');
  }
}
"""


@pytest.mark.slow
def test_node_winston_json_and_simple(tmp_path: Path, db: Path) -> None:
    node = program("node")
    _need(NODE_MODULES / "winston", "node-winston")
    (tmp_path / "app.js").write_text(WINSTON_PROGRAM)
    start = now()
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
    subprocess.run([node, "app.js"], cwd=tmp_path, env=env, check=True, capture_output=True)
    end = now()
    expected = {"info": 10, "warning": 10, "error": 10, "debug": 10}
    stamped = ingest(tmp_path / "json.log", db)
    assert_parsed(stamped, {"winston"}, share=1.0)
    assert len(stamped.rows) == RECORDS
    assert_times_from_lines(stamped.rows, start, end)
    assert dict(stamped.levels) == expected
    assert '"port":8080' in stamped.rows[0][5]
    simple = ingest(tmp_path / "simple.log", db)
    assert_parsed(simple, {"winston_simple"}, share=1.0)
    assert len(simple.rows) == RECORDS and dict(simple.levels) == expected
    assert simple.rows[0][4] == 'server listening {"port":8080}'


JSON_LOGGER_PROGRAM = """import logging
from pythonjsonlogger import jsonlogger

handler = logging.FileHandler("app.log")
handler.setFormatter(jsonlogger.JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
log = logging.getLogger("shop.orders")
log.addHandler(handler)
log.setLevel(logging.DEBUG)
for n in range(10):
    log.info("order placed", extra={"order_id": n, "amount": 9.5})
    log.warning("payment slow")
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("payment failed")
    log.debug("cache miss")
"""


def test_python_json_logger(tmp_path: Path, db: Path) -> None:
    python = debian_python_module("pythonjsonlogger")
    (tmp_path / "app.py").write_text(JSON_LOGGER_PROGRAM)
    start = now()
    subprocess.run([python, "app.py"], cwd=tmp_path, env={**os.environ, "TZ": "UTC"}, check=True)
    end = now()
    stored = ingest(tmp_path / "app.log", db, "--tz", "UTC")
    assert_parsed(stored, {"python_json_logger"}, share=1.0)
    assert len(stored.rows) == RECORDS
    assert_times_from_lines(stored.rows, start, end)
    assert dict(stored.levels) == {"info": 10, "warning": 10, "error": 10, "debug": 10}
    failed = next(row for row in stored.rows if row[3] == "error")
    assert "ZeroDivisionError: division by zero" in failed[5]  # exc_info kept in fields
