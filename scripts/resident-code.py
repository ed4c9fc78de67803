#!/usr/bin/env python3
"""What of a running service's binary is resident, and whose code it is.

    scripts/resident-code.py <pid> [crates to list, default 25]

Reads which of the binary's pages are mapped in (/proc/<pid>/pagemap: the present bit, which
a process's own user may read), prints the resident size of each of the binary's mappings,
then attributes the resident code pages to the symbols they hold (`nm`; the release binaries
keep their symbols) and sums them by crate (the first path segment of the demangled name, so
generic code is counted under the crate that defines it: `core`, `alloc`). Needs readelf and
nm (binutils). docs/performance.md says what it found."""
import collections, re, subprocess, sys

pid = int(sys.argv[1])
top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
exe = subprocess.check_output(["readlink", f"/proc/{pid}/exe"], text=True).strip()
PAGE = 4096

# LOAD segments: (offset, vaddr, filesz)
segs = []
for line in subprocess.check_output(["readelf", "-lW", exe], text=True).splitlines():
    parts = line.split()
    if parts and parts[0] == "LOAD":
        segs.append((int(parts[1], 16), int(parts[2], 16), int(parts[4], 16), parts[6:-1]))

maps = []
for line in open(f"/proc/{pid}/maps"):
    parts = line.split()
    if len(parts) >= 6 and parts[5] == exe:
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        maps.append((lo, hi, parts[1], int(parts[2], 16)))

resident_vaddr = set()
by_perm = collections.Counter()
with open(f"/proc/{pid}/pagemap", "rb") as pm:
    for lo, hi, perm, off in maps:
        pm.seek(lo // PAGE * 8)
        data = pm.read((hi - lo) // PAGE * 8)
        for i in range((hi - lo) // PAGE):
            entry = int.from_bytes(data[i * 8:i * 8 + 8], "little")
            if entry >> 63 & 1:
                by_perm[perm] += PAGE
                if "x" in perm:
                    file_off = off + i * PAGE
                    for soff, svaddr, fsz, _ in segs:
                        if soff <= file_off < soff + fsz:
                            resident_vaddr.add(svaddr + file_off - soff)
for perm, size in sorted(by_perm.items()):
    print(f"binary mapping {perm}: {size / 2**20:.1f} MiB resident")

syms = []
for line in subprocess.check_output(["nm", "-S", "--defined-only", "-C", exe], text=True, errors="replace").splitlines():
    parts = line.split(None, 3)
    if len(parts) == 4 and parts[2] in "tTwW":
        syms.append((int(parts[0], 16), int(parts[1], 16), parts[3]))

def crate_of(name):
    name = re.sub(r"^<", "", name)
    name = re.sub(r"^(impl |dyn )", "", name)
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)", name)
    return m.group(1) if m else "?"

resident = collections.Counter()
total = collections.Counter()
for addr, size, name in syms:
    c = crate_of(name)
    total[c] += size
    first, last = addr // PAGE, (addr + size - 1) // PAGE
    for p in range(first, last + 1):
        if p * PAGE in resident_vaddr:
            lo, hi = max(addr, p * PAGE), min(addr + size, (p + 1) * PAGE)
            resident[c] += hi - lo
all_text = sum(total.values())
print(f"symbols: {all_text / 2**20:.1f} MiB of code, {sum(resident.values()) / 2**20:.1f} MiB of it on resident pages")
for c, size in resident.most_common(top):
    print(f"{size / 2**20:7.2f} MiB resident of {total[c] / 2**20:6.2f} MiB  {c}")
