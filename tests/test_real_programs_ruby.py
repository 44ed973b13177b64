"""A Rails application writes its production and development logs; `logscope ingest` must read them.

A one-file Rails 6.1 app (Debian's ruby-railties and ruby-actionpack) logs as the generated
config/environments/production.rb does: Ruby's ::Logger::Formatter wrapped in
ActiveSupport::TaggedLogging with the request id as a tag. Requests go through Rack::MockRequest
(no server, no port): a page, an exception and a routing error, ten times each. The same app
with the development defaults (SimpleFormatter: bare messages, no time or level on a line) writes
development.log, read one record per request.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from real_programs import assert_parsed, assert_times_from_lines, count_lines, ingest, now, program

RAILS_APP = """
require "action_controller/railtie"

class LogDemo < Rails::Application
  config.root = __dir__
  config.eager_load = false
  config.log_level = :info
  config.log_tags = [:request_id]
  config.secret_key_base = "x" * 64
  config.hosts.clear
  # as the generated config/environments/production.rb does (RAILS_LOG_TO_STDOUT), to a file
  config.log_formatter = ::Logger::Formatter.new
  logger = ActiveSupport::Logger.new(ARGV[0])
  logger.formatter = config.log_formatter
  config.logger = ActiveSupport::TaggedLogging.new(logger)
  routes.append do
    get "/" => "pages#index"
    get "/boom" => "pages#boom"
  end
end

class PagesController < ActionController::Base
  def index
    logger.warn("slow lookup for user 17")
    render plain: "ok"
  end

  def boom
    raise "payment gateway timed out"
  end
end

LogDemo.initialize!
app = Rack::MockRequest.new(Rails.application)
10.times do
  %w[/ /boom /missing].each { |path| app.get(path, "REMOTE_ADDR" => "127.0.0.1") }
end
"""

LOGGER_LINE = re.compile(r"^[DIWEFA], \[\S+ #\d+\] +(\w+) -- ")


def run_rails_app(tmp_path: Path, source: str, environment: str) -> tuple[Path, dt.datetime, dt.datetime]:
    """Run the one-file Rails app `source` in `environment` (UTC), which logs to
    ENVIRONMENT.log: the log and the times before and after (skips without Rails)."""
    ruby = program("ruby")
    if subprocess.run([ruby, "-e", 'require "action_controller/railtie"'], capture_output=True).returncode:
        pytest.skip("Rails is not installed (.ci/run installs ruby-railties)")
    (tmp_path / "app.rb").write_text(source)
    log = tmp_path / f"{environment}.log"
    start = now()
    env = {"TZ": "UTC", "RAILS_ENV": environment, "PATH": "/usr/bin:/bin"}
    subprocess.run([ruby, "app.rb", str(log)], cwd=tmp_path, env=env, check=True, capture_output=True)
    return log, start, now()


@pytest.mark.slow
def test_rails_production_log(tmp_path: Path, db: Path) -> None:
    log, start, end = run_rails_app(tmp_path, RAILS_APP, "production")
    stored = ingest(log, db, "--tz", "UTC")
    assert_parsed(stored, {"ruby_logger"}, share=1.0)
    written = Counter(m[1] for m in map(LOGGER_LINE.match, log.read_text().splitlines()) if m)
    # the program's own records: one per Logger line, plus the `# Logfile created` header
    assert len(stored.rows) == sum(written.values()) + 1 == count_lines(log, LOGGER_LINE.match) + 1
    assert_times_from_lines(stored.rows, start, end)
    assert written["FATAL"] == 20 and written["WARN"] == 10
    assert stored.levels == {None: 1, "info": written["INFO"], "warning": 10, "fatal": 20}
    boom = next(row for row in stored.rows if row[3] == "fatal" and "RuntimeError" in row[4])
    assert "RuntimeError (payment gateway timed out):" in boom[4] and "in `boom'" in boom[4]
    tags = json.loads(boom[5])["tags"]
    assert re.fullmatch(r"\[[0-9a-f-]{36}\]", tags)
    assert all(tags in line for line in boom[4].splitlines()[1:] if line)


RAILS_DEVELOPMENT_APP = """
require "action_controller/railtie"

class LogDemo < Rails::Application
  config.root = __dir__
  config.eager_load = false
  config.secret_key_base = "x" * 64
  config.hosts.clear
  config.consider_all_requests_local = true
  # the development defaults (SimpleFormatter, no tags), to a file of the test's choosing
  config.paths["log"] = ARGV[0]
  routes.append do
    get "/" => "pages#index"
    get "/boom" => "pages#boom"
    get "/gone" => "pages#gone"
  end
end

class PagesController < ActionController::Base
  def index
    logger.warn("slow lookup for user 17")
    render plain: "ok"
  end

  def boom
    raise "payment gateway timed out"
  end

  def gone
    head :not_found
  end
end

LogDemo.initialize!
app = Rack::MockRequest.new(Rails.application)
10.times do
  %w[/ /boom /missing /gone].each { |path| app.get(path, "REMOTE_ADDR" => "127.0.0.1") }
end
"""


@pytest.mark.slow
def test_rails_development_log(tmp_path: Path, db: Path) -> None:
    """One record per request (the only line with a time is its `Started`), level from its status."""
    log, start, end = run_rails_app(tmp_path, RAILS_DEVELOPMENT_APP, "development")
    stored = ingest(log, db, "--tz", "UTC")
    assert_parsed(stored, {"rails_development"}, share=1.0)
    assert len(stored.rows) == count_lines(log, lambda line: line.startswith("Started ")) == 40
    assert_times_from_lines(stored.rows, start, end)
    # /boom (Completed 500 and its RuntimeError), /missing (the routing error only): error; /gone: 404
    assert stored.levels == {"info": 10, "error": 20, "warning": 10}
    boom = next(row for row in stored.rows if '"/boom"' in row[4])
    assert "\nCompleted 500 Internal Server Error" in boom[4] and "in `boom'" in boom[4]
    assert json.loads(boom[5]) == {"method": "GET", "path": "/boom", "client": "127.0.0.1"}
