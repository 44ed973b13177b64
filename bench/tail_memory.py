"""Where a following `logscope tail`'s memory goes: its RSS by mapping, its threads, what each
DuckDB instance in it holds, glibc's heap, and (with --tracemalloc) Python's largest allocators.

`logscope tail` follows one file growing at --rate lines/s in a real terminal (tmux, 180x45), as
bench/tui_follow.py runs it; after the first log lines and --warmup seconds it reads
/proc/PID/smaps (RSS per mapped file, anonymous mappings by size), /proc/PID/task/*/comm, and
then signals the process (SIGUSR1), in which a small wrapper around logscope's `main` writes:
each DuckDB instance's `duckdb_memory()`, `memory_limit` and `threads` (found through the
connections Python objects hold), glibc's `mallinfo2()`, the modules loaded, and tracemalloc's
top files when it was started with --tracemalloc (which costs memory and time of its own).

    .venv/bin/python bench/tail_memory.py --rate 200 --warmup 20
    .venv/bin/python bench/tail_memory.py --rate 200 --tracemalloc
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tui_follow import REPO, WRITER, Pane, compile_logscope, load_average, shows_log_lines, terminal_env

MAPPING = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$")

PROBE = r"""
import ctypes, gc, os, signal, sys, threading, tracemalloc
out = sys.argv.pop(1)

DATABASES = ("SELECT string_agg(database_name || ':' || coalesce(path, ''), ',')"
             " FROM duckdb_databases() WHERE NOT internal")
SETTINGS = ("SELECT current_setting('memory_limit'), current_setting('threads'),"
            " current_setting('allocator_flush_threshold'),"
            " current_setting('allocator_background_threads')")
MEMORY = ("SELECT tag, memory_usage_bytes, temporary_storage_bytes FROM duckdb_memory()"
          " WHERE memory_usage_bytes > 0 ORDER BY 2 DESC")

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

def connections():
    import duckdb
    found = {}
    for obj in gc.get_objects():
        if isinstance(obj, dict):
            values = list(obj.values())
        elif isinstance(obj, (list, tuple)):
            values = list(obj)
        else:
            try:
                values = list(object.__getattribute__(obj, "__dict__").values())
            except Exception:
                continue
        for value in values:
            if type(value) is duckdb.DuckDBPyConnection:
                found[id(value)] = value
    return list(found.values())

def arrow_held():
    # Arrow data Python objects hold: (owner type.attribute, MB), largest first.
    pa = sys.modules.get("pyarrow")
    if pa is None:
        return []
    kinds = (pa.Table, pa.RecordBatch, pa.ChunkedArray, pa.Array)
    held = collections.Counter()
    for obj in gc.get_objects():
        if isinstance(obj, dict):
            items, owner = obj.items(), "dict"
        else:
            try:
                items, owner = object.__getattribute__(obj, "__dict__").items(), type(obj).__qualname__
            except Exception:
                continue
        for key, value in list(items):
            if isinstance(value, kinds):
                held[f"{owner}.{key}"] += value.nbytes / (1 << 20)
    return held.most_common(12)

def jemalloc():
    # DuckDB's own jemalloc (symbols duckdb_je_*), which mallinfo2 does not see.
    from logscope.store import allocator
    if not allocator.available():
        return "duckdb jemalloc: not in this DuckDB"
    names = ("allocated", "active", "metadata", "resident", "mapped", "retained")
    values = {name: allocator.stat(name) for name in names}
    parts = [f"{name} {value / (1 << 20):.1f}" for name, value in values.items() if value is not None]
    return "duckdb jemalloc (MB): " + ", ".join(parts)

def dump():
    lines = []
    mb = 1 << 20
    try:
        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = MallInfo2
        info = libc.mallinfo2()
        lines.append(f"mallinfo2: arenas {info.arena / mb:.1f} MB, in use {info.uordblks / mb:.1f} MB,"
                     f" free in heaps {info.fordblks / mb:.1f} MB, mmapped blocks {info.hblks} ="
                     f" {info.hblkhd / mb:.1f} MB, releasable top {info.keepcost / mb:.1f} MB")
    except Exception as exc:
        lines.append(f"mallinfo2: {exc}")
    lines.append(jemalloc())
    if os.environ.get("RSS_RECLAIM"):  # what giving back freed memory now would return
        def rss():
            return {l.split(":")[0]: int(l.split()[1]) / 1024
                    for l in open("/proc/self/smaps_rollup").read().splitlines()[1:]}["Rss"]
        steps = [f"now {rss():.1f}"]
        from logscope.store import allocator
        allocator.purge()
        steps.append(f"duckdb jemalloc purged {rss():.1f}")
        ctypes.CDLL(None).malloc_trim(0)
        steps.append(f"malloc_trim {rss():.1f}")
        gc.collect()
        ctypes.CDLL(None).malloc_trim(0)
        steps.append(f"gc + malloc_trim {rss():.1f}")
        lines.append("reclaim, RSS MB: " + ", ".join(steps))
    lines.append(f"python: {sys.getallocatedblocks()} blocks allocated")
    seen = set()
    for con in connections():
        try:
            cur = con.cursor()
            dbs = cur.execute(DATABASES).fetchone()[0]
            settings = cur.execute(SETTINGS).fetchone()
            rows = cur.execute(MEMORY).fetchall()
            total = sum(r[1] for r in rows)
            key = (dbs, tuple(rows))
            if key in seen:
                cur.close(); continue
            seen.add(key)
            parts = ", ".join(f"{tag} {used / mb:.1f}" for tag, used, _ in rows)
            tables = cur.execute(
                "SELECT database_name || '.' || table_name || ':' || estimated_size"
                " FROM duckdb_tables() WHERE temporary OR database_name <> current_database()"
                " ORDER BY estimated_size DESC LIMIT 12"
            ).fetchall()
            lines.append(f"  temporary/attached tables: {', '.join(t[0] for t in tables)}")
            lines.append(f"duckdb {dbs}: memory_limit {settings[0]}, threads {settings[1]},"
                         f" flush threshold {settings[2]}, background threads {settings[3]};"
                         f" duckdb_memory {total / mb:.1f} MB ({parts})")
            cur.close()
        except Exception as exc:
            lines.append(f"duckdb connection: {type(exc).__name__}: {exc}")
    names = sorted(sys.modules)
    if os.environ.get("RSS_MODULES_OUT"):
        with open(os.environ["RSS_MODULES_OUT"], "w") as f:
            f.write("\n".join(names) + "\n")
    tops = collections.Counter(n.split(".")[0] for n in names)
    by_package = ", ".join(f"{k} {v}" for k, v in tops.most_common(15))
    lines.append(f"modules: {len(names)}; by package: {by_package}")
    lines.append("threads: " + ", ".join(sorted(t.name for t in threading.enumerate())))
    lines.append("arrow held: " + ", ".join(f"{where} {mb:.1f} MB" for where, mb in arrow_held()))
    try:
        pool = sys.modules["pyarrow"].default_memory_pool()
        lines.append(f"arrow pool {pool.backend_name}: {pool.bytes_allocated() / mb:.1f} MB allocated")
    except Exception as exc:
        lines.append(f"arrow pool: {exc}")
    for site, count in REGISTERED.most_common():
        lines.append(f"registered: {site} x{count}")
    if tracemalloc.is_tracing():
        snap = tracemalloc.take_snapshot()
        current, peak = tracemalloc.get_traced_memory()
        lines.append(f"tracemalloc: {current / mb:.1f} MB traced now, peak {peak / mb:.1f} MB")
        for stat in snap.statistics("filename")[:25]:
            lines.append(f"  {stat.size / mb:7.2f} MB {stat.count:8d} blocks  {stat.traceback[0].filename}")
        lines.append("by line:")
        for stat in snap.statistics("lineno")[:25]:
            frame = stat.traceback[0]
            where = f"{frame.filename}:{frame.lineno}"
            lines.append(f"  {stat.size / mb:7.2f} MB {stat.count:8d} blocks  {where}")
    with open(out + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(out + ".tmp", out)

import collections
# Knobs for trying a setting without changing logscope (empty: as logscope runs):
# RSS_ARENA_MAX=N: glibc's M_ARENA_MAX; RSS_DUCKDB_SQL: run on every DuckDB connection opened;
# RSS_TRIM_SECONDS: malloc_trim(0) every so many seconds; RSS_CHECKPOINT_SECONDS: run
# RSS_CHECKPOINT_SQL (CHECKPOINT) on the store every so many seconds (failures are printed);
# RSS_TRACE_REGISTER=1: count what each place registers with DuckDB;
# RSS_JE_PURGE_SECONDS: purge DuckDB's own jemalloc (arena.4096.purge) every so many seconds.
if os.environ.get("RSS_ARENA_MAX"):
    ctypes.CDLL(None).mallopt(-8, int(os.environ["RSS_ARENA_MAX"]))
if os.environ.get("RSS_DUCKDB_SQL"):
    import duckdb
    _connect = duckdb.connect
    def _connect_set(*args, **kwargs):
        con = _connect(*args, **kwargs)
        for statement in os.environ["RSS_DUCKDB_SQL"].split(";"):
            if statement.strip():
                try:
                    con.execute(statement)
                except duckdb.Error as exc:
                    print(exc, file=sys.stderr)
        return con
    duckdb.connect = _connect_set
if os.environ.get("RSS_TRIM_SECONDS"):
    import time
    def _trim():
        libc = ctypes.CDLL(None)
        while True:
            time.sleep(float(os.environ["RSS_TRIM_SECONDS"]))
            libc.malloc_trim(0)
    threading.Thread(target=_trim, daemon=True, name="trim").start()
if os.environ.get("RSS_CHECKPOINT_SECONDS"):  # CHECKPOINT the store every so many seconds
    import time
    def _checkpoint():
        while True:
            time.sleep(float(os.environ["RSS_CHECKPOINT_SECONDS"]))
            for con in connections():
                try:
                    cur = con.cursor()
                    if cur.execute(DATABASES).fetchone()[0].split(":", 1)[1]:
                        cur.execute(os.environ.get("RSS_CHECKPOINT_SQL", "CHECKPOINT"))
                        cur.close()
                        break
                    cur.close()
                except Exception as exc:
                    with open(out + ".errors", "a") as errors:
                        errors.write(f"checkpoint: {exc}\n")
    threading.Thread(target=_checkpoint, daemon=True, name="checkpoint").start()
if os.environ.get("RSS_JE_PURGE_SECONDS"):  # purge DuckDB's jemalloc every so many seconds
    import time
    def _purge():
        from logscope.store import allocator
        while True:
            time.sleep(float(os.environ["RSS_JE_PURGE_SECONDS"]))
            allocator.purge()
    threading.Thread(target=_purge, daemon=True, name="purge").start()
if os.environ.get("RSS_LEAN_ARROW"):  # pyarrow without numpy, DuckDB without pyarrow.dataset
    from logscope.lean_arrow import import_lean
    import_lean()
if os.environ.get("RSS_WHO_IMPORTS"):  # write the stack that first imports this module
    import traceback
    class _Who:
        def find_spec(self, name, path=None, target=None):
            if name == os.environ["RSS_WHO_IMPORTS"]:
                with open(out + ".who", "a") as f:
                    f.write(f"--- {threading.current_thread().name}\n" + "".join(traceback.format_stack()))
                sys.meta_path.remove(self)
            return None
    sys.meta_path.insert(0, _Who())
REGISTERED = collections.Counter()
if os.environ.get("RSS_TRACE_REGISTER"):  # which code registers what with DuckDB
    import duckdb
    _register = duckdb.DuckDBPyConnection.register
    def _register_traced(self, name, obj):
        caller = sys._getframe(1)
        where = caller.f_code.co_filename.rsplit("/logscope/", 1)[-1]
        REGISTERED[f"{where}:{caller.f_lineno} {type(obj).__name__}"] += 1
        return _register(self, name, obj)
    duckdb.DuckDBPyConnection.register = _register_traced
signal.signal(signal.SIGUSR1, lambda *_: threading.Thread(target=dump, daemon=True).start())
from logscope.cli import main
sys.argv[0] = "logscope"
raise SystemExit(main())
"""


def nginx_line(n: int) -> str:
    status = (200, 200, 200, 304, 404, 200, 500, 200)[n % 8]
    return (
        f"203.0.113.{n % 250} - - [07/Dec/2026:10:{n // 6000 % 60:02d}:{n // 100 % 60:02d} +0000]"
        f' "GET /api/items/{n % 97} HTTP/1.1" {status} {100 + n % 9000} "-" "bench/1.0"\n'
    )


def mappings(pid: int) -> tuple[dict[str, float], list[tuple[float, str]], dict[str, float]]:
    """RSS in MB by mapped file, the anonymous mappings (RSS, size), and smaps_rollup's figures."""
    files: dict[str, float] = collections.defaultdict(float)
    anon: list[tuple[float, str]] = []
    current = ("", 0)
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        match = MAPPING.match(line)
        if match:
            start, end, name = match.groups()
            current = (name.strip(), int(end, 16) - int(start, 16))
        elif line.startswith("Rss:"):
            rss = int(line.split()[1]) / 1024
            name, size = current
            if name.startswith("/"):
                files[name] += rss
            elif rss > 0:
                anon.append((rss, f"{name or 'anon'} size {size / (1 << 20):.1f} MB"))
    rollup = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        rollup[key] = int(value.split()[0]) / 1024
    return files, sorted(anon, reverse=True), rollup


def threads(pid: int) -> collections.Counter:
    names = collections.Counter()
    for task in Path(f"/proc/{pid}/task").iterdir():
        names[(task / "comm").read_text().strip()] += 1
    return names


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--prefill", type=int, default=0, help="lines the file holds before tail starts")
    parser.add_argument("--tail-args", default="", help="more arguments for `logscope tail`")
    args = parser.parse_args()
    compile_logscope()
    with tempfile.TemporaryDirectory(prefix="tail-memory-") as tmp:
        work = Path(tmp)
        env = terminal_env(work)
        env.update({k: v for k, v in os.environ.items() if k.startswith("RSS_")})
        log, dump, db = work / "growing.log", work / "dump.txt", work / "follow.duckdb"
        log.write_text("".join(nginx_line(n) for n in range(args.prefill)))
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(log), str(args.rate), "3600"])
        trace = "-X tracemalloc=1 " if args.tracemalloc else ""
        command = (
            f"{shlex.quote(sys.executable)} {trace}-c {shlex.quote(PROBE)} {shlex.quote(str(dump))}"
            f" tail {shlex.quote(str(log))} --db {shlex.quote(str(db))} {args.tail_args}"
        )
        pane = Pane(f"sh -c {shlex.quote('cd ' + shlex.quote(str(REPO)) + ' && exec ' + command)}", env)
        try:
            pane.wait(shows_log_lines, timeout=120)
            time.sleep(args.warmup)
            load = load_average()
            files, anon, rollup = mappings(pane.pid)
            tasks = threads(pane.pid)
            subprocess.run(["kill", "-USR1", str(pane.pid)], check=True)
            deadline = time.monotonic() + 30
            while not dump.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            inside = dump.read_text() if dump.exists() else "(no dump)\n"
            errors = Path(f"{dump}.errors")
            inside += errors.read_text()[-2000:] if errors.exists() else ""
            who = Path(f"{dump}.who")
            inside += who.read_text() if who.exists() else ""
        finally:
            writer.kill()
            writer.wait()
            pane.close()
    print(
        f"following {args.rate:,} lines/s ({args.prefill:,} lines before), {args.warmup:.0f} s after"
        f" the first lines (load {load})"
    )
    print("smaps_rollup (MB): " + ", ".join(f"{k} {v:.1f}" for k, v in rollup.items() if v >= 0.5))
    print(f"file-backed RSS {sum(files.values()):.1f} MB, anonymous RSS {sum(r for r, _ in anon):.1f} MB")
    for name, rss in sorted(files.items(), key=lambda item: -item[1])[:15]:
        print(f"  {rss:6.1f} MB  {name}")
    print(f"anonymous mappings: {len(anon)}; the largest:")
    for rss, what in anon[:15]:
        print(f"  {rss:6.1f} MB  {what}")
    print(f"threads: {sum(tasks.values())}: " + ", ".join(f"{n} x{c}" for n, c in tasks.most_common()))
    print(inside, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
