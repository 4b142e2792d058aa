#!/usr/bin/env python3
"""Writes a Keycloak log with the introspections of a resource server that
asks Keycloak about each token it is shown: after every `CODE_TO_TOKEN` and
`REFRESH_TOKEN` line, `COUNT` `INTROSPECT_TOKEN` lines at the same time (the
log's first introspection line, restamped). The introspection-heavy logs of
benches/README.md.

    python3 benches/kc_introspections.py /work/kc.log OUT.log 3
"""
import sys

STAMP = len("2025-03-11 00:00:20,178")
TOKENS = ('type="CODE_TO_TOKEN"', 'type="REFRESH_TOKEN"')


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit("usage: kc_introspections.py LOG OUT COUNT")
    source, target, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(source, encoding="utf-8") as src:
        template = next((l for l in src if 'type="INTROSPECT_TOKEN"' in l), None)
    if template is None:
        sys.exit(f"{source}: no INTROSPECT_TOKEN line to copy")
    body = template.rstrip("\n")[STAMP:]
    with open(source, encoding="utf-8") as src, open(target, "w", encoding="utf-8") as out:
        for line in src:
            out.write(line)
            if any(t in line for t in TOKENS):
                out.write((line[:STAMP] + body + "\n") * count)


if __name__ == "__main__":
    main()
