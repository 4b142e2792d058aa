#!/usr/bin/env python3
"""Writes a Keycloak log's text records as Keycloak's JSON console lines
(Quarkus `quarkus.log.console.json`, the field order Keycloak 26 writes),
up to a size: the JSON Keycloak gigabyte of benches/README.md.

    python3 benches/kc_to_json.py /work/kc.log /work/kc-json.log 1073741824

Lines that are no record's first line (stack traces) are left out, as a
JSON console writes a trace inside its record.
"""
import json
import re
import sys

RECORD = re.compile(
    r"^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d),(\d{3}) (\w+)\s+\[([^\]]+)\] \(([^)]*)\) (.*)$"
)


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit("usage: kc_to_json.py TEXT_LOG JSON_LOG MAX_BYTES")
    source, target, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    written = records = 0
    with open(source, encoding="utf-8") as src, open(target, "w", encoding="utf-8") as out:
        for line in src:
            m = RECORD.match(line.rstrip("\n"))
            if not m:
                continue
            day, time, ms, level, logger, thread, message = m.groups()
            record = {
                "timestamp": f"{day}T{time}.{ms}000000Z",
                "sequence": records,
                "loggerClassName": "org.jboss.logging.Logger",
                "loggerName": logger,
                "level": level,
                "message": message,
                "threadName": thread,
                "threadId": 1,
                "mdc": {},
                "ndc": "",
                "hostName": "keycloak-0",
                "processName": "QuarkusEntryPoint",
                "processId": 1,
            }
            text = json.dumps(record, separators=(",", ":")) + "\n"
            out.write(text)
            written += len(text)
            records += 1
            if written >= limit:
                break


if __name__ == "__main__":
    main()
