#!/usr/bin/env python3
"""Wraps each line of stdin the way docker's json-file driver writes it.

Go's escaping (`<`, `>`, `&` as `\\u003c`, `\\u003e`, `\\u0026`), one
record per line, the time's fraction numbered by line. With `--split N`
(docker splits at 16384), a line longer than N characters is written as
pieces of N characters, each but the last without its `\\n`, as the
daemon does for lines over 16 KiB.

    python3 benches/docker-wrap.py < bare.log > docker.log
    python3 benches/docker-wrap.py --split 16384 < long.log > docker-split.log
"""
import json
import sys


def record(text, n):
    log = json.dumps(text, ensure_ascii=False)
    log = log.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return '{"log":%s,"stream":"stdout","time":"2025-03-11T08:00:00.%09dZ"}\n' % (log, n)


def main():
    split = 0
    if len(sys.argv) == 3 and sys.argv[1] == "--split":
        split = int(sys.argv[2])
    out = sys.stdout
    n = 0
    for line in sys.stdin:
        text = line.rstrip("\n")
        pieces = [text]
        if split and len(text) > split:
            pieces = [text[i:i + split] for i in range(0, len(text), split)]
        for i, piece in enumerate(pieces):
            n += 1
            last = i == len(pieces) - 1
            out.write(record(piece + "\n" if last else piece, n))


if __name__ == "__main__":
    main()
