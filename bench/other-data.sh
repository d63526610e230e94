#!/usr/bin/env bash
# Assembles benchmark data beyond the Silesia corpus, one directory per kind of file, from what
# a Debian/Ubuntu machine with a Rust toolchain and a built workspace already holds (plus a few
# generated files), so `iaa bench --corpus OUT/KIND` measures each kind on its own:
#
#   text/        man pages (groff source, un-gzipped), documentation text and HTML from
#                /usr/share/doc, the Rust toolchain's own text files
#   binaries/    ELF executables from /usr/bin, a slice of the Rust toolchain's shared libraries
#   logs/        /var/log text logs, and a generated web-server access log and application log
#   db/          an SQLite database (4 KiB pages) of generated orders/customers tables, and the
#                same rows as CSV
#   compressed/  already-compressed files: .gz, .xz, .png, .jpg under /usr/share
#   build/       this workspace's build outputs (target/release: .rlib, .rmeta, the `iaa` binary)
#
# Every kind is capped at CAP bytes (default 8 MiB; a file is cut where the cap falls). The
# file list depends on the machine; the generated files are deterministic. Usage:
#
#   bench/other-data.sh OUT [CAP]
#   for k in text binaries logs db compressed build; do
#     cargo run --release -p iaa-cli -- bench --corpus OUT/$k; done
set -euo pipefail

out=${1:?usage: other-data.sh OUT [CAP]}
cap=${2:-$((8 << 20))}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"/{text,binaries,logs,db,compressed,build}

# take KIND NAME: appends stdin to OUT/KIND/NAME while KIND holds fewer than CAP bytes.
take() {
  local dir="$out/$1" have
  have=$(du -sb "$dir" | cut -f1)
  if [ "$have" -ge "$cap" ]; then cat >/dev/null; return; fi
  head -c $((cap - have)) >>"$dir/$2"
}
# files KIND NAME FILE...: concatenates the files into one (each kind stays a few files, so
# units cross few file boundaries and `iaa bench` lists them readably).
files() {
  local kind=$1 name=$2; shift 2
  for f in "$@"; do [ -f "$f" ] && [ -r "$f" ] && cat "$f"; done 2>/dev/null | take "$kind" "$name" || true
}

rm -f "$out"/*/*

# text
find /usr/share/man -name '*.gz' 2>/dev/null | sort | head -3000 | xargs -r zcat 2>/dev/null \
  | head -c $((cap / 3)) | take text man-pages.groff || true
mapfile -t docs < <(find /usr/share/doc \( -name '*.txt' -o -name '*.html' -o -name 'copyright' \) -type f 2>/dev/null | sort)
files text usr-share-doc.txt "${docs[@]}"
if rustc_root=$(rustc --print sysroot 2>/dev/null); then
  mapfile -t rtext < <(find "$rustc_root" \( -name '*.md' -o -name '*.txt' -o -name '*.toml' -o -name '*.rs' \) -type f 2>/dev/null | sort)
  files text rust-toolchain-text "${rtext[@]}"
fi

# binaries
mapfile -t bins < <(find /usr/bin -maxdepth 1 -type f -size +20k 2>/dev/null | sort | head -200)
elf=()
for b in "${bins[@]}"; do
  if [ "$(head -c 4 "$b" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = "7f454c46" ]; then elf+=("$b"); fi
done
cap_half=$((cap / 2))
for b in "${elf[@]}"; do cat "$b"; done 2>/dev/null | head -c "$cap_half" | take binaries usr-bin-elf || true
if [ -n "${rustc_root:-}" ]; then
  mapfile -t sos < <(find "$rustc_root/lib" -maxdepth 1 -name '*.so' -type f 2>/dev/null | sort)
  files binaries rust-toolchain-so "${sos[@]}"
fi

# logs
mapfile -t vlogs < <(find /var/log -type f \( -name '*.log' -o -name 'history.log' \) 2>/dev/null | sort)
files logs var-log "${vlogs[@]}"
python3 - "$out/logs" "$cap" <<'PY'
import random, sys, datetime
out, cap = sys.argv[1], int(sys.argv[2])
r = random.Random(15)
paths = ["/", "/index.html", "/api/v1/items", "/api/v1/items/%d", "/static/app.js", "/login",
         "/search?q=%s", "/img/%d.png", "/api/v1/orders/%d", "/health"]
words = ["alpha", "disk", "page", "cache", "north", "table", "index", "merge", "flush"]
agents = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "curl/8.5.0",
          "Mozilla/5.0 (Macintosh) Safari/605.1.15", "python-requests/2.31"]
t = datetime.datetime(2026, 11, 1)
with open(out + "/access.log", "w") as f:
    n = 0
    while n < cap // 4:
        t += datetime.timedelta(milliseconds=r.randint(1, 900))
        p = r.choice(paths)
        if "%d" in p: p = p % r.randint(1, 99999)
        if "%s" in p: p = p % r.choice(words)
        line = '10.%d.%d.%d - - [%s] "GET %s HTTP/1.1" %d %d "-" "%s"\n' % (
            r.randint(0, 3), r.randint(0, 255), r.randint(1, 254),
            t.strftime("%d/%b/%Y:%H:%M:%S +0000"), p, r.choice([200] * 9 + [304, 404, 500]),
            r.randint(120, 90000), r.choice(agents))
        f.write(line); n += len(line)
levels = ["INFO"] * 8 + ["WARN", "DEBUG", "ERROR"]
mods = ["compactor", "wal", "memtable", "sst_reader", "rpc", "raft"]
with open(out + "/app.log", "w") as f:
    n = 0
    while n < cap // 4:
        t += datetime.timedelta(microseconds=r.randint(10, 200000))
        m = r.choice(mods)
        line = "%s %-5s [%s] req=%08x shard=%d took %d us, %d bytes, key=%s%d\n" % (
            t.isoformat(), r.choice(levels), m, r.getrandbits(32), r.randint(0, 63),
            r.randint(3, 40000), r.randint(0, 1 << 20), r.choice(words), r.randint(0, 9999))
        f.write(line); n += len(line)
PY

# db
python3 - "$out/db" "$cap" <<'PY'
import random, sqlite3, sys, os, csv
out, cap = sys.argv[1], int(sys.argv[2])
r = random.Random(12)
path = out + "/orders.sqlite"
if os.path.exists(path): os.remove(path)
db = sqlite3.connect(path)
db.execute("PRAGMA page_size = 4096")
db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, city TEXT, created TEXT)")
db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER, sku TEXT, qty INTEGER, "
           "price REAL, status TEXT, placed TEXT)")
db.execute("CREATE INDEX orders_customer ON orders(customer)")
first = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun"]
last = ["Smith", "Garcia", "Kim", "Novak", "Okafor", "Rossi", "Sato", "Weber"]
cities = ["Lisbon", "Osaka", "Austin", "Lagos", "Krakow", "Lyon", "Pune", "Quito"]
status = ["placed", "paid", "shipped", "delivered", "returned"]
db.executemany("INSERT INTO customers VALUES (?,?,?,?)",
               [(i, r.choice(first) + " " + r.choice(last), r.choice(cities),
                 "2025-%02d-%02d" % (r.randint(1, 12), r.randint(1, 28))) for i in range(20000)])
rows = []
i = 0
while os.path.getsize(path) < cap * 2 // 3 and i < 2_000_000:
    rows = [(i + k, r.randint(0, 19999), "SKU-%05d" % r.randint(0, 3000), r.randint(1, 9),
             round(r.uniform(1, 500), 2), r.choice(status),
             "2026-%02d-%02d %02d:%02d" % (r.randint(1, 12), r.randint(1, 28), r.randint(0, 23),
                                           r.randint(0, 59))) for k in range(20000)]
    db.executemany("INSERT INTO orders VALUES (?,?,?,?,?,?,?)", rows)
    db.commit()
    i += 20000
with open(out + "/orders.csv", "w", newline="") as f:
    w = csv.writer(f)
    n = 0
    for row in db.execute("SELECT * FROM orders"):
        w.writerow(row)
        n += 60
        if n > cap // 3: break
db.close()
PY
truncate -s "<$cap" "$out/db/orders.sqlite" 2>/dev/null || true

# compressed (no .zip: `iaa bench` would unzip it)
mapfile -t comp < <(find /usr/share \( -name '*.gz' -o -name '*.xz' -o -name '*.png' -o -name '*.jpg' \) -type f -size +2k 2>/dev/null | sort)
files compressed usr-share-compressed "${comp[@]}"

# build outputs of this workspace (build it first: cargo build --release)
mapfile -t built < <(find "$root/target/release" -maxdepth 2 \( -name '*.rlib' -o -name '*.rmeta' -o -name 'iaa' \) -type f 2>/dev/null | sort)
files build target-release "${built[@]}"

du -sb "$out"/* | sed "s|$out/||"
